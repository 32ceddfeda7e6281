"""``build``: a routing log -> router SFT data (Alpaca JSON) registered in ``dataset_info.json``.

Example:
    >>> result = build_sft("router_data.csv", "data", setting="judge", k=5)
    >>> result.path.name, result.dataset_name
    ('judge_sft_top_5.json', 'judge_sft_top_5')
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ft_core import BadInputError, DataError

from ._pandas_compat import chunk_kinds, flag_exprs, pandas_str
from .jsonout import write_alpaca_json
from .logs import RAW, ROW, LogSource
from .parsing import ColumnReport, parse_number_series, parse_score_series
from .registry import check_registry, register_output
from .schema import CHOICE_TASKS, CODE_TASKS, INSTRUCTION, SETTINGS, SMALL_MODELS, THINK_CUES, THINK_SUFFIX
from .select import GROUP, HAS_RESPONSE, KEY, POS, select_rows

TEXT_COLUMNS = ("query", "ground_truth", "response")
LOW_MEMORY_BYTES = 1 << 30  # logs larger than this are read in two passes


@dataclass
class BuildResult:
    """What ``build_sft`` wrote and counted."""

    path: Path
    dataset_name: str
    records: int
    stats: dict[str, Any] = field(default_factory=dict)


def load_models_file(path: str | Path) -> frozenset[str]:
    """Model names from a file: a JSON list, a JSON object (keys, e.g. an LLM description file)
    or one name per line. ``_think`` variants are added. Example: ``load_models_file("small.txt")``."""
    source = Path(path)
    if not source.is_file():
        raise BadInputError(f"{source}: models file not found (one model name per line, or a JSON list)")
    text = source.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        names = list(data) if isinstance(data, dict | list) else None
    except json.JSONDecodeError:
        names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise BadInputError(f"{source}: expected model names (one per line, a JSON list or an object keyed by name)")
    base = {n.removesuffix(THINK_SUFFIX) for n in names}
    return frozenset(base | {n + THINK_SUFFIX for n in base})


def check_build_args(setting: str, k: Any, save_path: str | Path) -> int:
    """Validate the arguments shared by the API and the CLI (``BadInputError`` on a bad one)."""
    if setting not in SETTINGS:
        raise BadInputError(f"setting {setting!r} is not one of {', '.join(SETTINGS)}")
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise BadInputError(f"k must be a positive integer (the number of candidates per query), got {k!r}")
    target = Path(save_path)
    if target.exists() and not target.is_dir():
        raise BadInputError(f"{target}: save path is a file; give a directory for the SFT data")
    return k


def output_name(setting: str, k: int, small: bool = False, models: str | Path | None = None) -> str:
    """``<setting>_sft_top_<k>``, plus ``_small`` (or ``_<models file stem>``) for a restricted pool."""
    name = f"{setting}_sft_top_{k}"
    if models is not None:
        return f"{name}_{Path(models).stem}"
    return f"{name}_small" if small else name


def group_key_expr(has_task_id: bool) -> pl.Expr:
    """A query's identity: task, task id, ground truth and the query text without the reasoning cue
    and surrounding whitespace/periods, hashed, so a direct row and its ``_think`` row (the same
    prompt with the cue appended) share it wherever they are in the log."""
    parts = [pl.col(c).fill_null("") for c in ("task_name", "task_id", "ground_truth") if c != "task_id" or has_task_id]
    text = pl.col("query").fill_null("")
    for cue in THINK_CUES:  # literal replaces and strips: several times cheaper than a regex
        text = text.str.replace_all(cue, "", literal=True)
    text = text.str.strip_chars(" \t\r\n.")
    return pl.concat_str([*parts, text], separator="\x1f").hash(seed=0).alias(KEY)


_ZERO_DICT = r"^\s*\{\s*'pass@1'\s*:\s*(np\.float64\()?\s*[+-]?0*\.?0*\s*\)?\s*\}\s*$"


def _prune_response() -> pl.Expr:
    """The response, or null where the performance is certainly 0: such a row stops the walk before
    it could give a candidate, so its text is never needed (saves memory in one-pass reading)."""
    perf = pl.col("performance").str.strip_chars()
    zero = (perf.cast(pl.Float64, strict=False) == 0).fill_null(False) | perf.str.contains(_ZERO_DICT).fill_null(False)
    return pl.when(zero).then(None).otherwise(pl.col("response")).alias("response")


def _fetch_texts(source: LogSource, rows: pl.DataFrame, kinds: dict[str, list[str]] | None) -> pl.DataFrame:
    """The long texts (query, ground truth, response) of the selected rows, rendered as text."""
    if "query" in rows.columns:  # read in the first pass
        joined = rows
    else:
        joined = rows.join(source.fetch(rows.get_column(RAW), list(TEXT_COLUMNS)), on=RAW, how="left")
    if kinds is not None:  # what str() gives on the reference's pandas-typed cells
        width = len(source.columns)
        return joined.with_columns([pandas_str(joined.get_column(c), joined.get_column(ROW), kinds[c], width)
                                    for c in TEXT_COLUMNS])
    return joined.with_columns([pl.col(c).fill_null("") for c in TEXT_COLUMNS])


def _records(rows: pl.DataFrame) -> pl.DataFrame:
    """(instruction, input, output) per selected row, label before candidates, query by query."""
    stripped = pl.col("query")
    for cue in THINK_CUES:
        stripped = stripped.str.replace_all(cue, "", literal=True)
    gt = pl.col("ground_truth")
    label = (pl.when(pl.col("task_name").is_in(list(CODE_TASKS))).then(pl.concat_str([pl.lit("[BEGIN]\n "), gt, pl.lit(" \n[DONE]")]))
             .when(pl.col("task_name").is_in(list(CHOICE_TASKS))).then(pl.concat_str([pl.lit("("), gt, pl.lit(")")]))
             .otherwise(gt))
    labels = rows.filter("is_label").select(GROUP, pl.lit(0).alias("_kind"), POS, stripped.alias("input"),
                                             label.alias("output"))
    candidates = rows.filter("is_candidate").select(GROUP, pl.lit(1).alias("_kind"), POS, pl.col("query").alias("input"),
                                                     pl.col("response").alias("output"))
    return pl.concat([labels, candidates]).sort([GROUP, "_kind", POS])


def _stats(rows: pl.DataFrame, k: int, repeat: int) -> dict[str, Any]:
    per_query = rows.group_by(GROUP, maintain_order=True).agg(
        pl.col("task_name").first(), pl.col("is_candidate").sum().alias("candidates"))
    hist = per_query.group_by("candidates").len().sort("candidates")
    per_task = per_query.group_by("task_name", maintain_order=True).agg(
        pl.len().alias("queries"), pl.col("candidates").sum().alias("candidates"))
    return {
        "queries": per_query.height,
        "labels": per_query.height,
        "candidates": int(per_query.get_column("candidates").sum()),
        "repeat": repeat,
        "candidates_per_query": {int(c): int(n) for c, n in hist.iter_rows()},
        "mean_candidates_per_query": round(float(per_query.get_column("candidates").mean() or 0.0), 4),
        "per_task": {str(t): {"queries": int(q), "candidates": int(c), "examples": int(q + c) * repeat}
                     for t, q, c in per_task.iter_rows()},
    }


def build_sft(input: str | Path, save_path: str | Path, *, setting: str = "perf", k: int = 5,
              small: bool = False, models: str | Path | Iterable[str] | None = None,
              legacy_blocks: bool = False, name: str | None = None, register: bool = True,
              low_memory: bool | None = None) -> BuildResult:
    """Turn a routing log into ``<save_path>/<name>.json`` (Alpaca) and register it.

    ``setting``: perf | judge | hybrid | baseline; ``k``: candidates per query (> 0);
    ``small``: keep only the spec's small models; ``models``: a models file or names instead
    (implies a restricted pool); ``legacy_blocks``: fixed 40-row blocks and the reference's cell
    typing, for byte-compatible output; ``low_memory``: stream the log twice (small columns of every row, then
    the texts of the selected rows only) instead of scanning it once: bounded memory, about
    twice the time; default: only for logs over 1 GiB.
    Nothing is written when the input is bad.
    """
    check_build_args(setting, k, save_path)
    pool: frozenset[str] | None = None
    models_label: str | Path | None = None
    if models is not None:
        if isinstance(models, str | Path):
            pool, models_label = load_models_file(models), models
        else:
            base = {m.removesuffix(THINK_SUFFIX) for m in models}
            pool, models_label = frozenset(base | {m + THINK_SUFFIX for m in base}), "models"
    elif small:
        pool = SMALL_MODELS
    needed = ["task_name", "query", "ground_truth", "llm", "performance", "output_tokens_num", "response"]
    if setting in ("judge", "hybrid"):
        needed.append("llm_judge")
    if register:
        check_registry(save_path)
    source = LogSource(input)
    source.require(needed)
    has_task_id = "task_id" in source.columns
    scan = [*needed, "task_id"] if has_task_id else needed
    derived = [(pl.col("response").is_not_null() & (pl.col("response") != "")).alias(HAS_RESPONSE)]
    if legacy_blocks:
        derived += [e for c in TEXT_COLUMNS for e in flag_exprs(c)]
    else:
        derived.append(group_key_expr(has_task_id))
    if low_memory is None:
        low_memory = source.path.stat().st_size > LOW_MEMORY_BYTES
    if low_memory:
        frame = source.collect(scan, derived, drop=list(TEXT_COLUMNS), streamed=True)
    else:
        frame = source.collect(scan, [*derived, _prune_response()])
    rows1 = frame.get_column(ROW) + 2  # file line of a CSV row (header is line 1)
    perf, perf_report = parse_score_series(frame.get_column("performance"), rows1)
    reports: list[ColumnReport] = [perf_report]
    updates = [perf, parse_number_series(frame.get_column("output_tokens_num"))]
    if "llm_judge" in needed:
        judge, judge_report = parse_score_series(frame.get_column("llm_judge"), rows1)
        updates.append(judge)
        reports.append(judge_report)
    for report in reports:
        if report.parsed == 0 and report.unparseable:
            row, value = report.examples[0]
            raise DataError(f"{input}: column {report.column!r} has no parseable score "
                            f"(row {row}: {value!r}); expected numbers or {{'pass@1': ...}} dicts")
    frame = frame.with_columns(updates)
    kinds = ({c: chunk_kinds(frame, c, len(source.columns)) for c in TEXT_COLUMNS} if legacy_blocks else None)
    selection = select_rows(frame, setting=setting, k=k, small_models=pool, legacy_blocks=legacy_blocks,
                            drop_missing_responses=not legacy_blocks)
    picked = _fetch_texts(source, selection.rows, kinds)
    records = _records(picked)
    repeat = k + 1 if setting == "baseline" else 1
    dataset = name or output_name(setting, k, small, models_label)
    target = Path(save_path) / f"{dataset}.json"
    write_alpaca_json(target, records, INSTRUCTION, repeat)
    if register:
        register_output(save_path, dataset, target.name)
    stats = _stats(selection.rows, k, repeat)
    stats.update(records=records.height * repeat, setting=setting, k=k, legacy_blocks=legacy_blocks,
                 rows=frame.height, groups=selection.groups,
                 skipped_rows_not_in_pool=selection.skipped_not_small,
                 dropped_missing_response=selection.dropped_no_response,
                 dropped_partial_block_rows=selection.dropped_partial_block_rows,
                 queries_without_40_rows=selection.irregular_groups,
                 parsing=[r.to_dict() for r in reports])
    return BuildResult(target, dataset, records.height * repeat, stats)
