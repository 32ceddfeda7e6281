"""Pre-training and unsupervised (prompt-only) rows.

Pre-training text is each row's first message plus the EOS text (``<|end_of_text|>`` for the
llama3 template, as LLaMA-Factory does). With packing (the default for ``pt``) all texts are
concatenated and cut into ``cutoff_len`` blocks; **the last, shorter block is kept** (LLaMA-Factory
drops the remainder of every 1000-row batch). Without packing each text is one row, truncated.

Unsupervised rows (``ppo``, generation-based evaluation) hold the prompt with the generation
header as ``input_ids`` and the reference answer as ``labels`` (not aligned with the inputs).

Example:
    >>> PROCESSORS["pt"](rows, ctx)["input_ids"][0][:3]
    [504, 3458, 282]
"""

from __future__ import annotations

from typing import Any

from .base import CHUNK_ROWS, Columns, Ctx, infer_seqlen, register_processor


def _eos_text(ctx: Ctx) -> str:
    if getattr(ctx.template, "name", None) == "llama3" or ctx.args.template == "llama3":
        return "<|end_of_text|>"
    return ctx.tokenizer.eos_token or ""


@register_processor("pt")
def pretrain(rows: list[dict[str, Any]], ctx: Ctx) -> Columns:
    """``input_ids`` and ``labels`` (= inputs) of pre-training blocks or rows."""
    eos = _eos_text(ctx)
    texts = [row["messages"][0]["content"] + eos for row in rows]
    add_bos = bool(getattr(ctx.tokenizer, "add_bos_token", False)) and ctx.tokenizer.bos_token_id is not None
    cutoff = ctx.args.cutoff_len
    blocks: list[list[int]] = []
    if not ctx.args.packing_for("pt"):
        for start in range(0, len(texts), CHUNK_ROWS):
            for ids in ctx.encoder.tokenize(texts[start : start + CHUNK_ROWS]):
                blocks.append(([ctx.tokenizer.bos_token_id, *ids] if add_bos else ids)[:cutoff])
    else:
        stream: list[int] = []
        for start in range(0, len(texts), CHUNK_ROWS):
            for ids in ctx.encoder.tokenize(texts[start : start + CHUNK_ROWS]):
                stream += ids
        blocks = [stream[i : i + cutoff] for i in range(0, len(stream), cutoff)]
        if add_bos:
            for block in blocks:
                block[0] = ctx.tokenizer.bos_token_id
    return {"input_ids": blocks, "labels": [list(b) for b in blocks]}


@register_processor("ppo", "unsupervised")
def unsupervised(rows: list[dict[str, Any]], ctx: Ctx) -> Columns:
    """Prompt ids (with the generation header) as ``input_ids``, the reference answer as ``labels``."""
    template = ctx.template

    def encode(tokenizer: Any, row: dict[str, Any]) -> Any:
        messages = row["messages"]
        if len(messages) % 2 == 1:
            messages = [*messages, {"role": "assistant", "content": ""}]
        return template.encode_oneturn(tokenizer, messages, row["system"], row["tools"])

    out: Columns = {"input_ids": [], "labels": []}
    for start in ctx.chunks(len(rows)):
        for k, value in enumerate(ctx.encoder.map(encode, rows[start : start + CHUNK_ROWS])):
            if isinstance(value, Exception):
                ctx.bad(start + k, "template error", f"{type(value).__name__}: {value}")
                continue
            prompt, answer = value
            if ctx.efficient_eos:
                answer = [*answer, ctx.eos_id]
            source_len, target_len = infer_seqlen(len(prompt), len(answer), ctx.args.cutoff_len)
            out["input_ids"].append(prompt[:source_len])
            out["labels"].append(answer[:target_len])
    return out
