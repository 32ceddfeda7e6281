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

from typing import Any

from ..report import TOO_LONG
from .base import CHUNK_ROWS, IGNORE_INDEX, Columns, Ctx, infer_seqlen, register_processor


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


def encode_rows(rows: list[dict[str, Any]], ctx: Ctx, cutoff_len: int) -> list[tuple[list[int], list[int]] | None]:
    """``(input_ids, labels)`` per row, or None for a row the template rejected (reported)."""
    args = ctx.args
    encode = _multiturn(ctx.template, args.mask_history)
    out: list[tuple[list[int], list[int]] | None] = []
    for start in ctx.chunks(len(rows)):
        chunk = rows[start : start + CHUNK_ROWS]
        for k, pairs in enumerate(ctx.encoder.map(encode, chunk)):
            if isinstance(pairs, Exception):
                ctx.bad(start + k, "template error", f"{type(pairs).__name__}: {pairs}")
                out.append(None)
                continue
            out.append(encode_pairs(pairs, cutoff_len=cutoff_len, train_on_prompt=args.train_on_prompt,
                                    mask_history=args.mask_history, efficient_eos=ctx.efficient_eos,
                                    eos_id=ctx.eos_id))
    return out


@register_processor("sft")
def supervised(rows: list[dict[str, Any]], ctx: Ctx) -> Columns:
    """SFT rows: ``input_ids``, ``labels`` (prompt tokens IGNORE_INDEX); packed when ``packing`` is on."""
    if ctx.args.packing_for(ctx.stage):
        return packed(rows, ctx)
    ids, labels = [], []
    for encoded in encode_rows(rows, ctx, ctx.args.cutoff_len):
        if encoded is not None:
            ids.append(encoded[0])
            labels.append(encoded[1])
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


def packed(rows: list[dict[str, Any]], ctx: Ctx) -> Columns:
    """Packed SFT: rows grouped into sequences of at most ``cutoff_len`` tokens.

    ``position_ids`` restart at 0 for every packed conversation. With ``neat_packing`` the
    ``attention_mask`` holds the 1-based conversation index (1,1,2,2,2,...) that the collator
    turns into a block-diagonal mask; otherwise it is all ones. Rows are not padded here.
    """
    cutoff = ctx.args.cutoff_len
    encoded = encode_rows(rows, ctx, cutoff)
    keep = [i for i, e in enumerate(encoded) if e is not None]
    for i in keep:
        if len(encoded[i][0]) > cutoff:  # only possible with efficient_eos edge cases
            ctx.bad(i, TOO_LONG, f"{len(encoded[i][0])} tokens > cutoff_len {cutoff}")
    keep = [i for i in keep if len(encoded[i][0]) <= cutoff]
    bins = greedy_knapsack([len(encoded[i][0]) for i in keep], cutoff)
    out: Columns = {"input_ids": [], "attention_mask": [], "labels": [], "position_ids": []}
    neat = ctx.args.neat_packing
    for members in bins:
        ids: list[int] = []
        labels: list[int] = []
        mask: list[int] = []
        positions: list[int] = []
        for n, member in enumerate(members, start=1):
            seq_ids, seq_labels = encoded[keep[member]]
            ids += seq_ids
            labels += seq_labels
            mask += [n if neat else 1] * len(seq_ids)
            positions += range(len(seq_ids))
        out["input_ids"].append(ids)
        out["labels"].append(labels)
        out["attention_mask"].append(mask)
        out["position_ids"].append(positions)
    return out
