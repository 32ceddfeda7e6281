"""Alpaca records as the JSON text the reference writes, produced quickly.

The reference writes ``json.dump(records, f, ensure_ascii=False, indent=2)``: UTF-8, non-ASCII
kept, two-space indentation, no trailing newline. ``json.dump`` with an indent runs the
pure-Python encoder; this module lays out the same text around the C string encoder, which is
several times faster on large sets (tests check that both texts are identical).

Example:
    >>> alpaca_json([("Do it.", "2+2?", "4")]) == json.dumps(
    ...     [{"instruction": "Do it.", "input": "2+2?", "output": "4"}], ensure_ascii=False, indent=2)
    True
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

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
