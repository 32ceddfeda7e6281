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
from typing import TypeVar

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
