"""The predictions file of ``ft infer``: JSON lines appended in dataset order, resumable.

Each line is written whole and flushed; the file is fsync'd every ``sync_every`` rows and at the
end, so a killed run loses at most the rows after the last sync and never leaves half a line that
a resumed run would keep: ``open_for_resume`` drops a torn last line and continues after the last
whole one. Lines are ``{"prompt", "predict", "label"}``, ``ensure_ascii=False``, exactly as
LLaMA-Factory's vllm_infer.py writes them.

Example:
    >>> done = count_complete_rows(Path("generated_predictions.jsonl"))
    >>> with PredictionWriter(Path("generated_predictions.jsonl"), start_row=done) as out:
    ...     out.write({"prompt": "...", "predict": "...", "label": "..."})
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ft_core import DataError

__all__ = ["PredictionWriter", "count_complete_rows", "read_predictions"]

_KEYS = ("prompt", "predict", "label")


def _parse(line: bytes, path: Path, number: int) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {number} is not JSON ({exc.msg}); it was not written by ft infer — "
                        "use another save_name or overwrite=true") from exc
    if not isinstance(row, dict) or any(k not in row for k in _KEYS):
        raise DataError(f"{path}: line {number} lacks prompt/predict/label; use another save_name or overwrite=true")
    return row


def count_complete_rows(path: Path, *, repair: bool = True) -> int:
    """Whole rows in ``path`` (0 when absent). With ``repair``, a torn last line is cut off the file."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1  # bytes up to and including the last newline
    whole = data[:end]
    if repair and end < len(data):
        with path.open("r+b") as fh:
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())
    lines = whole.splitlines()
    for number, line in enumerate(lines, start=1):
        _parse(line, path, number)
    return len(lines)


def read_predictions(path: Path) -> list[dict[str, Any]]:
    """Every row of a predictions file (``DataError`` naming the line when one is not a prediction)."""
    if not path.exists():
        raise DataError(f"{path}: no such predictions file")
    rows = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                rows.append(_parse(line, path, number))
    return rows


class PredictionWriter:
    """Appends rows to ``path`` after ``start_row`` whole rows (0 truncates the file)."""

    def __init__(self, path: Path, start_row: int = 0, sync_every: int = 64, sync_every_s: float = 5.0) -> None:
        self.path = path
        self.rows = start_row
        self.sync_every = max(1, sync_every)
        self.sync_every_s = sync_every_s
        self._unsynced = 0
        self._last_sync = time.monotonic()
        self._fh: Any = None

    def __enter__(self) -> PredictionWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mode = "ab" if self.rows else "wb"
        self._fh = self.path.open(mode)
        return self

    def write(self, row: dict[str, Any]) -> None:
        line = json.dumps({k: row[k] for k in _KEYS}, ensure_ascii=False) + "\n"
        self._fh.write(line.encode("utf-8"))  # one write per whole line
        self._fh.flush()
        self.rows += 1
        self._unsynced += 1
        if self._unsynced >= self.sync_every or time.monotonic() - self._last_sync >= self.sync_every_s:
            self.sync()

    def sync(self) -> None:
        if self._fh is not None and self._unsynced:
            os.fsync(self._fh.fileno())
            self._unsynced = 0
            self._last_sync = time.monotonic()

    def __exit__(self, *exc: Any) -> None:
        self.sync()
        self._fh.close()
        self._fh = None
