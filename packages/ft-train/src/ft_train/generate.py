"""Batched greedy/sampled generation for evaluation: left padding, prompts cut from SFT rows.

Used by ``predict_with_generate`` (``generated_predictions.jsonl``) and by the quickstart's
accuracy check. Rows come from the SFT processor (``input_ids`` + ``labels`` with -100 on the
prompt), so the prompt is everything before the first supervised token and the label is the
supervised text: no second tokenisation path that could drift from training.

Example:
    >>> prompt, label = split_prompt_label(row["input_ids"], row["labels"])
    >>> texts = batch_generate(model, tokenizer, [prompt], {"max_new_tokens": 16, "do_sample": False})
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

IGNORE_INDEX = -100


def split_prompt_label(input_ids: Sequence[int], labels: Sequence[int]) -> tuple[list[int], list[int]]:
    """(prompt ids, label ids) of one single-turn SFT row: the prompt ends at the first supervised token."""
    first = next((i for i, lab in enumerate(labels) if lab != IGNORE_INDEX), len(labels))
    return list(input_ids[:first]), [int(t) for t in labels[first:] if t != IGNORE_INDEX]


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def batch_generate(model: Any, tokenizer: Any, prompts: Sequence[Sequence[int]], gen_kwargs: Mapping[str, Any],
                   batch_size: int = 16, stop_token_ids: Sequence[int] | None = None,
                   skip_special_tokens: bool = True) -> list[str]:
    """Generate a completion for each tokenized prompt (batched, left-padded); returns decoded texts.

    Prompts are sorted by length so each batch pads little; results come back in input order.
    """
    import torch

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eos = list(stop_token_ids or []) or ([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else None)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    outputs: dict[int, str] = {}
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for idx in _batches(order, batch_size):
            width = max(len(prompts[i]) for i in idx)
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                p = list(prompts[i])
                ids[row, width - len(p):] = torch.tensor(p, dtype=torch.long)
                mask[row, width - len(p):] = 1
            with torch.inference_mode():
                out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                     pad_token_id=pad_id, eos_token_id=eos, **dict(gen_kwargs))
            for row, i in enumerate(idx):
                outputs[i] = tokenizer.decode(out[row, width:], skip_special_tokens=skip_special_tokens).strip()
    finally:
        model.train(was_training)
    return [outputs[i] for i in range(len(prompts))]
