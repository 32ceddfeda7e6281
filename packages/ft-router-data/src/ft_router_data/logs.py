"""Reading routing logs (CSV, JSONL or Parquet) lazily and column by column.

Logs are scanned with polars: only the columns a step needs are materialised (the stringified
embeddings and descriptions that make up much of a FusionBench CSV are never loaded), CSV
cells stay text (no type guessing), and every row keeps two positions: ``_raw`` (its index in
the file's record stream, used to fetch it again) and ``_row`` (0-based position among
non-blank rows, as pandas counts them: it breaks ranking ties and cuts legacy blocks).

By default a log goes through polars' lazy scan (fast, multi-threaded). With ``streamed=True``
(and always in ``fetch``) a CSV log is cut into blocks of whole records (~32 MB; a newline ends
a record when the number of ``"`` before it is even, which holds for quoted multi-line fields),
each block is parsed, reduced (columns dropped, expressions computed, kept strings copied out
of the block) and only then kept, so memory holds what is kept plus about one block. The
low-memory flow reads the small columns of every row first, decides which rows are needed,
then fetches the long texts of those rows only.

Example:
    >>> source = LogSource("router_data.csv")
    >>> frame = source.collect(["task_name", "llm", "performance"])
    >>> frame.columns
    ['_raw', 'task_name', 'llm', 'performance', '_row']
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from ft_core import DataError

ROW = "_row"
RAW = "_raw"
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum, pl.Null)
BLOCK_BYTES = 32 << 20


def csv_record_blocks(path: str | Path, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The bytes of a CSV file in blocks that end at record boundaries (header in the first block).

    A newline ends a record when the count of ``"`` before it is even (RFC 4180 quoting:
    doubled quotes inside a field keep the parity), so a block never splits a quoted field.
    """
    with Path(path).open("rb") as fh:
        carry = b""
        while True:
            block = fh.read(block_bytes)
            if not block:
                if carry:
                    yield carry
                return
            data = carry + block
            total = data.count(b'"')  # every block starts at a record boundary: parity 0
            end, after = len(data), 0
            while True:
                newline = data.rfind(b"\n", 0, end)
                if newline < 0:
                    carry = data
                    break
                after += data.count(b'"', newline, end)
                if (total - after) % 2 == 0:
                    yield data[:newline + 1]
                    carry = data[newline + 1:]
                    break
                end = newline


def _compact(frame: pl.DataFrame) -> pl.DataFrame:
    """Copy the string columns into fresh buffers: a filtered string column is a set of views
    into the whole block's text, which would otherwise stay alive with it."""
    strings = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(pl.concat_str([pl.col(c), pl.lit("")]).alias(c) for c in strings)


def _drop_header(block: bytes) -> bytes:
    end, quotes = 0, 0
    while True:
        newline = block.find(b"\n", end)
        if newline < 0:
            return b""
        quotes += block.count(b'"', end, newline)
        end = newline + 1
        if quotes % 2 == 0:
            return block[end:]


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

    def _frames(self, columns: Sequence[str]) -> Iterator[pl.DataFrame]:
        """``columns`` (as text) of consecutive slices of the log, in file order."""
        if self.format != "csv":
            yield self._run(self._scan().select(self._text(columns)))
            return
        indices = [self.columns.index(c) for c in columns]
        for i, block in enumerate(csv_record_blocks(self.path, BLOCK_BYTES)):  # read at call time (tests shrink it)
            data = _drop_header(block) if i == 0 else block
            if not data or data.isspace():
                continue
            try:
                frame = pl.read_csv(io.BytesIO(data), has_header=False, new_columns=self.columns, columns=indices,
                                    infer_schema=False, encoding="utf8", raise_if_empty=False)
            except pl.exceptions.PolarsError as exc:
                raise DataError(f"{self.path}: cannot read as csv ({_first_line(exc)})") from exc
            yield frame.select(columns)

    def _run(self, lazy: pl.LazyFrame) -> pl.DataFrame:
        try:
            return lazy.collect(engine="streaming")
        except pl.exceptions.PolarsError as exc:
            raise DataError(f"{self.path}: cannot read as {self.format} ({_first_line(exc)})") from exc

    def collect(self, columns: Sequence[str], derived: Sequence[pl.Expr] = (),
                drop: Sequence[str] = (), streamed: bool = False) -> pl.DataFrame:
        """Every non-blank row: ``_raw``, ``columns`` as text, ``derived`` expressions, ``_row``.

        ``drop`` names columns needed only by ``derived`` (e.g. the query text behind a hash).
        ``streamed``: read a CSV block by block, keeping only the reduced, compacted columns
        of each block (bounded memory, about half the speed of polars' own scan).
        """
        self.require(columns)
        if streamed and self.format == "csv":
            frame = self._collect_blocks(columns, derived, drop)
        else:
            lazy = self._scan().with_row_index(RAW).select(RAW, *self._text(columns))
            # A blank CSV line comes back as a row of nulls; pandas (the reference) skips it.
            lazy = lazy.filter(~pl.all_horizontal([pl.col(c).is_null() for c in columns]))
            if derived:
                lazy = lazy.with_columns(derived)
            frame = self._run(lazy.drop(drop) if drop else lazy)
        if frame.height == 0:
            raise DataError(f"{self.path}: no rows; a routing log needs one row per (query, LLM, mode)")
        return frame.with_row_index(ROW).select(pl.exclude(ROW), pl.col(ROW))

    def _collect_blocks(self, columns: Sequence[str], derived: Sequence[pl.Expr], drop: Sequence[str]) -> pl.DataFrame:
        parts, offset = [], 0
        for frame in self._frames(columns):
            height = frame.height
            frame = frame.with_row_index(RAW, offset=offset)
            offset += height
            frame = frame.filter(~pl.all_horizontal([pl.col(c).is_null() for c in columns]))
            if derived:
                frame = frame.with_columns(derived)
            parts.append(_compact(frame.drop(drop) if drop else frame))
        return pl.concat(parts) if parts else pl.DataFrame()

    def fetch(self, raw: pl.Series, columns: Sequence[str]) -> pl.DataFrame:
        """``columns`` of the rows whose ``_raw`` positions are in ``raw`` (file order)."""
        self.require(columns)
        wanted = raw.unique().implode()
        parts, offset = [], 0
        for frame in self._frames(columns):
            height = frame.height
            parts.append(_compact(frame.with_row_index(RAW, offset=offset).filter(pl.col(RAW).is_in(wanted))))
            offset += height
        return pl.concat(parts) if parts else pl.DataFrame(schema={RAW: pl.UInt32, **{c: pl.String for c in columns}})


def read_log(path: str | Path, columns: Sequence[str]) -> pl.DataFrame:
    """All non-blank rows of ``columns`` (as text) plus ``_raw`` and ``_row``; ``DataError`` on bad input."""
    return LogSource(path).collect(columns)
