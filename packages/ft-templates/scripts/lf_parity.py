"""Compare ft-templates' encodings with LLaMA-Factory's, template by template, on the doctor corpus.

Three steps (LLaMA-Factory lives in its own environment, e.g. /tmp/peers/lf):

    uv run python packages/ft-templates/scripts/lf_parity.py corpus /tmp/corpus.json
    /tmp/peers/lf/bin/python packages/ft-templates/scripts/lf_parity.py lf /tmp/corpus.json /tmp/lf.json TOKENIZER_DIR
    uv run python packages/ft-templates/scripts/lf_parity.py compare /tmp/corpus.json /tmp/lf.json TOKENIZER_DIR

``compare`` prints one line per template (equal / which cases differ and where) and a JSON summary
line. Differences that are deliberate are listed in docs/ft-templates.md. ``fixture CORPUS LF OUT
NAME...`` keeps the reference ids of some templates as a test asset (tests/assets/lf095_reference.json).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

REASONING = ("qwen3", "deepseekr1", "glmz1", "gpt_oss", "mimo")


def dump_corpus(out: str) -> None:
    from ft_templates import CORPUS, TEMPLATES, get_template

    get_template("empty")
    cases = [{"name": c.name, "messages": list(c.messages), "system": c.system, "tools": c.tools}
             for c in CORPUS if len(c.messages) % 2 == 0]
    Path(out).write_text(json.dumps({"templates": sorted(TEMPLATES), "cases": cases}, ensure_ascii=False))


def run_lf(corpus: str, out: str, tokenizer_dir: str) -> None:
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.data.template import TEMPLATES as LF_TEMPLATES
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    data = json.loads(Path(corpus).read_text())
    base = AutoTokenizer.from_pretrained(tokenizer_dir)
    result = {}
    for name in data["templates"]:
        if name not in LF_TEMPLATES:
            continue
        tok = copy.deepcopy(base)
        try:
            template = get_template_and_fix_tokenizer(tok, DataArguments(template=name))
        except Exception as exc:
            result[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        rows = {}
        for case in data["cases"]:
            try:
                pairs = template.encode_multiturn(tok, case["messages"], case["system"], case["tools"])
                rows[case["name"]] = [[list(s), list(t)] for s, t in pairs]
            except Exception as exc:
                rows[case["name"]] = f"{type(exc).__name__}: {exc}"
        result[name] = {"eos": tok.eos_token, "pairs": rows}
    # the reasoning policy: enable_thinking True / False / None, one-turn and multi-turn
    reasoning = {}
    for name, (policy, flag) in ((n, p) for n in REASONING for p in (("on", True), ("off", False), ("mixed", None))):
        tok = copy.deepcopy(base)
        template = get_template_and_fix_tokenizer(tok, DataArguments(template=name, enable_thinking=flag))
        reasoning[f"{name}|{policy}"] = {case["name"]: _both(template, tok, case) for case in data["cases"]}
    result["__reasoning__"] = reasoning
    Path(out).write_text(json.dumps(result))


def _both(template, tok, case: dict) -> dict | str:
    """multi-turn and one-turn ids of a case, or the error text (works for both libraries)."""
    args = (tok, case["messages"], case["system"], case["tools"])
    try:
        return {"multi": [[list(s), list(t)] for s, t in template.encode_multiturn(*args)],
                "one": [list(v) for v in template.encode_oneturn(*args)]}
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def compare(corpus: str, lf_out: str, tokenizer_dir: str) -> None:
    from transformers import AutoTokenizer

    from ft_templates import fix_tokenizer, get_template

    data, lf = json.loads(Path(corpus).read_text()), json.loads(Path(lf_out).read_text())
    base = AutoTokenizer.from_pretrained(tokenizer_dir)
    equal, differ = [], {}
    for name, ref in sorted(lf.items()):
        if name == "__reasoning__":
            continue
        if "error" in ref:
            differ[name] = ref["error"]
            continue
        tok = copy.deepcopy(base)
        template = get_template(name)
        fix_tokenizer(template, tok, set_chat_template=False)
        bad = []
        for case in data["cases"]:
            theirs = ref["pairs"][case["name"]]
            try:
                ours = [[list(s), list(t)] for s, t in
                        template.encode_multiturn(tok, case["messages"], case["system"], case["tools"])]
            except ValueError as exc:
                ours = f"error: {exc}"
            both_reject = isinstance(ours, str) and isinstance(theirs, str)
            if ours != theirs and not both_reject:
                where = ""
                if isinstance(ours, list) and isinstance(theirs, list):
                    a = [i for s, t in ours for i in s + t]
                    b = [i for s, t in theirs for i in s + t]
                    n = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
                    where = f" ours {tok.decode(a[n:n + 12])!r} vs LF {tok.decode(b[n:n + 12])!r}"
                    if a == b:
                        where = " (same ids, different source/target split)"
                bad.append(f"{case['name']}{where}")
        (differ.__setitem__(name, bad) if bad else equal.append(name))
        print(f"{name:<16} {'equal' if not bad else 'DIFF ' + '; '.join(bad)}")
    for key, rows in sorted(lf.get("__reasoning__", {}).items()):
        name, policy = key.split("|")
        template = get_template(name).with_options(thinking=policy)
        tok = copy.deepcopy(base)
        fix_tokenizer(template, tok, set_chat_template=False)
        results = {case["name"]: _both(template, tok, case) for case in data["cases"]}
        bad = [n for n, ours in results.items()
               if ours != rows[n] and not (isinstance(ours, str) and isinstance(rows[n], str))]
        (differ.__setitem__(key, bad) if bad else equal.append(key))
        print(f"{key:<16} {'equal' if not bad else 'DIFF ' + '; '.join(bad)}")
    print(json.dumps({"compared": len(equal) + len(differ), "equal": len(equal), "differ": sorted(differ)}))


def fixture(corpus: str, lf_out: str, out: str, *names: str) -> None:
    """Write the LLaMA-Factory reference ids of ``names`` as the test asset used by test_lf_parity.py."""
    data, lf = json.loads(Path(corpus).read_text()), json.loads(Path(lf_out).read_text())
    keep = {n: lf[n] for n in names}
    Path(out).write_text(json.dumps({"llamafactory": "0.9.5", "tokenizer": "SmolLM2-135M-Instruct",
                                     "cases": data["cases"], "templates": keep,
                                     "reasoning": {k: v for k, v in lf.get("__reasoning__", {}).items()
                                                   if k.startswith("qwen3|")}}, ensure_ascii=False,
                                    separators=(",", ":")))


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    {"corpus": dump_corpus, "lf": run_lf, "compare": compare, "fixture": fixture}[mode](*rest)
