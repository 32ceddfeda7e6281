"""Generate for a list of prompts at once, on the continuous-batching core.

The offline form of what ft-serve does online: at most ``max_batch_size`` sequences decode
together and a finished one's slot goes to the next prompt at once, so one long answer does not
hold a whole batch. Used by ft-train's ``predict_with_generate`` and the quickstart's check.

Example:
    >>> results = generate(model, tokenizer, [prompt_ids], SamplingParams(max_tokens=16, temperature=0),
    ...                    stop_token_ids=template.get_stop_token_ids(tokenizer))
    >>> results[0].text
    '42'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .batch import BASE_ADAPTER, DecodeBatch
from .batch import Sequence as Seq
from .params import SamplingParams

__all__ = ["GenerationResult", "common_prefix_len", "generate"]


@dataclass
class GenerationResult:
    """One prompt's completion: its text, token ids and why it ended (``stop`` or ``length``)."""

    text: str
    token_ids: list[int]
    finish_reason: str
    prompt_tokens: int


def _active_adapter(model: Any) -> str | None:
    """The one adapter a PEFT model runs with now (None for a plain model).

    DecodeBatch reads a row's missing adapter as the base, which is right for a server naming
    adapters per request but would silently drop the LoRA of a model being evaluated.
    """
    if not hasattr(model, "peft_config"):
        return None
    active = list(model.active_adapters)
    if not active:
        return BASE_ADAPTER
    if len(active) > 1:
        raise ValueError(f"the model runs adapters {active} together; generate() takes one: pass adapter=")
    return active[0]


def common_prefix_len(prompts: Sequence[Sequence[int]]) -> int:
    """Tokens every prompt starts with (a system prompt, a fixed instruction): computed once per batch job.

    Example:
        >>> common_prefix_len([[1, 2, 3, 4], [1, 2, 5]])
        2
    """
    if len(prompts) < 2:
        return 0
    first, n = prompts[0], min(len(p) for p in prompts)
    for i in range(n):
        token = first[i]
        if any(p[i] != token for p in prompts):
            return i
    return n


def generate(model: Any, tokenizer: Any, prompts: Sequence[Sequence[int]],
             params: SamplingParams | Sequence[SamplingParams], *, stop_token_ids: Sequence[int] = (),
             max_batch_size: int = 16, adapter: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[GenerationResult]:
    """Complete every tokenized prompt; results come back in input order.

    ``params`` is one ``SamplingParams`` for all prompts or one per prompt. ``progress(done,
    total)`` is called each time a prompt finishes. Prompts are admitted longest first, so
    rows that decode together have similar widths. ``adapter``: None generates with the model as
    it is (a PEFT model's active adapter, e.g. the LoRA being trained); ``BASE_ADAPTER`` with the
    base model; a name with that loaded adapter.
    """
    per_prompt = [params] * len(prompts) if isinstance(params, SamplingParams) else list(params)
    if len(per_prompt) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(per_prompt)} SamplingParams")
    if adapter is None:
        adapter = _active_adapter(model)
    was_training = getattr(model, "training", False)
    model.eval()
    batch = DecodeBatch(model, tokenizer)
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    shared = common_prefix_len(prompts)
    pending = [Seq(i, list(prompts[i]), per_prompt[i], stop_token_ids, adapter, prefix_len=shared) for i in order]
    pending.reverse()  # pop() from the end takes the longest first
    texts: dict[int, list[str]] = {i: [] for i in range(len(prompts))}
    seqs: dict[int, Seq] = {s.seq_id: s for s in pending}
    results: dict[int, GenerationResult] = {}
    try:
        while pending or batch.active:
            free = max_batch_size - batch.active
            events = batch.add([pending.pop() for _ in range(min(free, len(pending)))]) if free and pending else []
            if batch.active:
                events += batch.step()
            for ev in events:
                texts[ev.seq_id].append(ev.text)
                if ev.finish_reason is not None:
                    s = seqs[ev.seq_id]
                    results[ev.seq_id] = GenerationResult("".join(texts[ev.seq_id]), list(s.output_ids),
                                                          ev.finish_reason, len(s.prompt_ids))
                    if progress is not None:
                        progress(len(results), len(prompts))
    finally:
        model.train(was_training)
    return [results[i] for i in range(len(prompts))]
