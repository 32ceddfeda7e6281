"""Reading routing logs (CSV, JSONL or Parquet) lazily and column by column.

Logs are scanned with polars: only the columns a step needs are materialised (the stringified
embeddings and descriptions that make up much of a FusionBench CSV are never loaded), CSV
cells stay text (no type guessing), and every row keeps two positions: ``_raw`` (its index in
the file's record stream, used to fetch it again) and ``_row`` (0-based position among
non-blank rows, as pandas counts them: it breaks ranking ties and cuts legacy blocks).

The usual flow reads the small columns of every row first, decides which rows are needed,
then fetches the long texts of those rows only (``LogSource.fetch``), which keeps a
million-row log within a few hundred MB.

Example:
    >>> source = LogSource("router_data.csv")
    >>> frame = source.collect(["task_name", "llm", "performance"])
    >>> frame.columns
    ['_raw', 'task_name', 'llm', 'performance', '_row']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from ft_core import DataError

ROW = "_row"
RAW = "_raw"
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum, pl.Null)


def log_format(path: str | Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the file suffix (``DataError`` otherwise)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"{path}: unknown routing-log format {suffix or '(no suffix)'!r}; "
                        f"use one of {', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class LogSource:
    """One routing-log file: its format, columns, and lazy scans of chosen columns as text."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"{self.path}: routing log not found")
        if not self.path.is_file():
            raise DataError(f"{self.path}: is not a file; give the routing log file (CSV, JSONL or Parquet)")
        if self.path.stat().st_size == 0:
            raise DataError(f"{self.path}: empty file; a routing log needs a header and rows")
        self.format = log_format(self.path)
        try:
            self.schema = dict(self._scan().collect_schema())
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise DataError(f"{self.path}: cannot read as a {self.format} routing log ({_first_line(exc)})") from exc
        self.columns = list(self.schema)

    def _scan(self) -> pl.LazyFrame:
        if self.format == "csv":
            return pl.scan_csv(self.path, infer_schema=False, encoding="utf8", raise_if_empty=True)
        if self.format == "jsonl":
            return pl.scan_ndjson(self.path, infer_schema_length=None)
        return pl.scan_parquet(self.path)

    def require(self, columns: Sequence[str]) -> None:
        """``DataError`` naming the missing ones when the log lacks any of ``columns``."""
        missing = [c for c in columns if c not in self.schema]
        if missing:
            raise DataError(f"{self.path}: missing column(s) {', '.join(missing)}; this step needs "
                            f"{', '.join(columns)} (found: {', '.join(self.columns[:20]) or 'none'})")

    def _text(self, columns: Sequence[str]) -> list[pl.Expr]:
        out = []
        for col in columns:
            dtype = self.schema[col]
            if isinstance(dtype, pl.Struct) and col in ("performance", "llm_judge"):
                out.append(pl.col(col).struct.json_encode())  # {"pass@1": 1.0} objects in JSONL
            elif isinstance(dtype, pl.List | pl.Array | pl.Struct | pl.Object):
                raise DataError(f"{self.path}: column {col!r} holds {dtype} values; expected text or numbers")
            elif not isinstance(dtype, _TEXT_TYPES):
                out.append(pl.col(col).cast(pl.String))
            else:
                out.append(pl.col(col))
        return out

    def _run(self, lazy: pl.LazyFrame) -> pl.DataFrame:
        try:
            return lazy.collect(engine="streaming")
        except pl.exceptions.PolarsError as exc:
            raise DataError(f"{self.path}: cannot read as {self.format} ({_first_line(exc)})") from exc

    def collect(self, columns: Sequence[str], derived: Sequence[pl.Expr] = (),
                drop: Sequence[str] = ()) -> pl.DataFrame:
        """Every non-blank row: ``_raw``, ``columns`` as text, ``derived`` expressions, ``_row``.

        ``drop`` names columns needed only by ``derived`` (e.g. the query text behind a hash),
        so they are never held for the whole file.
        """
        self.require(columns)
        lazy = self._scan().with_row_index(RAW).select(RAW, *self._text(columns))
        # A blank CSV line comes back as a row of nulls; pandas (the reference) skips it.
        lazy = lazy.filter(~pl.all_horizontal([pl.col(c).is_null() for c in columns]))
        if derived:
            lazy = lazy.with_columns(derived)
        frame = self._run(lazy.drop(drop) if drop else lazy)
        if frame.height == 0:
            raise DataError(f"{self.path}: no rows; a routing log needs one row per (query, LLM, mode)")
        return frame.with_row_index(ROW).select(pl.exclude(ROW), pl.col(ROW))

    def fetch(self, raw: pl.Series, columns: Sequence[str]) -> pl.DataFrame:
        """``columns`` of the rows whose ``_raw`` positions are in ``raw`` (file order)."""
        self.require(columns)
        wanted = raw.unique()
        lazy = (self._scan().with_row_index(RAW).filter(pl.col(RAW).is_in(wanted.implode()))
                .select(RAW, *self._text(columns)))
        return self._run(lazy)


def read_log(path: str | Path, columns: Sequence[str]) -> pl.DataFrame:
    """All non-blank rows of ``columns`` (as text) plus ``_raw`` and ``_row``; ``DataError`` on bad input."""
    return LogSource(path).collect(columns)
