"""``test-gen``: a test routing log -> ``router_test.json`` (Alpaca), its registry entry and a sidecar.

One record per query: the query's first direct (non-``_think``) row in log order, with the
raw ground truth as output (no training-time wrappers). The sidecar ``<name>.meta.jsonl``
keeps, line by line in the same order, what scoring needs: task name, metric (``cem`` forced
for the four QA/reading tasks), task id and ground truth.

Example:
    >>> result = generate_test_set("router_data_test.csv", "data")
    >>> result.path.name, result.meta_path.name
    ('router_test.json', 'router_test.meta.jsonl')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ft_core import BadInputError, atomic_write_text

from ._pandas_compat import chunk_kinds, flag_exprs, pandas_str
from .build import group_key_expr
from .jsonout import alpaca_json
from .logs import RAW, ROW, LogSource
from .registry import check_registry, register_output
from .schema import BLOCK_ROWS, CEM_TASKS, INSTRUCTION, THINK_SUFFIX
from .select import GROUP, KEY

META_SUFFIX = ".meta.jsonl"


@dataclass
class TestSetResult:
    """What ``generate_test_set`` wrote."""

    path: Path
    meta_path: Path
    dataset_name: str
    records: int
    per_task: dict[str, int] = field(default_factory=dict)


def scoring_metric(task_name: str | None, metric: str | None) -> str:
    """The metric a test example is scored with (``cem`` for NQ, TriviaQA, SQuAD and BoolQ)."""
    if task_name in CEM_TASKS:
        return "cem"
    return metric or ""


def _first_rows(frame: pl.DataFrame, legacy_blocks: bool) -> pl.DataFrame:
    if legacy_blocks:
        full = (frame.height // BLOCK_ROWS) * BLOCK_ROWS
        return frame.head(full).filter(pl.col(ROW) % BLOCK_ROWS == 0)
    direct = pl.col("llm").is_null() | ~pl.col("llm").str.ends_with(THINK_SUFFIX) if "llm" in frame.columns else pl.lit(True)
    keyed = frame.with_columns(pl.col(ROW).min().over(KEY).alias(GROUP), direct.fill_null(True).alias("_direct"))
    # The first direct row of each query; a query with only _think rows keeps its first row.
    return (keyed.sort([GROUP, "_direct", ROW], descending=[False, True, False])
            .group_by(GROUP, maintain_order=True).first().sort(GROUP))


def generate_test_set(input: str | Path, save_path: str | Path, *, legacy_blocks: bool = False,
                      name: str = "router_test", register: bool = True) -> TestSetResult:
    """Write ``<save_path>/<name>.json``, ``<name>.meta.jsonl`` and register ``name``.

    ``legacy_blocks``: take the first row of each fixed 40-row block, as the reference does.
    """
    target_dir = Path(save_path)
    if target_dir.exists() and not target_dir.is_dir():
        raise BadInputError(f"{target_dir}: save path is a file; give a directory for the test set")
    if register:
        check_registry(target_dir)
    source = LogSource(input)
    needed = ["task_name", "query", "ground_truth", "metric"]
    source.require(needed)
    optional = [c for c in ("task_id", "llm") if c in source.columns]
    derived = [e for c in ("query", "ground_truth") for e in flag_exprs(c)] if legacy_blocks else [
        group_key_expr("task_id" in optional)]
    frame = source.collect([*needed, *optional], derived, drop=["query", "ground_truth"], streamed=True)
    first = _first_rows(frame, legacy_blocks)
    texts = source.fetch(first.get_column(RAW), ["query", "ground_truth"])
    rows = first.join(texts, on=RAW, how="left").sort(ROW)
    if legacy_blocks:
        width = len(source.columns)
        rows = rows.with_columns([pandas_str(rows.get_column(c), rows.get_column(ROW),
                                             chunk_kinds(frame, c, width), width) for c in ("query", "ground_truth")])
    else:
        rows = rows.with_columns(pl.col("query").fill_null(""), pl.col("ground_truth").fill_null(""))
    text = alpaca_json((INSTRUCTION, q, g) for q, g in rows.select("query", "ground_truth").iter_rows())
    meta_lines = []
    for i, row in enumerate(rows.iter_rows(named=True)):
        entry: dict[str, Any] = {"index": i, "task_name": row["task_name"],
                                 "metric": scoring_metric(row["task_name"], row["metric"]),
                                 "task_id": row.get("task_id"), "ground_truth": row["ground_truth"]}
        meta_lines.append(json.dumps(entry, ensure_ascii=False))
    path = target_dir / f"{name}.json"
    meta_path = target_dir / f"{name}{META_SUFFIX}"
    atomic_write_text(meta_path, "".join(line + "\n" for line in meta_lines))
    atomic_write_text(path, text)
    if register:
        register_output(target_dir, name, path.name)
    per_task = {str(t): int(n) for t, n in rows.group_by("task_name", maintain_order=True).len().iter_rows()}
    return TestSetResult(path, meta_path, name, rows.height, per_task)
