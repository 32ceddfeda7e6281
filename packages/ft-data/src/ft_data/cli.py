"""Command line of ft-data: ``ft-data <verb> ...`` and ``ft data <verb> ...``.

Verbs: ``list``, ``validate DATASET``, ``preview DATASET --template T --tokenizer M``,
``stats DATASET [--plot out.png]``. Every verb takes ``--dataset-dir`` (default ``data``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ft_core import Arg, Command, DataError, Group

from . import __version__
from .inspect import (
    align_rows,
    default_stage,
    length_stats,
    list_datasets,
    load_tokenizer,
    plot_histogram,
    process_rows,
    spans,
    validate_dataset,
)

STAGES = ("pt", "sft", "dpo", "rm", "kto", "ppo")
DIR = Arg("--dataset-dir", default="data", help="folder holding dataset_info.json (default: data)")


def _list(args: argparse.Namespace) -> int:
    rows = list_datasets(args.dataset_dir)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'name':<24} {'format':<9} {'kind':<8} source")
    for r in rows:
        kind = "ranking" if r["ranking"] else "kto" if r["kto"] else "text" if r["text"] else "sft"
        missing = "  (missing)" if r["exists"] is False else ""
        print(f"{r['name']:<24} {r['formatting']:<9} {kind:<8} {r['source']}{missing}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    report = validate_dataset(args.dataset, args.dataset_dir, args.stage)
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(f"{args.dataset}: {report.total} rows, {report.good} valid, {report.bad} bad")
        for reason, count in report.counts.most_common():
            print(f"  {reason}: {count}")
        for line in report.details():
            print(f"  e.g. {line}")
    report.check_not_empty()
    return 2 if (args.strict and report.bad) else 0


def _style(text: str, trained: bool, color: bool) -> str:
    if color:
        return f"\x1b[1;32m{text}\x1b[0m" if trained else f"\x1b[2m{text}\x1b[0m"
    return f"[[{text}]]" if trained else text


def _preview(args: argparse.Namespace) -> int:
    tokenizer = load_tokenizer(args.tokenizer)
    stage = args.stage or default_stage(args.dataset, args.dataset_dir)
    _, columns, _ = process_rows(args.dataset, args.dataset_dir, args.template, tokenizer, stage, args.n,
                                 args.cutoff_len)
    color = sys.stdout.isatty() and not args.plain
    prefixes = ["chosen_", "rejected_"] if "chosen_input_ids" in columns else ["", "kl_"] if stage == "kto" else [""]
    count = len(columns[f"{prefixes[0]}input_ids"])
    print(f"{args.dataset}: stage {stage}, template {args.template}; "
          + ("trained spans in green" if color else "trained spans in [[...]]"))
    for i in range(count):
        for prefix in prefixes:
            ids, labels = columns[f"{prefix}input_ids"][i], columns[f"{prefix}labels"][i]
            if stage in ("ppo",):
                text = tokenizer.decode(ids) + _style(tokenizer.decode(labels), True, color)
                trained = len(labels)
            else:
                text = "".join(_style(tokenizer.decode(run), t, color) for t, run in spans(ids, labels))
                trained = sum(1 for label in labels if label != -100)
            tag = f" {prefix.rstrip('_')}" if prefix else ""
            print(f"--- row {i + 1}{tag}: {len(ids)} tokens, {trained} trained, {len(ids) - trained} masked")
            print(text)
    return 0


def _stats(args: argparse.Namespace) -> int:
    if args.tokenizer:
        tokenizer = load_tokenizer(args.tokenizer)
        stage = args.stage or default_stage(args.dataset, args.dataset_dir)
        _, columns, _ = process_rows(args.dataset, args.dataset_dir, args.template, tokenizer, stage, None,
                                     args.cutoff_len)
        key = "chosen_input_ids" if "chosen_input_ids" in columns else "input_ids"
        lengths, unit = [len(x) for x in columns[key]], "tokens"
    else:
        aligned = align_rows(args.dataset, args.dataset_dir, args.stage)
        aligned.report.check_not_empty()
        lengths = [sum(len(m["content"]) for m in r["messages"]) for r in aligned.rows]
        unit = "characters"
    stats = {"dataset": args.dataset, "unit": unit, **length_stats(lengths)}
    if args.tokenizer:
        stats["over_cutoff_len"] = sum(1 for n in lengths if n >= args.cutoff_len)
    if args.plot:
        stats["plot"] = str(plot_histogram(lengths, f"{args.dataset}: {unit} per row", args.plot))
    print(json.dumps(stats))
    return 0


def _need_template(args: argparse.Namespace) -> None:
    if args.tokenizer and not args.template:
        raise DataError("--tokenizer needs --template too (e.g. --template smollm2)")


def _stats_entry(args: argparse.Namespace) -> int:
    _need_template(args)
    return _stats(args)


cli = Group("ft-data", "Dataset registry (dataset_info.json), loaders, format alignment, stage processors, "
            "collators and validation reports for the ft toolkit.", version=__version__, commands=[
    Command("list", "List the datasets of a dataset_info.json.", _list,
            [DIR, Arg("--json", action="store_true", help="print JSON")],
            example="ft-data list --dataset-dir docs/examples/data"),
    Command("validate", "Check every row of a dataset; count bad rows by reason with file and row.", _validate,
            [Arg("dataset"), DIR, Arg("--stage", choices=STAGES, help="stage the rows are for (default: from the entry)"),
             Arg("--strict", action="store_true", help="exit 2 when any row is bad"),
             Arg("--json", action="store_true", help="print the report as JSON")],
            example="ft-data validate rg_alpaca --dataset-dir docs/examples/data"),
    Command("preview", "Show the first rows as the model sees them, trained spans marked, with token counts.",
            _preview,
            [Arg("dataset"), DIR, Arg("--template", required=True, help="template name, e.g. smollm2"),
             Arg("--tokenizer", required=True, help="model folder or hub id holding the tokenizer"),
             Arg("--stage", choices=STAGES), Arg("-n", type=int, default=3, help="rows to show (default 3)"),
             Arg("--cutoff-len", type=int, default=2048),
             Arg("--plain", action="store_true", help="no colours; mark trained spans with [[...]]")],
            example="ft-data preview rg_alpaca --dataset-dir docs/examples/data --template smollm2 "
                    "--tokenizer ~/.cache/ft/models/smollm2-135m-instruct -n 2"),
    Command("stats", "Length distribution of a dataset (tokens with --tokenizer, else characters).", _stats_entry,
            [Arg("dataset"), DIR, Arg("--template"), Arg("--tokenizer"), Arg("--stage", choices=STAGES),
             Arg("--cutoff-len", type=int, default=2048),
             Arg("--plot", metavar="PNG", help="write a histogram (needs the plot extra)")],
            example="ft-data stats rg_sharegpt --dataset-dir docs/examples/data --plot lengths.png"),
])


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
