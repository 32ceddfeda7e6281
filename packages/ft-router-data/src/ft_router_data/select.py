"""Ranking each query's rows and walking them: which rows become label and candidate examples.

Per query (a group of rows) and per setting (``schema.RANK_KEYS``), rows are ranked by two keys,
both descending with missing values last, then by their position in the log. The walk over the
ranked rows (rows of models outside the small set are skipped first when asked):

* the first row gives the query's *label* example (ground truth, task-formatted);
* the walk stops at the first row whose performance is exactly 0 (missing does not stop it);
* before that, up to ``k`` rows give *candidate* examples (their responses), except for
  ``baseline``, which keeps labels only.

Everything is computed column-wise with polars; the result says, per kept row, its group,
rank and role.

Example:
    >>> picked = select_rows(frame, setting="perf", k=5)
    >>> picked.filter(pl.col("is_label")).height  # one label per query
    6396
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .logs import ROW
from .schema import BLOCK_ROWS, RANK_KEYS

GROUP = "_group"
POS = "_pos"
KEY = "_key"
HAS_RESPONSE = "_has_response"
_NO_STOP = 1 << 40


@dataclass(frozen=True)
class Selection:
    """Rows that produce examples (``is_label`` / ``is_candidate``), with walk statistics."""

    rows: pl.DataFrame
    groups: int
    skipped_not_small: int
    dropped_no_response: int
    dropped_partial_block_rows: int
    irregular_groups: int = 0  # queries with a row count other than 40 (duplicates, missing rows)


def group_keys(frame: pl.DataFrame, legacy_blocks: bool) -> tuple[pl.DataFrame, int]:
    """Add ``_group`` (queries numbered in order of first appearance); returns (frame, rows dropped).

    Default: rows sharing ``_key`` (``build.group_key_expr``: task, task id, ground truth and
    query text without the reasoning cue) form one query, wherever they are. ``legacy_blocks``: consecutive blocks of 40 rows, a trailing partial block dropped.
    """
    if legacy_blocks:
        full = (frame.height // BLOCK_ROWS) * BLOCK_ROWS
        dropped = frame.height - full
        return frame.head(full).with_columns((pl.col(ROW) // BLOCK_ROWS).alias(GROUP)), dropped
    keyed = frame.with_columns(pl.col(ROW).min().over(KEY).alias(GROUP))
    return keyed, 0


def select_rows(frame: pl.DataFrame, *, setting: str, k: int, small_models: frozenset[str] | None = None,
                legacy_blocks: bool = False, drop_missing_responses: bool = True) -> Selection:
    """Rank and walk ``frame`` (columns ``_row``, ``llm``, ``_has_response``, ``_key`` unless
    ``legacy_blocks``, and as Float64 ``performance``, ``output_tokens_num`` and, for judge or
    hybrid, ``llm_judge``)."""
    grouped, dropped_rows = group_keys(frame, legacy_blocks)
    sizes = grouped.group_by(GROUP).len()
    groups, irregular = sizes.height, int((sizes.get_column("len") != BLOCK_ROWS).sum())
    skipped = 0
    if small_models is not None:
        keep = pl.col("llm").is_in(list(small_models)).fill_null(False)
        skipped = grouped.height - grouped.select(keep.sum()).item()
        grouped = grouped.filter(keep)
    first, second = RANK_KEYS[setting]
    # + 0.0 makes -0.0 equal to 0.0, as in the reference's sort.
    ranked = (grouped.with_columns((pl.col(first) + 0.0).alias("_k1"), (pl.col(second) + 0.0).alias("_k2"))
              .sort([GROUP, "_k1", "_k2", ROW], descending=[False, True, True, False], nulls_last=True)
              .drop("_k1", "_k2"))
    pos = pl.int_range(pl.len()).over(GROUP)
    ranked = ranked.with_columns(pos.alias(POS))
    stop = pl.when(pl.col("performance") == 0).then(pl.col(POS)).otherwise(_NO_STOP).min().over(GROUP)
    walked = pl.col(POS) < stop
    if drop_missing_responses:
        has_response = pl.col(HAS_RESPONSE)
        eligible = walked & has_response
    else:
        has_response = pl.lit(True)
        eligible = walked
    rank = eligible.cast(pl.Int64).cum_sum().over(GROUP)
    ranked = ranked.with_columns(
        (pl.col(POS) == 0).alias("is_label"),
        (eligible & (rank <= k) & pl.lit(setting != "baseline")).alias("is_candidate"),
        (walked & ~has_response & (rank < k) & pl.lit(setting != "baseline")).alias("_no_response"),
    )
    no_response = int(ranked.get_column("_no_response").sum())
    rows = ranked.filter(pl.col("is_label") | pl.col("is_candidate")).drop("_no_response")
    return Selection(rows, groups, skipped, no_response, dropped_rows, irregular)
