"""Parsing score cells (``performance``, ``llm_judge``) and token counts of a routing log.

A score cell is a number, a numeric string, or a stringified dict such as
``{'pass@1': np.float64(1.0)}`` (code tasks), whose ``pass@1`` value is the score. Empty cells
and the usual missing markers (``nan``, ``None``, ``NA``, ...) are *missing*; anything else that
yields no number is *unparseable*: it is counted and reported, and treated as missing, never
turned into a score.

Example:
    >>> parse_score("{'pass@1': np.float64(1.0)}")
    1.0
    >>> parse_score("0"), parse_score(""), parse_score("maybe")
    (0.0, None, None)
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

# pandas' default missing-value markers: the reference reads its CSV with pandas, so these
# strings are missing there, not text.
NA_STRINGS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})
_NP_WRAPPER = re.compile(r"np\.float64\((.*?)\)")


def _from_mapping(value: Mapping[Any, Any]) -> float | None:
    if "pass@1" not in value:
        return None
    try:
        out = float(value["pass@1"])
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def parse_score(value: Any) -> float | None:
    """One score cell as a float, or ``None`` when missing or unparseable.

    Numbers are taken as they are; a string is tried as a number, then (after removing
    ``np.float64(...)`` wrappers) as a Python literal whose ``pass@1`` entry is the score.
    """
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        out = float(value)
        return None if math.isnan(out) else out
    if isinstance(value, Mapping):
        return _from_mapping(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        out = float(text)
        return None if math.isnan(out) else out
    except ValueError:
        pass
    try:
        literal = ast.literal_eval(_NP_WRAPPER.sub(r"\1", text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return _from_mapping(literal) if isinstance(literal, dict) else None


def is_missing_cell(value: Any) -> bool:
    """True for an empty/NA-marker string, ``None`` or NaN (a missing cell, not an unparseable one)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip() in NA_STRINGS


@dataclass
class ColumnReport:
    """What parsing one numeric column found: counts and a few unparseable examples (row, value)."""

    column: str
    parsed: int = 0
    missing: int = 0
    unparseable: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "parsed": self.parsed, "missing": self.missing,
                "unparseable": self.unparseable, "examples": [list(e) for e in self.examples]}


def parse_score_series(raw: pl.Series, rows: pl.Series | None = None) -> tuple[pl.Series, ColumnReport]:
    """Vectorised ``parse_score`` over a column of strings; returns Float64 values (null = missing).

    Plain numbers are cast in bulk; only the few distinct non-numeric strings (dict cells) go
    through the Python parser. ``rows`` (1-based file rows) name unparseable examples.
    """
    name = raw.name
    text = raw.cast(pl.String).str.strip_chars()
    missing = text.is_null() | text.is_in(list(NA_STRINGS))
    number = text.cast(pl.Float64, strict=False).fill_nan(None)
    needs_python = ~missing & number.is_null()
    if needs_python.any():
        odd = text.filter(needs_python).unique()
        mapping = {value: parse_score(value) for value in odd.to_list()}
        looked_up = text.replace_strict(mapping, default=None, return_dtype=pl.Float64)
        number = pl.select(pl.when(needs_python).then(looked_up).otherwise(number)).to_series()
    number = number.alias(name)
    bad = needs_python & number.is_null()
    report = ColumnReport(name, parsed=int(number.is_not_null().sum()), missing=int(missing.sum()),
                          unparseable=int(bad.sum()))
    if report.unparseable:
        where = bad.arg_true()[:3].to_list()
        values = text.gather(where).to_list()
        labels = rows.gather(where).to_list() if rows is not None else [i + 1 for i in where]
        report.examples = [(int(r), str(v)[:60]) for r, v in zip(labels, values)]
    return number, report


def parse_number_series(raw: pl.Series) -> pl.Series:
    """Token counts and other plain numbers: Float64, invalid or missing -> null (like ``to_numeric``)."""
    return raw.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False).fill_nan(None)
