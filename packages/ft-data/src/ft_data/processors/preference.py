"""Preference rows: pairwise (rm, dpo, orpo, simpo) and feedback (kto, with its KL pairs).

Pairwise: the prompt is shared; both answers are cut to the same length, computed by
``infer_seqlen`` from the longer one ("the response is considered more important").
Feedback: the KL pair of row i is its prompt with the answer of row i-1 (the first row takes the
last row's answer), as in LLaMA-Factory, but rotated over the whole dataset rather than within
each 1000-row map batch.

Example:
    >>> cols = PROCESSORS["dpo"](rows, ctx)
    >>> sorted(cols)
    ['chosen_input_ids', 'chosen_labels', 'rejected_input_ids', 'rejected_labels']
"""

from __future__ import annotations

from typing import Any

from .base import CHUNK_ROWS, IGNORE_INDEX, Columns, Ctx, infer_seqlen, register_processor


def _oneturn_pairs(template: Any) -> Any:
    def encode(tokenizer: Any, item: tuple[dict[str, Any], dict[str, str], dict[str, str]]) -> Any:
        row, first, second = item
        prompt, a = template.encode_oneturn(tokenizer, [*row["messages"], first], row["system"], row["tools"])
        kl_prompt, b = template.encode_oneturn(tokenizer, [*row["messages"], second], row["system"], row["tools"])
        return prompt, a, kl_prompt, b

    return encode


def _encoded(items: list[Any], ctx: Ctx) -> list[Any]:
    encode = _oneturn_pairs(ctx.template)
    out: list[Any] = []
    for start in ctx.chunks(len(items)):
        for k, value in enumerate(ctx.encoder.map(encode, items[start : start + CHUNK_ROWS])):
            if isinstance(value, Exception):
                ctx.bad(start + k, "template error", f"{type(value).__name__}: {value}")
                value = None
            out.append(value)
    return out


@register_processor("rm", "dpo", "orpo", "simpo")
def pairwise(rows: list[dict[str, Any]], ctx: Ctx) -> Columns:
    """``chosen_*`` and ``rejected_*`` input ids and labels (prompt tokens IGNORE_INDEX)."""
    out: Columns = {"chosen_input_ids": [], "chosen_labels": [], "rejected_input_ids": [], "rejected_labels": []}
    items = [(row, row["chosen"], row["rejected"]) for row in rows]
    for value in _encoded(items, ctx):
        if value is None:
            continue
        prompt, chosen, _, rejected = value
        if ctx.efficient_eos:
            chosen, rejected = [*chosen, ctx.eos_id], [*rejected, ctx.eos_id]
        source_len, target_len = infer_seqlen(len(prompt), max(len(chosen), len(rejected)), ctx.args.cutoff_len)
        prompt, chosen, rejected = prompt[:source_len], chosen[:target_len], rejected[:target_len]
        masked = [IGNORE_INDEX] * source_len
        out["chosen_input_ids"].append(prompt + chosen)
        out["chosen_labels"].append(masked + chosen)
        out["rejected_input_ids"].append(prompt + rejected)
        out["rejected_labels"].append(masked + rejected)
    return out


def _truncate(prompt: list[int], answer: list[int], ctx: Ctx) -> tuple[list[int], list[int]]:
    if ctx.efficient_eos:
        answer = [*answer, ctx.eos_id]
    source_len, target_len = infer_seqlen(len(prompt), len(answer), ctx.args.cutoff_len)
    return prompt[:source_len] + answer[:target_len], [IGNORE_INDEX] * source_len + answer[:target_len]


@register_processor("kto")
def feedback(rows: list[dict[str, Any]], ctx: Ctx) -> Columns:
    """KTO rows: ``input_ids``/``labels``, ``kl_input_ids``/``kl_labels`` and ``kto_tags`` (bool)."""
    answers = [row["messages"][-1] for row in rows]
    items = [({**row, "messages": row["messages"][:-1]}, answers[i], answers[i - 1]) for i, row in enumerate(rows)]
    out: Columns = {"input_ids": [], "labels": [], "kl_input_ids": [], "kl_labels": [], "kto_tags": []}
    for row, value in zip(rows, _encoded(items, ctx)):
        if value is None:
            continue
        prompt, answer, kl_prompt, kl_answer = value
        ids, labels = _truncate(prompt, answer, ctx)
        kl_ids, kl_labels = _truncate(kl_prompt, kl_answer, ctx)
        out["input_ids"].append(ids)
        out["labels"].append(labels)
        out["kl_input_ids"].append(kl_ids)
        out["kl_labels"].append(kl_labels)
        out["kto_tags"].append(bool(row["kto_tag"]))
    return out
