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

import collections
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
_MIN_PREFIX = 8  # shorter shared prefixes are not worth a cache of their own
_PREFIXES_KEPT = 4  # shared-prefix caches kept (least recently used dropped)


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


def prefill_groups(lengths: list[int], slack: float = 1.25) -> list[list[int]]:
    """Indices of prompts grouped for prefill: longest first, a group closes when padding would make it
    compute more than ``slack`` times its real tokens.

    Example:
        >>> prefill_groups([20, 200, 190, 25, 180])
        [[1, 2, 4], [3, 0]]
    """
    groups: list[list[int]] = []
    real = 0
    for i in sorted(range(len(lengths)), key=lambda k: -lengths[k]):
        if groups:
            width = lengths[groups[-1][0]]
            if width * (len(groups[-1]) + 1) <= slack * (real + lengths[i]):
                groups[-1].append(i)
                real += lengths[i]
                continue
        groups.append([i])
        real = lengths[i]
    return groups


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
    # The first ``prefix_len`` prompt tokens are shared by many sequences (a system prompt, a
    # fixed instruction): their keys/values are computed once and reused (0: no shared prefix).
    prefix_len: int = 0
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
        self._prefixes: collections.OrderedDict[Any, Any] = collections.OrderedDict()
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

    def _prefix_cache(self, prefix: list[int], seq: Sequence) -> Any:
        """The one-row cache of a shared prefix, computed on first use and kept (the last few)."""
        key = (tuple(prefix), seq.adapter)
        if key in self._prefixes:
            self._prefixes.move_to_end(key)
            return self._prefixes[key]
        ids = torch.tensor([prefix], dtype=torch.long, device=self.device)
        cache = kv.new_cache(self.config)
        with torch.inference_mode():
            self._forward([seq], input_ids=ids, attention_mask=torch.ones_like(ids),
                          position_ids=torch.arange(len(prefix), device=self.device).unsqueeze(0),
                          past_key_values=cache)
        self._prefixes[key] = cache
        while len(self._prefixes) > _PREFIXES_KEPT:
            self._prefixes.popitem(last=False)
        return cache

    def _prefill(self, firsts: list[Sequence]) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """Prefill distinct prompts; returns their cache, last-position logits and attention mask, in order.

        Prompts of similar length go through one forward each group (``prefill_groups``): one
        left-padded forward of a 20-token and a 200-token prompt would compute 180 positions of
        padding, and on CPU a prefill is compute-bound, so padding costs its full price.
        """
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        cache, masks, logits, order = None, [], [], []
        buckets: dict[Any, list[int]] = {}
        for i, s in enumerate(firsts):
            shared = _MIN_PREFIX <= s.prefix_len < len(s.prompt_ids)
            buckets.setdefault((tuple(s.prompt_ids[:s.prefix_len]), s.adapter) if shared else None, []).append(i)
        for key, members_of in buckets.items():
            prefix = list(key[0]) if key is not None else []
            prefix_cache = self._prefix_cache(prefix, firsts[members_of[0]]) if prefix else None
            lengths = [len(firsts[i].prompt_ids) - len(prefix) for i in members_of]
            for local in prefill_groups(lengths):
                group = [members_of[i] for i in local]
                members = [firsts[i] for i in group]
                width = max(lengths[i] for i in local)
                ids = torch.full((len(members), width), pad, dtype=torch.long)
                mask = torch.zeros((len(members), width), dtype=torch.long)
                for row, s in enumerate(members):
                    suffix = s.prompt_ids[len(prefix):]
                    ids[row, width - len(suffix):] = torch.tensor(suffix, dtype=torch.long)
                    mask[row, width - len(suffix):] = 1
                ids, mask = ids.to(self.device), mask.to(self.device)
                positions = len(prefix) + (mask.cumsum(-1) - 1).clamp(min=0)
                if prefix_cache is not None:
                    group_cache = kv.repeat_rows(prefix_cache, len(members), self.config)
                    mask = torch.cat([mask.new_ones((len(members), len(prefix))), mask], dim=1)
                else:
                    group_cache = kv.new_cache(self.config)
                with torch.inference_mode():
                    logits.append(self._forward(members, input_ids=ids, attention_mask=mask,
                                                position_ids=positions, past_key_values=group_cache))
                cache = kv.join(cache, group_cache)
                masks.append(mask)
                order += group
        full = max(m.shape[1] for m in masks)
        mask = torch.cat([torch.nn.functional.pad(m, (full - m.shape[1], 0)) for m in masks])
        logits_all = torch.cat(logits)
        if order != sorted(order):
            back = torch.tensor(sorted(range(len(order)), key=order.__getitem__), device=self.device)
            kv.select(cache, back)
            logits_all, mask = logits_all[back], mask[back]
        return cache, logits_all, mask

    def add(self, seqs: list[Sequence]) -> list[TokenEvent]:
        """Prefill ``seqs`` (forwards of prompts of similar length) and make them part of the running batch.

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
        new_cache, logits, mask = self._prefill(firsts)
        with torch.inference_mode():
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
