"""Alpaca records as the JSON text the reference writes, produced quickly.

The reference writes ``json.dump(records, f, ensure_ascii=False, indent=2)``: UTF-8, non-ASCII
kept, two-space indentation, no trailing newline. ``json.dump`` with an indent runs the
pure-Python encoder; this module lays out the same text around a string encoder: Python's C
encoder for small inputs, polars' (serde_json, the same escapes: ``"``, ``\\`` and control
characters) for frames, which is several times faster on large sets. Tests check that the
texts are identical to ``json.dumps``.

Example:
    >>> alpaca_json([("Do it.", "2+2?", "4")]) == json.dumps(
    ...     [{"instruction": "Do it.", "input": "2+2?", "output": "4"}], ensure_ascii=False, indent=2)
    True
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from ft_core import atomic_open

_encode = json.encoder.encode_basestring  # the ensure_ascii=False string encoder (C when available)


def alpaca_records_json(records: Iterable[Sequence[str]]) -> list[str]:
    """One JSON object text per ``(instruction, input, output)``, indented as items of a list."""
    cache: dict[str, str] = {}
    out = []
    for instruction, query, response in records:
        head = cache.get(instruction)
        if head is None:
            head = cache[instruction] = '  {\n    "instruction": ' + _encode(instruction)
        out.append(head + ',\n    "input": ' + _encode(query) + ',\n    "output": ' + _encode(response) + "\n  }")
    return out


def alpaca_json(records: Iterable[Sequence[str]], repeat: int = 1) -> str:
    """The whole array text for ``records`` (the list concatenated ``repeat`` times)."""
    items = alpaca_records_json(records) * repeat
    if not items:
        return "[]"
    return "[\n" + ",\n".join(items) + "\n]"


def _encoded(column: str) -> pl.Expr:
    # {"c":"..."} -> "..." : serde_json escapes exactly what json.dumps(ensure_ascii=False) does.
    return (pl.struct(pl.col(column).fill_null("")).struct.json_encode()
            .str.strip_prefix('{"' + column + '":').str.strip_suffix("}"))


def _items(frame: pl.DataFrame, instruction: str) -> pl.DataFrame:
    head = '  {\n    "instruction": ' + _encode(instruction) + ',\n    "input": '
    return frame.select(pl.concat_str([pl.lit(head), _encoded("input"), pl.lit(',\n    "output": '),
                                       _encoded("output"), pl.lit("\n  }")]).alias("item"))


def alpaca_frame_json(frame: pl.DataFrame, instruction: str, repeat: int = 1) -> str:
    """The array text for a frame with ``input`` and ``output`` columns (same bytes as ``alpaca_json``)."""
    if frame.height == 0 or repeat <= 0:
        return "[]"
    items = _items(frame, instruction).select(pl.col("item").str.join(",\n")).item()
    return "[\n" + ",\n".join([items] * repeat) + "\n]"


def write_alpaca_json(path: str | Path, frame: pl.DataFrame, instruction: str, repeat: int = 1) -> Path:
    """Write ``alpaca_frame_json(frame, ...)`` to ``path`` atomically, streamed from polars.

    The records go from polars to the file without being assembled into one Python string
    (two copies of a ~100 MB text), hence ``atomic_open`` rather than ``atomic_write_bytes``.
    """
    with atomic_open(path) as fh:
        if frame.height == 0 or repeat <= 0:
            fh.write(b"[]")
        else:
            items = _items(frame, instruction)
            fh.write(b"[\n")
            for _ in range(repeat):  # every item followed by ",\n"; the last separator is cut below
                items.write_csv(fh, include_header=False, quote_style="never", line_terminator=",\n")
            fh.seek(-2, os.SEEK_END)
            fh.truncate()
            fh.write(b"\n]")
    return Path(path)
