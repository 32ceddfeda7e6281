"""How the reference's ``pandas.read_csv`` types a CSV cell, for byte-compatible legacy output.

The reference reads its CSV with pandas' C parser in low-memory mode: the file is typed in
chunks of ``buffer_lines`` rows (a power of two near 2**20 / number of columns; 32,768 rows for
the 18 FusionBench columns), and inside a chunk a column whose cells all look like integers
becomes int64, like floats float64 (also integers with a missing cell), like ``True``/``False``
bool, else text. Missing markers (``""``, ``NA``, ``None``, ``nan`` ...) are NaN everywhere.
Chunks are then concatenated: int64 next to float64 becomes float64 (``7`` prints as ``7.0``),
any other mixture keeps each chunk's values. The reference finally calls ``str()`` on the
cells it writes out, so this module renders each cell as that ``str()`` would.

In real logs the text columns are text in every chunk and only the missing markers matter
(a missing response is written as ``"nan"``); the numeric cases show up in small logs.

Example:
    >>> chunk_rows(18)
    32768
"""

from __future__ import annotations

import polars as pl

from .parsing import NA_STRINGS

_INT = r"^\s*[+-]?\d+\s*$"
_FLOAT = r"^\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|(?i:inf|infinity))\s*$"
_BOOL = {"True": "True", "TRUE": "True", "true": "True", "False": "False", "FALSE": "False", "false": "False"}
_INT64_MAX = 2**63 - 1


def chunk_rows(n_columns: int) -> int:
    """Rows per typing chunk of pandas' low-memory C parser for a table ``n_columns`` wide."""
    heuristic = 2**20 // max(n_columns, 1)
    rows = 1
    while rows * 2 < heuristic:
        rows *= 2
    return rows


def is_na(raw: pl.Series) -> pl.Series:
    """True where pandas would read NaN (empty or a default missing marker)."""
    return raw.is_null() | raw.is_in(list(NA_STRINGS))


def _kind(chunk: pl.Series, na: pl.Series) -> str:
    values = chunk.filter(~na)
    if values.len() == 0:
        return "float"  # an all-NaN chunk is float64
    if not na.any() and values.str.contains(_INT).all():
        as_ints = [int(v) for v in values.unique().to_list()]
        if all(abs(v) <= _INT64_MAX for v in as_ints):
            return "int"
    if values.str.contains(_FLOAT).all():
        return "float"
    if values.is_in(list(_BOOL)).all():
        return "bool"
    return "object"


def _render(value: str, kind: str) -> str:
    if kind == "int":
        return str(int(value))
    if kind == "float":
        return str(float(value.strip()))
    if kind == "bool":
        return _BOOL[value]
    return value


def pandas_str(raw: pl.Series, n_columns: int) -> pl.Series:
    """``str()`` of each cell as the reference sees it after ``pandas.read_csv`` (NaN -> ``"nan"``)."""
    size = chunk_rows(n_columns)
    na = is_na(raw)
    kinds = [_kind(raw.slice(start, size), na.slice(start, size)) for start in range(0, raw.len(), size)]
    if set(kinds) <= {"int", "float"} and "float" in kinds:
        kinds = ["float"] * len(kinds)  # int64 and float64 chunks concatenate to float64
    parts = []
    for i, kind in enumerate(kinds):
        chunk = raw.slice(i * size, size)
        chunk_na = na.slice(i * size, size)
        if kind != "object":
            mapping = {v: _render(v, kind) for v in chunk.filter(~chunk_na).unique().to_list()}
            chunk = chunk.replace_strict(mapping, default=None, return_dtype=pl.String)
        parts.append(pl.select(pl.when(chunk_na).then(pl.lit("nan")).otherwise(chunk)).to_series())
    return pl.concat(parts).alias(raw.name) if parts else raw
