"""Parity of ft-data with LLaMA-Factory 0.9.5: input_ids and labels of the same rows, same tokenizer.

Writes a small corpus (alpaca and sharegpt rows: system prompts, history, multi-turn, tool calls,
non-ASCII text, long answers), runs LLaMA-Factory on it in its own venv (``lf_dump.py``) and
ft-data here, for the templates llama3, qwen, chatml and mistral and the options plain,
train_on_prompt, mask_history and a small cutoff_len (truncation); plus alpaca DPO (ranking) and
KTO rows (plain and truncated). Prints one line per case and a
JSON summary; exits 1 when a case differs.

Usage (from the repository root):
    uv run python tools/lf_parity/compare.py [--peers /tmp/peers] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATES = ("llama3", "qwen", "chatml", "mistral")
OPTIONS = {"plain": {}, "train_on_prompt": {"train_on_prompt": True}, "mask_history": {"mask_history": True},
           "cutoff_48": {"cutoff_len": 48}}
TOOLS = json.dumps([{"name": "get_weather", "description": "Weather of a city",
                     "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                    "required": ["city"]}}])
LONG = " ".join(f"Step {i}: add {i} to the running total." for i in range(40))


def alpaca_rows() -> list[dict]:
    return [
        {"instruction": "What is 2 + 3?", "input": "", "output": "5"},
        {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
        {"instruction": "Name a prime.", "input": "", "output": "7", "system": "Answer with one number."},
        {"instruction": "And times 4?", "input": "", "output": "20",
         "history": [["What is 2 + 3?", "5"], ["Double it.", "10"]]},
        {"instruction": "Count to forty, explaining each step.", "input": "", "output": LONG},
        {"instruction": "Größe – ça va? 你好", "input": "", "output": "Très bien, merci. 谢谢"},
    ]


def sharegpt_rows() -> list[dict]:
    def conv(*pairs: str) -> list[dict]:
        return [{"from": "human" if i % 2 == 0 else "gpt", "value": v} for i, v in enumerate(pairs)]

    return [
        {"conversations": conv("Hi there", "Hello! How can I help?")},
        {"conversations": conv("2+2?", "4", "Times 3?", "12", "Minus 1?", "11")},
        {"conversations": [{"from": "system", "value": "You are terse."}, *conv("Capital of Italy?", "Rome")]},
        {"conversations": [
            {"from": "human", "value": "Weather in Paris?"},
            {"from": "function_call", "value": json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}})},
            {"from": "observation", "value": json.dumps({"temp_c": 18})},
            {"from": "gpt", "value": "It is 18 °C in Paris."}], "tools": TOOLS},
        {"conversations": conv("Explain the sum.", LONG, "Shorter please.", "Add the numbers 0 to 39: 780.")},
        {"conversations": conv("Größe – ça va? 你好", "Très bien. 谢谢")},
    ]


def preference_rows() -> tuple[list[dict], list[dict]]:
    dpo = [{"instruction": "What is 2 + 3?", "input": "", "chosen": "5", "rejected": "6"},
           {"instruction": "Summarize.", "input": LONG, "chosen": "A running total.", "rejected": LONG},
           {"instruction": "Größe?", "input": "", "chosen": "Très bien", "rejected": "Non", "system": "Be kind."}]
    kto = [{"instruction": f"What is {i} + {i}?", "input": "", "output": str(2 * i + (i % 2)), "kto_tag": i % 2 == 0}
           for i in range(5)]
    return dpo, kto


def write_corpus(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "alpaca.json").write_text(json.dumps(alpaca_rows(), ensure_ascii=False))
    (root / "sharegpt.json").write_text(json.dumps(sharegpt_rows(), ensure_ascii=False))
    dpo, kto = preference_rows()
    (root / "dpo.json").write_text(json.dumps(dpo, ensure_ascii=False))
    (root / "kto.json").write_text(json.dumps(kto, ensure_ascii=False))
    info = {
        "par_alpaca": {"file_name": "alpaca.json", "columns": {"prompt": "instruction", "query": "input",
                                                               "response": "output", "system": "system",
                                                               "history": "history"}},
        "par_sharegpt": {"file_name": "sharegpt.json", "formatting": "sharegpt",
                         "columns": {"messages": "conversations", "tools": "tools"}},
        "par_dpo": {"file_name": "dpo.json", "ranking": True,
                    "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen",
                                "rejected": "rejected", "system": "system"}},
        "par_kto": {"file_name": "kto.json", "columns": {"prompt": "instruction", "query": "input",
                                                         "response": "output", "kto_tag": "kto_tag"}},
    }
    (root / "dataset_info.json").write_text(json.dumps(info, indent=1))


def cases() -> list[dict]:
    out = []
    for dataset in ("par_alpaca", "par_sharegpt"):
        for template in TEMPLATES:
            for opt_name, opts in OPTIONS.items():
                out.append({"name": f"{dataset}/{template}/{opt_name}", "dataset": dataset, "template": template,
                            "stage": "sft", "options": opts})
    for dataset, stage in (("par_dpo", "dpo"), ("par_kto", "kto")):
        for template in TEMPLATES:
            for opt_name in ("plain", "cutoff_48"):
                out.append({"name": f"{dataset}/{template}/{opt_name}", "dataset": dataset, "template": template,
                            "stage": stage, "options": OPTIONS[opt_name]})
    return out


def ft_run(case: dict, model: str, data_dir: str, cache: str) -> dict:
    from transformers import AutoTokenizer

    from ft_data import DataArgs, get_dataset
    from ft_templates import prepare_template

    tokenizer = AutoTokenizer.from_pretrained(model)
    template = prepare_template(case["template"], tokenizer)
    args = DataArgs(dataset=case["dataset"], dataset_dir=data_dir, template=case["template"], overwrite_cache=True,
                    cache_dir=cache, **case["options"])
    ds = get_dataset(args, stage=case["stage"], template=template, tokenizer=tokenizer).train_dataset
    cols = [c for c in ds.column_names if c.endswith("input_ids") or c.endswith("labels")]
    return {**{c: list(ds[c]) for c in cols}, "_tok": tokenizer}


def first_difference(ours: dict, theirs: dict, tokenizer) -> str | None:
    for col in theirs:
        if col not in ours:
            return f"column {col} missing"
        if len(ours[col]) != len(theirs[col]):
            return f"{col}: {len(ours[col])} rows vs LLaMA-Factory {len(theirs[col])}"
        for row, (a, b) in enumerate(zip(ours[col], theirs[col])):
            if list(a) != list(b):
                k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
                def show(ids: list[int], k: int = k) -> str:
                    return tokenizer.decode([t for t in ids[max(k - 5, 0): k + 8] if t >= 0])

                return (f"{col} row {row} token {k} (len {len(a)} vs {len(b)}): ft {a[k:k + 6]} {show(a)!r} | "
                        f"LF {b[k:k + 6]} {show(b)!r}")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", default="/tmp/peers")
    parser.add_argument("--keep", help="folder to keep the corpus and LLaMA-Factory's dump in")
    args = parser.parse_args()
    peers = Path(args.peers)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lf-parity-"))
    data_dir, model = work / "data", str(peers / "smollm2")
    write_corpus(data_dir)
    spec = {"model": model, "dataset_dir": str(data_dir), "cases": cases()}
    (work / "cases.json").write_text(json.dumps(spec, indent=1))
    env = {**os.environ, "PYTHONPATH": str(peers / "stubs"), "HF_HUB_OFFLINE": "1"}
    with open(work / "lf_log.txt", "w") as log:
        subprocess.run([str(peers / "lf" / "bin" / "python"), str(Path(__file__).with_name("lf_dump.py")),
                        str(work / "cases.json"), str(work / "lf.json")], env=env, check=True, stdout=log,
                       stderr=subprocess.STDOUT)
    lf = json.loads((work / "lf.json").read_text())
    results = {}
    for case in spec["cases"]:
        ours = ft_run(case, model, str(data_dir), str(work / "ftcache"))
        diff = first_difference(ours, lf[case["name"]], ours["_tok"])
        results[case["name"]] = diff or "equal"
        print(f"{'OK  ' if diff is None else 'DIFF'} {case['name']}" + (f": {diff}" if diff else ""), flush=True)
    equal = sum(v == "equal" for v in results.values())
    print(json.dumps({"lf_parity": f"{equal}/{len(results)} cases equal", "templates": TEMPLATES,
                      "sft_options": list(OPTIONS), "stages": ["sft", "dpo", "kto"]}))
    return 0 if equal == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
