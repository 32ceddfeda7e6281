"""What every stage processor shares: the context, the stage registry, and the Arrow output.

A processor takes aligned rows (see :mod:`ft_data.align`) and returns a ``Columns`` dict of
equal-length lists (``input_ids``, ``labels``, ...). Rows it cannot use are reported through
``ctx.bad(i, reason, detail)`` and left out. ``to_dataset`` turns the columns into a
``datasets.Dataset`` straight from Arrow arrays (no per-row Python conversion).

Example:
    >>> columns = PROCESSORS["sft"](rows, ctx)
    >>> to_dataset(columns).column_names
    ['input_ids', 'attention_mask', 'labels']
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._batch_encode import BatchEncoder
from ..args import DataArgs

IGNORE_INDEX = -100
CHUNK_ROWS = 2000

Columns = dict[str, list[Any]]
Processor = Callable[[list[dict[str, Any]], "Ctx"], Columns]
PROCESSORS: dict[str, Processor] = {}


def register_processor(*stages: str) -> Callable[[Processor], Processor]:
    """Decorator adding a processor for one or more stage names to ``PROCESSORS``."""

    def add(fn: Processor) -> Processor:
        for stage in stages:
            PROCESSORS[stage] = fn
        return fn

    return add


@dataclass
class Ctx:
    """Template, tokenizer and settings for one processing run; ``bad`` records a dropped row."""

    template: Any
    tokenizer: Any
    args: DataArgs
    stage: str
    on_bad: Callable[[int, str, str], None] = lambda i, reason, detail: None
    encoder: BatchEncoder = field(init=False)

    def __post_init__(self) -> None:
        self.encoder = BatchEncoder(self.tokenizer)

    @property
    def efficient_eos(self) -> bool:
        return bool(getattr(self.template, "efficient_eos", False))

    @property
    def eos_id(self) -> int:
        return self.tokenizer.eos_token_id

    def bad(self, i: int, reason: str, detail: str) -> None:
        self.on_bad(i, reason, detail)

    def chunks(self, n: int) -> range:
        return range(0, n, CHUNK_ROWS)


def infer_seqlen(source_len: int, target_len: int, cutoff_len: int) -> tuple[int, int]:
    """LLaMA-Factory's truncation rule: how many source and target tokens to keep within ``cutoff_len``.

    A short target keeps its length and the source gets the rest; a short source keeps its length;
    otherwise both shrink in proportion. Both sides keep their beginning.

    Example:
        >>> infer_seqlen(3000, 2000, 1000)
        (600, 400)
    """
    if target_len * 2 < cutoff_len:
        max_target = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target = cutoff_len - source_len
    else:
        max_target = int(cutoff_len * (target_len / (source_len + target_len)))
    new_target = min(max_target, target_len)
    new_source = min(max(cutoff_len - new_target, 0), source_len)
    return new_source, new_target


def _list_array(rows: Any) -> Any:
    import pyarrow as pa

    if hasattr(rows, "values") and hasattr(rows, "lengths"):  # a Ragged column
        return pa.ListArray.from_arrays(pa.array(rows.offsets.astype(np.int32)), pa.array(rows.values))
    if rows and isinstance(rows[0], list):
        return pa.array(rows, type=pa.list_(pa.int32()))
    return pa.array(rows)


def _ones_like(ids: Any) -> Any:
    import pyarrow as pa

    offsets = ids.offsets
    return pa.ListArray.from_arrays(offsets, pa.array(np.ones(len(ids.values), dtype=np.int8)))


def to_dataset(columns: Columns) -> Any:
    """A ``datasets.Dataset`` from equal-length column lists (token columns stored as int32 lists).

    Every ``*input_ids`` column without its ``*attention_mask`` gets one of ones (int8).
    """
    import datasets
    import pyarrow as pa

    arrays: dict[str, Any] = {}
    for name, values in columns.items():
        arrays[name] = _list_array(values)
        mask = name[: -len("input_ids")] + "attention_mask"
        if name.endswith("input_ids") and mask not in columns:
            arrays[mask] = _ones_like(arrays[name])
    # an explicit fingerprint: without one, datasets hashes the whole table (a transient full copy)
    return datasets.Dataset(pa.table(arrays), fingerprint=uuid.uuid4().hex)
