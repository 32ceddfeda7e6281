"""Command line of ft-templates: ``ft-templates <verb> ...`` and ``ft templates <verb> ...``.

Verbs: ``list``, ``show NAME``, ``render NAME conversation.json [--tokenizer PATH]`` and
``check NAME --tokenizer PATH`` (the template doctor).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ft_core import Arg, BadInputError, Command, Group

from . import __version__
from .check import compare, first_difference, rank_templates
from .messages import from_openai
from .registry import TEMPLATES, get_template
from .template import Template

TRAINED_OPEN, TRAINED_CLOSE = "⟦", "⟧"


def _template(name: str, args: argparse.Namespace | None = None, tokenizer: Any = None) -> Template:
    if name == "auto":
        if tokenizer is None:
            raise BadInputError("template 'auto' needs --tokenizer (it is derived from the tokenizer's chat template)")
        from .auto import template_from_tokenizer

        try:
            template = template_from_tokenizer(tokenizer)
        except ValueError as exc:
            raise BadInputError(str(exc)) from None
    else:
        try:
            template = get_template(name)
        except ValueError as exc:
            raise BadInputError(str(exc)) from None
    if args is not None and getattr(args, "thinking", None):
        template = template.with_options(thinking=args.thinking)
    if args is not None and getattr(args, "tool_format", None):
        try:
            template = template.with_options(tool_format=args.tool_format)
        except ValueError as exc:
            raise BadInputError(str(exc)) from None
    return template


def load_tokenizer(path: str) -> Any:
    """A tokenizer from a local directory or a ``.gguf`` file (BadInputError when neither loads)."""
    from transformers import AutoTokenizer

    p = Path(path)
    try:
        if p.is_file() and p.suffix == ".gguf":
            return AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
        if p.is_dir():
            return AutoTokenizer.from_pretrained(str(p))
    except Exception as exc:
        raise BadInputError(f"--tokenizer {path}: cannot load a tokenizer ({exc})") from None
    raise BadInputError(f"--tokenizer {path}: not a tokenizer directory or .gguf file")


def read_conversation(path: str) -> tuple[list[dict[str, str]], str | None, str | None]:
    """(messages, system, tools) from a JSON file: a message list (internal or OpenAI roles) or an
    object with ``messages`` (or ``conversations``) and optional ``system`` and ``tools``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    system = tools = None
    if isinstance(data, dict):
        system, tools = data.get("system"), data.get("tools")
        data = data.get("messages", data.get("conversations"))
    if not isinstance(data, list) or not all(isinstance(m, dict) and "role" in m for m in data):
        raise BadInputError(f"{path}: expected a list of {{\"role\", \"content\"}} messages (or {{\"messages\": [...]}})")
    roles = {m["role"] for m in data}
    if roles & {"system", "tool"} or any(m.get("tool_calls") for m in data):
        data, sys2 = from_openai(data)
        system = system or sys2
    if tools is not None and not isinstance(tools, str):
        tools = json.dumps(tools, ensure_ascii=False)
    return data, system, tools


# ---------------------------------------------------------------------------------------- verbs
def cmd_list(args: argparse.Namespace) -> None:
    get_template("empty")
    rows = []
    for name, t in sorted(TEMPLATES.items()):
        flags = [f for f, on in (("reasoning", t.reasoning), ("efficient_eos", t.efficient_eos),
                                 ("replace_eos", t.replace_eos), ("system_in_user", t.system_in_user)) if on]
        rows.append({"name": name, "family": t.family, "tool_format": t.tool_format, "flags": flags})
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    print(f"{'name':<16} {'tools':<8} {'parity':<10} flags")
    for r in rows:
        print(f"{r['name']:<16} {r['tool_format']:<8} {r['family'] or '-':<10} {', '.join(r['flags'])}")
    print(f"{len(rows)} templates")


def cmd_show(args: argparse.Namespace) -> None:
    template = _template(args.name, args)
    if args.jinja:
        print(template.to_jinja())
    else:
        print(json.dumps(template.describe(), ensure_ascii=False, indent=2))


def cmd_render(args: argparse.Namespace) -> None:
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
    template = _template(args.name, args, tokenizer)
    messages, system, tools = read_conversation(args.conversation)
    system = args.system if args.system is not None else system
    bos = tokenizer.bos_token if tokenizer is not None else "<bos>"
    eos = tokenizer.eos_token if tokenizer is not None else "<eos>"
    try:
        pairs = template.render_turns(messages, system, tools, bos=bos, eos=eos)
        ids = None
        if tokenizer is not None:
            prompt = len(messages) % 2 == 1
            ids = template.encode_multiturn(tokenizer, messages + ([{"role": "assistant", "content": ""}]
                                            if prompt else []), system, tools)
            if prompt:  # the generation prompt has no target yet
                ids[-1] = (ids[-1][0], [])
    except ValueError as exc:
        raise BadInputError(f"{args.conversation}: {exc}") from None
    if args.json:
        out = [{"source": s, "target": t} for s, t in pairs]
        if ids:
            for row, (src, tgt) in zip(out, ids):
                row["source_ids"], row["target_ids"] = src, tgt
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    print("".join(s + (TRAINED_OPEN + t + TRAINED_CLOSE if t else "") for s, t in pairs))
    print(f"\n({TRAINED_OPEN}…{TRAINED_CLOSE} = trained span; the rest is masked in SFT)")
    if ids:
        for i, (src, tgt) in enumerate(ids):
            print(f"turn {i}: source {len(src)} ids {src}")
            print(f"turn {i}: target {len(tgt)} ids {tgt}")
        total = sum(len(s) + len(t) for s, t in ids)
        trained = sum(len(t) for _, t in ids)
        print(f"{total} tokens, {trained} trained" + (" (+1 EOS appended by ft-data)" if template.efficient_eos else ""))


def cmd_check(args: argparse.Namespace) -> int:
    tokenizer = load_tokenizer(args.tokenizer)
    if not isinstance(getattr(tokenizer, "chat_template", None), str):
        raise BadInputError(f"--tokenizer {args.tokenizer}: the tokenizer has no chat template to check against")
    template = _template(args.name, args, tokenizer)
    results = compare(template, tokenizer, ids=True)
    for r in results:
        if r.error:
            status = f"SKIP  {r.error}" if r.error.startswith("reference") else f"FAIL  {r.error}"
        elif r.ours != r.theirs:
            status = "DIFF  " + first_difference(r.ours, r.theirs)
        elif r.ids_equal is False:
            status = "DIFF  same text, different token ids"
        else:
            status = "ok"
        print(f"{r.name:<20} {status}")
    compared = [r for r in results if not (r.error or "").startswith("reference")]
    fits = all(r.ok for r in compared)
    print(f"\n{template.name}: {sum(r.ok for r in compared)}/{len(compared)} cases match the tokenizer's chat template")
    ranking = [s for s in rank_templates(tokenizer) if s[1] > 0]
    best = [s for s in ranking if s[1] == s[2]]
    if best:
        print("templates that fit: " + ", ".join(name for name, _, _ in best))
    elif ranking:
        name, hits, total = ranking[0]
        print(f"no registered template fits all cases; closest: {name} ({hits}/{total})")
    return 0 if fits else 1


_THINKING = Arg("--thinking", choices=["on", "off", "mixed"], default=None,
                help="reasoning policy for thinking templates (default: the template's)")
_TOOL_FORMAT = Arg("--tool-format", default=None, help="override the template's tool format")

cli = Group(
    "ft-templates",
    "Chat-template registry, tool-call formats, reasoning policy and Jinja export for the ft toolkit.",
    version=__version__,
    commands=[
        Command("list", "List the registered templates.", cmd_list,
                [Arg("--json", action="store_true", help="machine-readable output")],
                example="ft-templates list"),
        Command("show", "Show a template's slots and flags (or its Jinja export).", cmd_show,
                [Arg("name"), Arg("--jinja", action="store_true", help="print the exported Jinja chat template"),
                 _THINKING, _TOOL_FORMAT],
                example="ft-templates show qwen3 --jinja"),
        Command("render", "Render a conversation: text with trained spans marked, and ids with --tokenizer.",
                cmd_render,
                [Arg("name"), Arg("conversation", help="JSON file: messages, or {messages, system, tools}"),
                 Arg("--tokenizer", default=None, help="tokenizer directory or .gguf file"),
                 Arg("--system", default=None, help="system prompt (overrides the file's)"),
                 Arg("--json", action="store_true", help="machine-readable output"), _THINKING, _TOOL_FORMAT],
                example="ft-templates render smollm2 chat.json --tokenizer ~/.cache/ft/models/smollm2-135m-instruct"),
        Command("check", "Template doctor: diff a template against a tokenizer's own chat template.", cmd_check,
                [Arg("name", help="registered template name, or 'auto'"),
                 Arg("--tokenizer", required=True, help="tokenizer directory or .gguf file"), _THINKING, _TOOL_FORMAT],
                example="ft-templates check smollm2 --tokenizer ~/.cache/ft/models/smollm2-135m-instruct"),
    ],
)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
