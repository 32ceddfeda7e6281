"""Supervised fine-tuning rows: prompt masking, ``train_on_prompt``, ``mask_history``, truncation.

``encode_pairs`` reproduces LLaMA-Factory's rule token for token: turns are taken in order (or
last turn first with ``mask_history``) until ``cutoff_len`` is used up, each (source, target)
pair truncated with ``infer_seqlen`` against the budget left; source labels are IGNORE unless
``train_on_prompt``; with ``efficient_eos`` templates the first source token of every later turn
is labelled EOS (it is where the previous answer ends) and one EOS closes the sequence.

Example:
    >>> ids, labels = encode_pairs([([1, 2], [3, 4])], cutoff_len=8, train_on_prompt=False,
    ...                            mask_history=False, efficient_eos=False, eos_id=0)
    >>> labels
    [-100, -100, 3, 4]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..report import TOO_LONG
from .base import IGNORE_INDEX, Columns, Ctx, infer_seqlen, register_processor
from .parallel import Ragged, map_chunks


def encode_pairs(pairs: list[tuple[list[int], list[int]]], *, cutoff_len: int, train_on_prompt: bool,
                 mask_history: bool, efficient_eos: bool, eos_id: int | None) -> tuple[list[int], list[int]]:
    """``input_ids`` and ``labels`` of one conversation from its (source_ids, target_ids) turn pairs."""
    input_ids: list[int] = []
    labels: list[int] = []
    used = 1 if efficient_eos else 0
    ordered = pairs[::-1] if mask_history else pairs
    for turn, (source, target) in enumerate(ordered):
        if used >= cutoff_len:
            break
        source_len, target_len = infer_seqlen(len(source), len(target), cutoff_len - used)
        source, target = source[:source_len], target[:target_len]
        used += source_len + target_len
        if train_on_prompt:
            source_labels = list(source)
        elif efficient_eos and turn != 0 and source_len > 0:
            source_labels = [eos_id] + [IGNORE_INDEX] * (source_len - 1)
        else:
            source_labels = [IGNORE_INDEX] * source_len
        target_labels = [IGNORE_INDEX] * target_len if mask_history and turn != 0 else list(target)
        if mask_history:
            input_ids = source + target + input_ids
            labels = source_labels + target_labels + labels
        else:
            input_ids += source + target
            labels += source_labels + target_labels
    if efficient_eos:
        input_ids.append(eos_id)
        labels.append(eos_id)
    return input_ids, labels


def _multiturn(template: Any, mask_history: bool) -> Any:
    kwargs = {"mask_history": True} if mask_history else {}

    def encode(tokenizer: Any, row: dict[str, Any]) -> Any:
        return template.encode_multiturn(tokenizer, row["messages"], row["system"], row["tools"], **kwargs)

    return encode


def _encode_chunk(rows: Sequence[dict[str, Any]], ctx: Ctx, start: int) -> tuple[Ragged, Ragged]:
    """(input_ids, labels) of one chunk; rows the template rejects are reported and left out."""
    args = ctx.args
    ids_rows, label_rows = [], []
    for k, pairs in enumerate(ctx.encoder.map(_multiturn(ctx.template, args.mask_history), rows)):
        if isinstance(pairs, Exception):
            ctx.bad(start + k, "template error", f"{type(pairs).__name__}: {pairs}")
            continue
        ids, labels = encode_pairs(pairs, cutoff_len=args.cutoff_len, train_on_prompt=args.train_on_prompt,
                                   mask_history=args.mask_history, efficient_eos=ctx.efficient_eos,
                                   eos_id=ctx.eos_id)
        ids_rows.append(ids)
        label_rows.append(labels)
    return Ragged.from_lists(ids_rows), Ragged.from_lists(label_rows)


def encode_rows(rows: list[dict[str, Any]], ctx: Ctx) -> tuple[Ragged, Ragged]:
    """``input_ids`` and ``labels`` of every usable row (in order), chunked and maybe in parallel."""
    parts = map_chunks(_encode_chunk, rows, ctx)
    return Ragged.concat([p[0] for p in parts]), Ragged.concat([p[1] for p in parts])


@register_processor("sft")
def supervised(rows: list[dict[str, Any]], ctx: Ctx) -> Columns:
    """SFT rows: ``input_ids``, ``labels`` (prompt tokens IGNORE_INDEX); packed when ``packing`` is on."""
    ids, labels = encode_rows(rows, ctx)
    if ctx.args.packing_for(ctx.stage):
        return packed(ids, labels, ctx)
    return {"input_ids": ids, "labels": labels}


def greedy_knapsack(lengths: list[int], capacity: int) -> list[list[int]]:
    """Group item indices into bins of total length <= ``capacity``, largest-that-fits first.

    Items are visited shortest first; each bin is filled by repeatedly taking the longest
    remaining item that still fits (binary search over the sorted lengths).

    Example:
        >>> greedy_knapsack([5, 3, 4, 2], 7)
        [[0, 3], [2, 1]]
    """
    import bisect

    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    sorted_lengths = [lengths[i] for i in order]
    bins: list[list[int]] = []
    while order:
        room, current = capacity, []
        while True:
            k = bisect.bisect_right(sorted_lengths, room) - 1
            if k < 0:
                break
            room -= sorted_lengths.pop(k)
            current.append(order.pop(k))
        if not current:  # an item longer than capacity: never packable, stop rather than loop
            break
        bins.append(current)
    return bins


def packed(ids: Ragged, labels: Ragged, ctx: Ctx) -> Columns:
    """Packed SFT: conversations grouped into rows of at most ``cutoff_len`` tokens.

    ``position_ids`` restart at 0 for every packed conversation. With ``neat_packing`` the
    ``attention_mask`` holds the 1-based conversation index (1,1,2,2,2,...) that the collator
    turns into a block-diagonal mask; otherwise it is all ones. Rows are not padded here.
    """
    cutoff = ctx.args.cutoff_len
    lengths = ids.lengths
    # rows are already truncated to cutoff_len; only efficient_eos edge cases can exceed it
    keep = np.flatnonzero(lengths <= cutoff)
    for i in np.flatnonzero(lengths > cutoff):
        ctx.bad(int(i), TOO_LONG, f"{int(lengths[i])} tokens > cutoff_len {cutoff}")
    bins = greedy_knapsack(lengths[keep].tolist(), cutoff)
    order = keep[np.fromiter((m for b in bins for m in b), dtype=np.int64, count=sum(map(len, bins)))]
    seq_len = lengths[order]
    new_start = np.cumsum(seq_len) - seq_len  # where each conversation starts in the packed stream
    total = int(seq_len.sum())
    index = np.int32 if len(ids.values) < 2**31 - 1 else np.int64  # half the memory for the index arrays
    arange = np.arange(total, dtype=index)
    positions = (arange - np.repeat(new_start.astype(index), seq_len)).astype(np.int32, copy=False)
    arange += np.repeat((ids.offsets[:-1][order] - new_start).astype(index), seq_len)  # now: where to gather from
    new_ids, new_labels = ids.values[arange], labels.values[arange]
    del arange
    bin_sizes = np.fromiter((len(b) for b in bins), dtype=np.int64, count=len(bins))
    bin_first = np.cumsum(bin_sizes) - bin_sizes
    index_in_bin = np.arange(len(order), dtype=np.int64) - np.repeat(bin_first, bin_sizes) + 1
    if ctx.args.neat_packing:
        mask = np.repeat(index_in_bin, seq_len).astype(np.int32)
    else:
        mask = np.ones(total, dtype=np.int8)
    bin_lengths = np.add.reduceat(seq_len, bin_first) if len(bins) else np.zeros(0, np.int64)
    return {"input_ids": Ragged(new_ids, bin_lengths), "attention_mask": Ragged(mask, bin_lengths),
            "labels": Ragged(new_labels, bin_lengths), "position_ids": Ragged(positions, bin_lengths)}
