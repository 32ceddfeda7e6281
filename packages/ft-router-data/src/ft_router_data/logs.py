"""Reading routing logs (CSV, JSONL or Parquet) into a columnar frame, only the columns needed.

Logs are scanned lazily with polars: only the requested columns are materialised (the
stringified embeddings and descriptions that make up much of a FusionBench CSV are never
loaded), CSV cells stay text (no type guessing), and ``_row`` holds each row's position in the
file (0-based, blank lines not counted), which breaks ranking ties and names rows in errors.

Example:
    >>> frame = read_log("router_data.csv", ["task_name", "query", "llm"])
    >>> frame.columns
    ['_row', 'task_name', 'query', 'llm']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from ft_core import DataError

ROW = "_row"
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum, pl.Null)


def log_format(path: str | Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the file suffix (``DataError`` otherwise)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"{path}: unknown routing-log format {suffix or '(no suffix)'!r}; "
                        f"use one of {', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


def _scan(path: Path, fmt: str) -> pl.LazyFrame:
    if fmt == "csv":
        return pl.scan_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=True)
    if fmt == "jsonl":
        return pl.scan_ndjson(path, infer_schema_length=None)
    return pl.scan_parquet(path)


def log_columns(path: str | Path) -> list[str]:
    """The column names of a log file (header of a CSV, schema of JSONL/Parquet)."""
    source = _checked_path(path)
    try:
        return list(_scan(source, log_format(source)).collect_schema().names())
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise DataError(f"{source}: cannot read as a routing log ({_first_line(exc)})") from exc


def _checked_path(path: str | Path) -> Path:
    source = Path(path)
    if not source.exists():
        raise DataError(f"{source}: routing log not found")
    if not source.is_file():
        raise DataError(f"{source}: is not a file; give the routing log file (CSV, JSONL or Parquet)")
    if source.stat().st_size == 0:
        raise DataError(f"{source}: empty file; a routing log needs a header and rows")
    return source


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_log(path: str | Path, columns: Sequence[str], *, optional: Sequence[str] = ()) -> pl.DataFrame:
    """Load ``columns`` (all required) and the present ones of ``optional`` as text, plus ``_row``.

    Raises ``DataError`` (exit 2) for a missing, empty or unreadable file, missing columns,
    nested values (lists, objects) in a column, or a log without rows. Numbers in JSONL and
    Parquet logs are turned into their text form, so every column is parsed the same way.
    """
    source = _checked_path(path)
    fmt = log_format(source)
    present = log_columns(source)
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}; a routing log needs "
                        f"{', '.join(columns)} (found: {', '.join(present[:20]) or 'none'})")
    wanted = list(dict.fromkeys([*columns, *(c for c in optional if c in present)]))
    lazy = _scan(source, fmt).select(wanted)
    try:
        schema = lazy.collect_schema()
        nested = [(c, t) for c, t in schema.items() if isinstance(t, pl.List | pl.Array | pl.Struct)
                  and c != "performance"]
        if nested:
            col, dtype = nested[0]
            raise DataError(f"{source}: column {col!r} holds {dtype} values; expected text or numbers")
        casts = []
        for col, dtype in schema.items():
            if isinstance(dtype, pl.Struct):  # {"pass@1": 1.0} objects in a JSONL performance column
                casts.append(pl.col(col).struct.json_encode())
            elif not isinstance(dtype, _TEXT_TYPES):
                casts.append(pl.col(col).cast(pl.String))
        frame = lazy.with_columns(casts).collect(engine="streaming")
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{source}: cannot read as {fmt} ({_first_line(exc)})") from exc
    # A blank line of a CSV comes back as a row of nulls; pandas (the reference) skips it.
    frame = frame.filter(~pl.all_horizontal(pl.all().is_null()))
    if frame.height == 0:
        raise DataError(f"{source}: no rows; a routing log needs one row per (query, LLM, mode)")
    return frame.with_row_index(ROW)
