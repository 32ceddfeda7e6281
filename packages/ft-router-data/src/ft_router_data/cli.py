"""Command line of ft-router-data: ``ft-router-data <verb> ...`` and ``ft router-data <verb> ...``.

Verbs: ``build`` (router SFT data), ``test-gen`` (router test set), ``score`` (predictions).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from ft_core import Arg, BadInputError, Command, Group

from . import __version__


def _positive_int(text: str, flag: str) -> int:
    """Parsed here rather than by argparse so that a bad value gives one ``error:`` line (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise BadInputError(f"{flag} must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise BadInputError(f"{flag} must be a positive integer (candidates per query), got {value}")
    return value


def _build(args: argparse.Namespace) -> None:
    from .build import build_sft

    k = _positive_int(args.k, "--k")
    result = build_sft(args.input, args.save_path, setting=args.setting, k=k, small=args.small,
                       models=args.models, legacy_blocks=args.legacy_blocks, name=args.name)
    s = result.stats
    print(f"wrote {result.path} ({result.records} records) and registered {result.dataset_name!r} "
          f"in {Path(args.save_path) / 'dataset_info.json'}")
    print(f"queries {s['queries']}  labels {s['labels']}  candidates {s['candidates']}  "
          f"mean candidates/query {s['mean_candidates_per_query']}"
          + (f"  (label list repeated {s['repeat']}x)" if s["repeat"] > 1 else ""))
    print("candidates per query: " + ", ".join(f"{c}: {n}" for c, n in s["candidates_per_query"].items()))
    print(f"{'task':<16}{'queries':>9}{'candidates':>12}{'examples':>10}")
    for task, row in s["per_task"].items():
        print(f"{task:<16}{row['queries']:>9}{row['candidates']:>12}{row['examples']:>10}")
    notes = []
    if s["skipped_rows_not_in_pool"]:
        notes.append(f"{s['skipped_rows_not_in_pool']} rows of models outside the pool skipped")
    if s["dropped_missing_response"]:
        notes.append(f"{s['dropped_missing_response']} candidates without a response dropped")
    if s["dropped_partial_block_rows"]:
        notes.append(f"{s['dropped_partial_block_rows']} rows of a trailing partial 40-row block ignored")
    if s["queries_without_40_rows"]:
        notes.append(f"{s['queries_without_40_rows']} queries do not have 40 rows (missing rows or repeated queries)")
    for report in s["parsing"]:
        if report["unparseable"]:
            where = ", ".join(f"row {r}: {v!r}" for r, v in report["examples"])
            notes.append(f"{report['unparseable']} unparseable {report['column']} values treated as missing ({where})")
        if report["missing"]:
            notes.append(f"{report['missing']} missing {report['column']} values")
    for note in notes:
        print(f"note: {note}")


def _test_gen(args: argparse.Namespace) -> None:
    from .testgen import generate_test_set

    result = generate_test_set(args.input, args.save_path, legacy_blocks=args.legacy_blocks, name=args.name)
    print(f"wrote {result.path} ({result.records} examples), {result.meta_path.name}, registered {result.dataset_name!r}")
    print(", ".join(f"{task}: {n}" for task, n in result.per_task.items()))


def _score(args: argparse.Namespace) -> None:
    from .score import score_predictions

    if args.timeout <= 0:
        raise BadInputError(f"--timeout must be positive, got {args.timeout}")
    output = args.output or Path(args.predictions).with_name("router_scores.json")
    report = score_predictions(args.predictions, args.test, name=args.name, output=output, timeout=args.timeout,
                               memory_mb=args.memory_mb, workers=args.workers, skip_errors=args.skip_errors,
                               allow_weak_isolation=args.allow_weak_isolation)
    print(report.table())
    if report.label_mismatches:
        print(f"note: {report.label_mismatches} predictions carry a label that differs from the test set's ground truth")
    print(f"wrote {output}")
    if args.json:
        print(json.dumps(report.to_dict()))


build = Command(
    "build", "Turn a routing log into router SFT data (Alpaca JSON) and register it.", _build,
    arguments=[
        Arg("--input", required=True, help="routing log (.csv, .jsonl or .parquet) in the FusionBench schema"),
        Arg("--save-path", "--save_path", dest="save_path", required=True, help="output directory (holds dataset_info.json)"),
        Arg("--setting", choices=["perf", "judge", "hybrid", "baseline"], default="perf",
            help="ranking: perf, judge, hybrid; baseline = labels only, repeated k+1 times (default perf)"),
        Arg("--k", default="5", help="candidates per query (default 5)"),
        Arg("--small", action="store_true", help="only the 10 small models (and their _think rows)"),
        Arg("--models", default=None, help="file of model names (lines, JSON list or object) to use instead of --small's set"),
        Arg("--legacy-blocks", action="store_true",
            help="fixed 40-row blocks and the reference's cell typing: byte-compatible with sft_data_gen.py"),
        Arg("--name", default=None, help="dataset/file name (default <setting>_sft_top_<k>[_small])"),
    ],
    example="ft-router-data build --setting judge --k 5 --input router_data_with_judge.csv --save-path data",
)

test_gen = Command(
    "test-gen", "Write router_test.json (one example per query), its registry entry and scoring sidecar.", _test_gen,
    arguments=[
        Arg("--input", required=True, help="test routing log (.csv, .jsonl or .parquet)"),
        Arg("--save-path", "--save_path", dest="save_path", required=True, help="output directory"),
        Arg("--legacy-blocks", action="store_true", help="first row of each fixed 40-row block, as the reference"),
        Arg("--name", default="router_test", help="dataset name (default router_test)"),
    ],
    example="ft-router-data test-gen --input router_data_test.csv --save-path data",
)

score = Command(
    "score", "Score generated predictions per task and per domain (cem, em_mc, GSM8K, MATH, code pass@1).", _score,
    arguments=[
        Arg("--predictions", required=True, help="generated_predictions.jsonl (one {predict, label} per line, test order)"),
        Arg("--test", required=True, help="directory written by test-gen"),
        Arg("--name", default="router_test", help="test dataset name (default router_test)"),
        Arg("--output", default=None, help="report JSON (default router_scores.json beside the predictions)"),
        Arg("--timeout", type=float, default=3.0, help="seconds per code run (default 3)"),
        Arg("--memory-mb", type=int, default=1024, help="address-space limit per code run, MiB (default 1024)"),
        Arg("--workers", type=int, default=None, help="code runs at once (default: CPU count)"),
        Arg("--skip-errors", action="store_true", help="leave out examples whose scoring failed (reference behaviour)"),
        Arg("--allow-weak-isolation", action="store_true",
            help="where this machine has no OS sandbox (namespaces, bubblewrap), run code with limits and an "
                 "audit hook only instead of refusing (docs/ft-core-sandbox.md)"),
        Arg("--json", action="store_true", help="also print the report as one JSON line"),
    ],
    example="ft-router-data score --predictions saves/run/generated_predictions.jsonl --test data",
)

cli = Group("ft-router-data", "Multi-LLM routing logs to router SFT data, test sets and scores (model-level fusion).",
            commands=[build, test_gen, score], version=__version__)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
