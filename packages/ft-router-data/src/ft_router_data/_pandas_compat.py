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


_SHORT_BYTES = 64  # longer cells are text for pandas whatever they hold (no number is that long)


def flag_exprs(column: str) -> list[pl.Expr]:
    """Per-row facts about ``column`` that decide its chunk's type (computed while scanning):
    whether the cell is missing, and the cell itself when it is short enough to be a number or a
    boolean (null otherwise). Long cells need no regex: they make their chunk text."""
    col = pl.col(column)
    na = col.is_null() | col.is_in(list(NA_STRINGS))
    short = pl.when(col.str.len_bytes() <= _SHORT_BYTES).then(col)
    return [na.alias(f"{column}__na"), short.alias(f"{column}__short")]


def chunk_kinds(flags: pl.DataFrame, column: str, n_columns: int) -> list[str]:
    """The type pandas gives ``column`` in each chunk (``int``, ``float``, ``bool`` or ``object``),
    after concatenation (int64 next to float64 becomes float64). ``flags`` holds ``_row`` and the
    ``flag_exprs`` columns of every row."""
    size = chunk_rows(n_columns)
    na, short = pl.col(f"{column}__na"), pl.col(f"{column}__short")
    chunk = (pl.col("_row") // size).alias("chunk")
    per_chunk = (flags.group_by(chunk)
                 .agg(pl.len().alias("n"), na.sum().alias("na"), (short.is_not_null() | na).all().alias("short"))
                 .sort("chunk"))
    kinds = []
    for index, n, n_na, all_short in per_chunk.iter_rows():
        if n_na == n:
            kinds.append("float")  # an all-NaN chunk is float64
        elif not all_short:
            kinds.append("object")
        else:  # rare (small logs): type the chunk's values like pandas
            values = flags.filter((pl.col("_row") // size == index) & ~na).get_column(f"{column}__short")
            if n_na == 0 and values.str.contains(_INT).all():
                kinds.append("int")
            elif values.str.contains(_FLOAT).all():
                kinds.append("float")
            elif values.is_in(list(_BOOL)).all():
                kinds.append("bool")
            else:
                kinds.append("object")
    if set(kinds) <= {"int", "float"} and "float" in kinds:
        kinds = ["float"] * len(kinds)
    return kinds


def _render(value: str, kind: str) -> str:
    if kind == "int":
        number = int(value)
        # pandas falls back to float64 beyond int64; rare enough to render as Python would.
        return str(number) if abs(number) <= _INT64_MAX else str(float(number))
    if kind == "float":
        return str(float(value.strip()))
    if kind == "bool":
        return _BOOL[value]
    return value


def pandas_str(values: pl.Series, rows: pl.Series, kinds: list[str], n_columns: int) -> pl.Series:
    """``str()`` of each cell as the reference sees it after ``pandas.read_csv`` (NaN -> ``"nan"``).

    ``rows`` are the cells' ``_row`` positions, ``kinds`` the result of ``chunk_kinds``. Text
    chunks are handled column-wise; only cells of typed (numeric/boolean) chunks go through Python.
    """
    size = chunk_rows(n_columns)
    na = (values.is_null() | values.is_in(list(NA_STRINGS))).fill_null(True)
    out = pl.select(pl.when(na).then(pl.lit("nan")).otherwise(values)).to_series().alias(values.name)
    kind = pl.Series(kinds, dtype=pl.String).gather(rows // size)
    special = (~na & (kind != "object")).arg_true()
    if special.len():
        rendered = [_render(v, k) for v, k in zip(values.gather(special).to_list(), kind.gather(special).to_list())]
        out = out.scatter(special, rendered)
    return out
