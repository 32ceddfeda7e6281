"""Chunked processing, in forked worker processes when the dataset is large enough to pay for them.

``map_chunks(fn, items, ctx)`` calls ``fn(chunk, ctx, start)`` on consecutive chunks of
``CHUNK_ROWS`` items. With more than one worker (``preprocessing_num_workers``; by default one per
CPU for datasets of at least ``PARALLEL_MIN_ROWS`` rows, on platforms that can fork) the chunks run
in a process pool that inherits the rows, template and tokenizer by ``fork`` (nothing is pickled on
the way in). Bad rows a worker finds are sent back and replayed in order through ``ctx.bad``, so
reports and ``on_bad_row: error`` behave as in one process.

``Ragged`` holds a column of token lists as one flat numpy array plus row lengths: cheap to send
between processes and to turn into an Arrow list array.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from .base import CHUNK_ROWS, Ctx

PARALLEL_MIN_ROWS = 4 * CHUNK_ROWS
MAX_AUTO_WORKERS = 8
_JOB: tuple | None = None


@dataclass
class Ragged:
    """Rows of ints as ``values`` (flat) and ``lengths``; indexing a row gives a list."""

    values: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_lists(cls, rows: Sequence[Sequence[int]], dtype: Any = np.int32) -> Ragged:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        values = np.fromiter(chain.from_iterable(rows), dtype=dtype, count=int(lengths.sum()))
        return cls(values, lengths)

    @classmethod
    def concat(cls, parts: Sequence[Ragged]) -> Ragged:
        if not parts:
            return cls(np.zeros(0, np.int32), np.zeros(0, np.int64))
        return cls(np.concatenate([p.values for p in parts]), np.concatenate([p.lengths for p in parts]))

    @property
    def offsets(self) -> np.ndarray:
        out = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=out[1:])
        return out

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> list[int]:
        offsets = self.offsets
        return self.values[offsets[i]: offsets[i + 1]].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        offsets = self.offsets
        for i in range(len(self.lengths)):
            yield self.values[offsets[i]: offsets[i + 1]].tolist()


def workers_for(ctx: Ctx, n_items: int) -> int:
    """How many processes to use for ``n_items`` rows (1 = this process)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    wanted = ctx.args.preprocessing_num_workers
    if wanted is None:
        wanted = min(os.cpu_count() or 1, MAX_AUTO_WORKERS) if n_items >= PARALLEL_MIN_ROWS else 1
    return max(1, min(wanted, -(-n_items // CHUNK_ROWS)))


def _run(start: int) -> tuple[Any, list[tuple[int, str, str]]]:
    fn, items, ctx = _JOB  # type: ignore[misc]
    bad: list[tuple[int, str, str]] = []
    ctx.on_bad = lambda i, reason, detail: bad.append((i, reason, detail))
    return fn(items[start: start + CHUNK_ROWS], ctx, start), bad


def map_chunks(fn: Callable[[Sequence[Any], Ctx, int], Any], items: Sequence[Any], ctx: Ctx) -> list[Any]:
    """``[fn(chunk, ctx, start) for each chunk]``, in worker processes when worthwhile."""
    global _JOB
    starts = list(range(0, len(items), CHUNK_ROWS))
    workers = workers_for(ctx, len(items))
    if workers <= 1:
        return [fn(items[s: s + CHUNK_ROWS], ctx, s) for s in starts]
    # the Rust tokenizer's own thread pool cannot survive a fork; the workers are the parallelism
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _JOB = (fn, items, ctx)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_run, starts, chunksize=1)
    finally:
        _JOB = None
    out = []
    for value, bad in results:
        for i, reason, detail in bad:
            ctx.bad(i, reason, detail)
        out.append(value)
    return out
