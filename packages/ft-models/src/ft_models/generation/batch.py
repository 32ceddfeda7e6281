"""The generation core: a running batch of sequences that decode together, joining and leaving
between steps (continuous batching), over one transformers model and one KV cache.

Why not ``model.generate``: it runs a fixed batch to the end, so a request that arrives while
others decode waits for all of them. Why not transformers' own continuous batching
(``generate_batch``/``init_continuous_batching``): on CPU it measured 2.2 / 27.7 / 59.3 tokens/s
at 1 / 8 / 32 sequences of SmolLM2-135M where ``generate`` with a dynamic cache does 15.2 /
58.6 / 130 (transformers 5.23, 2 cores), and it has no per-row LoRA adapter, logprobs,
presence/frequency penalties, per-request seed or grammar mask, which serving needs. So this
module keeps the model's own forward and cache and adds only the bookkeeping: rows left-padded
to one width, ``join`` on admission, ``select`` on exit.

A row of a PEFT model with several LoRA adapters runs with its own adapter (peft's mixed-batch
``adapter_names``), so one base serves many adapters at once without merging.

Example:
    >>> batch = DecodeBatch(model, tokenizer)
    >>> events = batch.add([Sequence("a", prompt_ids, SamplingParams(max_tokens=8))])
    >>> while batch.active:
    ...     events += batch.step()
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from . import cache as kv
from .detokenize import IncrementalText, StopStrings
from .params import SamplingParams
from .sampling import apply_penalties, choose_tokens

__all__ = ["BASE_ADAPTER", "Constraint", "DecodeBatch", "Sequence", "TokenEvent"]

BASE_ADAPTER = "__base__"  # peft's name for "no adapter" in a mixed batch
_TRIM_AT = 64  # drop all-padding cache columns once this many pile up (a copy of the cache)


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """The model's end-of-sequence ids: its generation config's (one id or a list) and the tokenizer's.

    Example:
        >>> _eos_ids(model, tokenizer)
        frozenset({2})
    """
    ids: set[int] = set()
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if config_eos is not None:
        ids.update([config_eos] if isinstance(config_eos, int) else config_eos)
    if getattr(tokenizer, "eos_token_id", None) is not None:
        ids.add(tokenizer.eos_token_id)
    return frozenset(int(t) for t in ids)


class Constraint(Protocol):
    """A grammar that limits which tokens may come next (JSON schema, regex...)."""

    def mask(self, logits: torch.Tensor) -> None:
        """Set the logits (1-D, float32) of forbidden tokens to -inf, in place."""

    def accept(self, token_id: int) -> None:
        """Advance past ``token_id``."""

    def is_terminated(self) -> bool:
        """Whether the grammar is complete (generation must stop)."""


@dataclass
class TokenEvent:
    """What one step produced for one sequence: a token, the text it completed, and whether it ended.

    ``finish_reason``: None while running, else ``stop`` (stop token, stop string or grammar
    complete), ``length`` (max_tokens or the context limit) or ``abort``. ``logprob`` and
    ``top_logprobs`` (``[(token_id, logprob), ...]``) are set when the request asked for them.
    """

    seq_id: Hashable
    token_id: int | None
    text: str
    finish_reason: str | None = None
    logprob: float | None = None
    top_logprobs: list[tuple[int, float]] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Sequence:
    """One sequence to generate: its prompt, sampling settings, stop ids, adapter and constraint.

    ``stop_token_ids`` are the caller's end-of-sequence ids (the template's); the batch adds the
    model's EOS ids. ``params.ignore_eos`` ignores both kinds, while ``params.stop_token_ids`` (a
    request's own) always stop, as in vLLM. ``adapter``: a PEFT adapter name, None or
    ``BASE_ADAPTER`` for the base model.
    """

    seq_id: Hashable
    prompt_ids: list[int]
    params: SamplingParams = field(default_factory=SamplingParams)
    stop_token_ids: Iterable[int] = ()
    adapter: str | None = None
    constraint: Constraint | None = None
    output_ids: list[int] = field(default_factory=list)
    finish_reason: str | None = None

    def __post_init__(self) -> None:
        self.prompt_ids = [int(t) for t in self.prompt_ids]
        self.stop_token_ids = [int(t) for t in self.stop_token_ids]  # an iterator would be spent after one read
        self.stop_ids = frozenset((*self.stop_token_ids, *self.params.stop_token_ids))
        self.generator: torch.Generator | None = None
        self._text: IncrementalText | None = None
        self._stops = StopStrings(self.params.stop)

    def start(self, tokenizer: Any, device: torch.device, eos_token_ids: Iterable[int] = ()) -> None:
        """Set up detokenisation and the seeded generator; ``eos_token_ids``: the model's EOS ids."""
        self.stop_ids = self.stop_ids | frozenset(int(t) for t in eos_token_ids)
        self._text = IncrementalText(tokenizer, self.params.skip_special_tokens, context=self.prompt_ids)
        if self.params.seed is not None:
            self.generator = torch.Generator(device=device)
            self.generator.manual_seed(self.params.seed)


class DecodeBatch:
    """Sequences decoding together on one model; ``add`` prefills newcomers, ``step`` decodes one token each.

    ``max_model_len`` (tokens, prompt + output) ends a sequence with ``length`` when reached;
    default: the model's ``max_position_embeddings``.
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_model_len: int | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        config = model.config
        self.config = config
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        self.max_model_len = max_model_len or getattr(text_config, "max_position_embeddings", None) or 1 << 30
        self.peft = hasattr(model, "peft_config")
        self.eos_token_ids = _eos_ids(model, tokenizer)
        self.seqs: list[Sequence] = []
        self.cache = None
        self.mask: torch.Tensor | None = None        # [rows, width] 1 = real token
        self.last: torch.Tensor | None = None        # [rows] token to feed next
        self.positions: torch.Tensor | None = None   # [rows] position id of that token
        self._aborted: set[Hashable] = set()

    @property
    def active(self) -> int:
        """Rows decoding now."""
        return len(self.seqs)

    def abort(self, seq_id: Hashable) -> None:
        """End ``seq_id`` with ``abort`` at the next ``step`` (safe to call for unknown ids)."""
        self._aborted.add(seq_id)

    # ------------------------------------------------------------------ forward
    def _forward(self, seqs: list[Sequence], **inputs: Any) -> torch.Tensor:
        kwargs: dict[str, Any] = {"use_cache": True, "logits_to_keep": 1}
        if self.peft:
            names = [s.adapter or BASE_ADAPTER for s in seqs]
            if all(n == BASE_ADAPTER for n in names):
                with self.model.disable_adapter():
                    return self.model(**inputs, **kwargs).logits[:, -1]
            if set(names) != {names[0]} or list(self.model.active_adapters) != [names[0]]:
                # peft's mixed batch. Rows that all use the active adapter take the plain forward:
                # cheaper, and it works where peft refuses adapter_names (a model in training mode).
                kwargs["adapter_names"] = names
        return self.model(**inputs, **kwargs).logits[:, -1]

    def add(self, seqs: list[Sequence]) -> list[TokenEvent]:
        """Prefill ``seqs`` (one forward, left-padded) and make them part of the running batch.

        Returns each one's first token (and the end of those that already finished).
        """
        if not seqs:
            return []
        for s in seqs:
            s.start(self.tokenizer, self.device, self.eos_token_ids)
        # Identical prompts (n > 1, or many clients sending the same text) are prefilled once and
        # their cache rows copied: on CPU a prefill costs as much as dozens of decode steps.
        unique: dict[tuple, int] = {}
        row_of = [unique.setdefault((tuple(s.prompt_ids), s.adapter), len(unique)) for s in seqs]
        firsts: list[Sequence] = []  # the first sequence of each distinct prompt, in row order
        for r, s in zip(row_of, seqs):
            if r == len(firsts):
                firsts.append(s)
        width = max(len(s.prompt_ids) for s in firsts)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(firsts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(firsts), width), dtype=torch.long)
        for row, s in enumerate(firsts):
            n = len(s.prompt_ids)
            ids[row, width - n:] = torch.tensor(s.prompt_ids, dtype=torch.long)
            mask[row, width - n:] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        new_cache = kv.new_cache(self.config)
        with torch.inference_mode():
            logits = self._forward(firsts, input_ids=ids, attention_mask=mask, position_ids=positions,
                                   past_key_values=new_cache)
            if len(firsts) < len(seqs):
                rows = torch.tensor(row_of, device=self.device)
                kv.select(new_cache, rows)
                logits, mask = logits[rows], mask[rows]
            tokens, events = self._choose(seqs, logits)
        lengths = mask.sum(-1)
        self._join(seqs, new_cache, mask, tokens, lengths)
        self._drop_finished()
        return events

    def _join(self, seqs: list[Sequence], new_cache: Any, mask: torch.Tensor, tokens: torch.Tensor,
              lengths: torch.Tensor) -> None:
        if self.cache is None or not self.seqs:
            self.cache, self.mask, self.last, self.positions = new_cache, mask, tokens, lengths
            self.seqs = list(seqs)
            return
        w_old, w_new = self.mask.shape[1], mask.shape[1]
        w = max(w_old, w_new)
        self.cache = kv.join(self.cache, new_cache)
        self.mask = torch.cat([torch.nn.functional.pad(self.mask, (w - w_old, 0)),
                               torch.nn.functional.pad(mask, (w - w_new, 0))])
        self.last = torch.cat([self.last, tokens])
        self.positions = torch.cat([self.positions, lengths])
        self.seqs += seqs

    def step(self) -> list[TokenEvent]:
        """Decode one token for every running row; rows that finish leave the batch."""
        events = self._apply_aborts()
        if not self.seqs:
            return events
        ones = torch.ones((len(self.seqs), 1), dtype=self.mask.dtype, device=self.device)
        self.mask = torch.cat([self.mask, ones], dim=1)
        with torch.inference_mode():
            logits = self._forward(self.seqs, input_ids=self.last.unsqueeze(1), attention_mask=self.mask,
                                   position_ids=self.positions.unsqueeze(1), past_key_values=self.cache)
            tokens, new_events = self._choose(self.seqs, logits)
        self.last = tokens
        self.positions = self.positions + 1
        self._drop_finished()
        return events + new_events

    # ------------------------------------------------------------------ sampling and bookkeeping
    def _choose(self, seqs: list[Sequence], logits: torch.Tensor) -> tuple[torch.Tensor, list[TokenEvent]]:
        logits = logits.float()
        want_logprobs = any(s.params.logprobs is not None for s in seqs)
        raw = torch.log_softmax(logits, dim=-1) if want_logprobs else None
        for row, s in enumerate(seqs):
            p = s.params
            if p.penalised:
                apply_penalties(logits[row], p, s.prompt_ids, s.output_ids)
            if s.constraint is not None:
                s.constraint.mask(logits[row])
            if len(s.output_ids) < p.min_tokens:
                stops = p.stop_token_ids if p.ignore_eos else s.stop_ids
                logits[row, [t for t in stops if t < logits.shape[-1]]] = float("-inf")
        tokens = choose_tokens(logits, [s.params for s in seqs], [s.generator for s in seqs])
        chosen = tokens.tolist()
        events = []
        for row, (s, tok) in enumerate(zip(seqs, chosen)):
            event = self._advance(s, tok)
            if raw is not None and s.params.logprobs is not None:
                event.logprob = float(raw[row, tok])
                if s.params.logprobs > 0:
                    vals, ids = raw[row].topk(s.params.logprobs)
                    event.top_logprobs = list(zip(ids.tolist(), vals.tolist()))
            events.append(event)
        return tokens, events

    def _advance(self, s: Sequence, tok: int) -> TokenEvent:
        """Record ``tok`` for ``s``; decide whether it ends the sequence and what text it shows."""
        s.output_ids.append(tok)
        if s.constraint is not None:
            s.constraint.accept(tok)
        p = s.params
        text, hit = "", False
        if tok in p.stop_token_ids or (tok in s.stop_ids and not p.ignore_eos):
            s.finish_reason = "stop"  # the stop token itself is not part of the text
        else:
            text, hit = s._stops.push(s._text.push(tok))
            if hit or (s.constraint is not None and s.constraint.is_terminated()):
                s.finish_reason = "stop"
            elif len(s.output_ids) >= p.max_tokens or len(s.prompt_ids) + len(s.output_ids) >= self.max_model_len:
                s.finish_reason = "length"
        if s.finish_reason is not None and not hit:
            # the text held back (a partial character, a possible stop string) belongs to the answer
            text += s._stops.push(s._text.flush())[0] + s._stops.flush()
        return TokenEvent(s.seq_id, tok, text, s.finish_reason, prompt_tokens=len(s.prompt_ids),
                          completion_tokens=len(s.output_ids))

    def _apply_aborts(self) -> list[TokenEvent]:
        if not self._aborted:
            return []
        events = []
        for s in self.seqs:
            if s.seq_id in self._aborted and s.finish_reason is None:
                s.finish_reason = "abort"
                events.append(TokenEvent(s.seq_id, None, "", "abort", prompt_tokens=len(s.prompt_ids),
                                         completion_tokens=len(s.output_ids)))
        self._aborted.clear()
        self._drop_finished()
        return events

    def _drop_finished(self) -> None:
        keep = [i for i, s in enumerate(self.seqs) if s.finish_reason is None]
        if len(keep) == len(self.seqs):
            return
        if not keep:
            self.seqs, self.cache, self.mask, self.last, self.positions = [], None, None, None, None
            return
        rows = torch.tensor(keep, device=self.device)
        kv.select(self.cache, rows)
        self.mask = self.mask[rows]
        self.last = self.last[rows]
        self.positions = self.positions[rows]
        self.seqs = [self.seqs[i] for i in keep]
        lead = int((self.mask.cumsum(-1) == 0).sum(-1).min())  # all-padding columns on the left
        if lead >= _TRIM_AT:
            kv.trim_left(self.cache, lead)
            self.mask = self.mask[:, lead:]
