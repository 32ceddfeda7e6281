"""Validation report: every bad row counted by reason, with its file and row number.

Loaders and converters raise ``BadRow(reason, detail)``; the pipeline records it here instead of
dropping the row silently. ``on_bad_row: error`` stops at the first bad row; ``skip`` (default)
keeps going and logs a summary with the first examples. When no valid row is left the pipeline
raises a ``DataError`` built from this report.

Example:
    >>> report = ValidationReport("alpaca_rg")
    >>> report.add("empty content", "data.json", 3, "'output' is empty")
    >>> report.summary()
    "alpaca_rg: 1 bad row skipped (empty content: 1); first: data.json row 3: 'output' is empty"
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ft_core import DataError

# Reasons, named once so that reports and tests agree on the wording.
MISSING_COLUMN = "missing column"
WRONG_ROLE_ORDER = "wrong role order"
UNKNOWN_ROLE = "unknown role"
EMPTY_CONTENT = "empty content"
NOT_A_STRING = "not a string"
BAD_JSON = "unparseable JSON"
NOT_AN_OBJECT = "row is not an object"
BAD_MESSAGE = "malformed message"
WRONG_COUNT = "wrong message count"
BAD_TOOLS = "invalid tools"
BAD_TAG = "invalid kto_tag"
BAD_RANKING = "invalid chosen/rejected"
TOO_LONG = "too long"
NO_RESPONSE = "no response"
EMPTY_TEXT = "empty text"


class BadRow(Exception):
    """A row that cannot be used: ``reason`` is one of this module's constants, ``detail`` says what."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class BadRowRecord:
    reason: str
    file: str
    row: int
    detail: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row}: {self.detail}"


@dataclass
class ValidationReport:
    """Counts of bad rows by reason for one dataset, plus the first ``keep`` examples."""

    dataset: str
    on_bad_row: str = "skip"
    keep: int = 5
    total: int = 0
    counts: Counter = field(default_factory=Counter)
    examples: list[BadRowRecord] = field(default_factory=list)

    @property
    def bad(self) -> int:
        return sum(self.counts.values())

    @property
    def good(self) -> int:
        return self.total - self.bad

    def add(self, reason: str, file: str, row: int, detail: str) -> None:
        """Record one bad row; with ``on_bad_row: error`` raise ``DataError`` at once."""
        record = BadRowRecord(reason, file, row, detail)
        if self.on_bad_row == "error":
            raise DataError(f"{self.dataset}: {reason}: {record} (set on_bad_row: skip to skip bad rows)")
        self.counts[reason] += 1
        if len(self.examples) < self.keep:
            self.examples.append(record)

    def merge(self, other: ValidationReport) -> None:
        self.total += other.total
        self.counts.update(other.counts)
        self.examples.extend(other.examples[: max(self.keep - len(self.examples), 0)])

    def summary(self) -> str:
        """One line: how many rows were skipped, by reason, and the first example."""
        if not self.bad:
            return f"{self.dataset}: {self.total} rows, none bad"
        reasons = ", ".join(f"{r}: {n}" for r, n in self.counts.most_common())
        rows = "row" if self.bad == 1 else "rows"
        return f"{self.dataset}: {self.bad} bad {rows} skipped ({reasons}); first: {self.examples[0]}"

    def details(self) -> list[str]:
        """The first examples, one line each (``reason: file row N: detail``)."""
        return [f"{e.reason}: {e}" for e in self.examples]

    def check_not_empty(self) -> None:
        """Raise ``DataError`` when no valid row is left, saying why with the counts."""
        if self.good > 0:
            return
        if self.total == 0:
            raise DataError(f"{self.dataset}: no rows found (the file or folder is empty)")
        reasons = ", ".join(f"{r}: {n}" for r, n in self.counts.most_common())
        first = f"; first: {self.examples[0]}" if self.examples else ""
        raise DataError(f"{self.dataset}: no valid row left: all {self.total} rows are bad ({reasons}){first}")

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "total": self.total, "bad": self.bad, "counts": dict(self.counts),
                "examples": [e.__dict__ for e in self.examples]}
