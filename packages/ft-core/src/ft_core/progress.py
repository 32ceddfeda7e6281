"""Logging and progress bars that degrade to plain log lines when stdout is not a terminal.

Example:
    >>> for shard in progress(shards, description="writing shards"):
    ...     write(shard)
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_CONFIGURED = False


def is_interactive() -> bool:
    """True when stderr is a terminal and ``FT_PLAIN_PROGRESS`` is not set."""
    return sys.stderr.isatty() and not os.environ.get("FT_PLAIN_PROGRESS")


def get_logger(name: str) -> logging.Logger:
    """A logger under the ``ft`` hierarchy, configured once (rich on a terminal, plain otherwise)."""
    global _CONFIGURED
    if not _CONFIGURED:
        root = logging.getLogger("ft")
        if not root.handlers:
            if is_interactive():
                from rich.logging import RichHandler  # rich only on a terminal: it costs ~0.3 s to import

                handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
                handler.setFormatter(logging.Formatter("%(message)s"))
            else:
                handler = logging.StreamHandler(sys.stderr)
                handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                                       datefmt="%H:%M:%S"))
            root.addHandler(handler)
            root.setLevel(os.environ.get("FT_LOG_LEVEL", "INFO").upper())
            root.propagate = False
        _CONFIGURED = True
    return logging.getLogger(name if name.startswith("ft") else f"ft.{name}")


def progress(items: Iterable[T], total: int | None = None, description: str = "working",
             log_every_s: float = 10.0) -> Iterator[T]:
    """Iterate ``items`` with a rich bar (ETA) on a terminal, or a log line every ``log_every_s`` seconds."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if is_interactive():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(description, total=total)
            for item in items:
                yield item
                bar.advance(task)
        return
    log = get_logger("ft.progress")
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= log_every_s or (total is not None and done == total):
            rate = done / max(now - start, 1e-9)
            eta = f", eta {((total - done) / rate):.0f}s" if total and rate > 0 else ""
            of = f"/{total}" if total is not None else ""
            log.info("%s: %d%s (%.1f/s%s)", description, done, of, rate, eta)
            last = now


class ProgressCounter:
    """A counter for work that finishes out of a loop (async results, worker pools): rich bar with
    rate and ETA on a terminal, else a log line every ``log_every_s`` seconds and at the end.

    ``unit`` names what is counted (``rows``); ``advance(n, tokens=k)`` also counts tokens, shown
    as tokens/s.

    Example:
        >>> with ProgressCounter(1000, "generating", unit="rows", done=200) as bar:
        ...     bar.advance(1, tokens=64)
    """

    def __init__(self, total: int | None, description: str, unit: str = "items", done: int = 0,
                 log_every_s: float = 10.0) -> None:
        self.total, self.description, self.unit = total, description, unit
        self.done, self.start_done, self.tokens = done, done, 0
        self.log_every_s = log_every_s
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressCounter:
        self._t0 = self._last = time.monotonic()
        if is_interactive():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TextColumn("eta"), TimeRemainingColumn())
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, completed=self.done, rate="")
        return self

    def rates(self) -> tuple[float, float]:
        """(units/s, tokens/s) of this run so far."""
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        return (self.done - self.start_done) / elapsed, self.tokens / elapsed

    def _line(self) -> str:
        rate, tok_rate = self.rates()
        of = f"/{self.total}" if self.total is not None else ""
        eta = f", eta {(self.total - self.done) / rate:.0f}s" if self.total and rate > 0 else ""
        toks = f", {tok_rate:.1f} tokens/s" if self.tokens else ""
        return f"{self.description}: {self.done}{of} {self.unit} ({rate:.2f} {self.unit}/s{toks}{eta})"

    def advance(self, n: int = 1, tokens: int = 0) -> None:
        self.done += n
        self.tokens += tokens
        if self._bar is not None:
            rate, tok_rate = self.rates()
            self._bar.update(self._task, advance=n,
                             rate=f"{rate:.2f} {self.unit}/s" + (f" {tok_rate:.0f} tok/s" if self.tokens else ""))
            return
        now = time.monotonic()
        if now - self._last >= self.log_every_s:
            get_logger("ft.progress").info("%s", self._line())
            self._last = now

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()
        get_logger("ft.progress").info("%s", self._line())
