"""The transformers engine: continuous batching on the generation core, in one background thread.

Requests wait in a queue; between decode steps the engine thread admits as many as there are
free rows (``max_batch_size``), prefills them in one forward and lets them decode with the
others; finished rows leave at once. Each request's deltas go to its own asyncio queue on the
caller's event loop. LoRA adapters stay unmerged on one base (peft), each row decoding with the
adapter its request named. A reward model (a ``*ForSequenceClassification`` checkpoint) is
loaded for ``score`` instead.

Example:
    >>> engine = TransformersEngine(load_serve_config(None, ["model_name_or_path=smollm2-135m-instruct"]))
    >>> engine.load()
"""

from __future__ import annotations

import asyncio
import collections
import queue
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ft_core import BadInputError, get_logger
from ft_models.generation import DecodeBatch, Sequence, TokenEvent

from .base import (
    ChoiceDelta,
    Engine,
    EngineNotReady,
    EngineStats,
    GenerateRequest,
    QueueFullError,
    TokenLogprob,
)
from .loading import load_for_serving

log = get_logger("ft.serve.engine")

_PREFILL_TOKENS = 4096  # prompt tokens prefilled in one forward; more wait a step (bounds a step's latency)


@dataclass
class _Pending:
    request: GenerateRequest
    loop: asyncio.AbstractEventLoop
    deltas: asyncio.Queue
    constraints: list[Any] = field(default_factory=list)
    admitted: bool = False


class TransformersEngine(Engine):
    """Batched generation with transformers on CPU or one GPU."""

    name = "huggingface"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.max_batch_size = config.max_batch_size
        self.max_queue = config.max_queue
        self._waiting: collections.deque[_Pending] = collections.deque()
        self._running: dict[str, _Pending] = {}
        self._aborts: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._wake = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._generated = 0

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        loaded = load_for_serving(self.config)
        self.model, self.tokenizer, self.template = loaded.model, loaded.tokenizer, loaded.template
        self.adapters = loaded.adapters
        self.max_model_len = loaded.max_model_len
        self.defaults = loaded.sampling_defaults
        self.stop_token_ids = loaded.stop_token_ids
        self.can_generate = loaded.can_generate
        self.grammars = loaded.grammars
        if self.can_generate:
            self.batch = DecodeBatch(self.model, self.tokenizer, max_model_len=self.max_model_len)
            self._thread = threading.Thread(target=self._run, name="ft-serve-engine", daemon=True)
            self._thread.start()
        self.ready = True

    def shutdown(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def stats(self) -> EngineStats:
        return EngineStats(running=len(self._running), waiting=len(self._waiting), generated_tokens=self._generated)

    # ------------------------------------------------------------------ requests
    async def stream(self, request: GenerateRequest) -> AsyncIterator[ChoiceDelta]:
        if not self.ready:
            raise EngineNotReady("The model is still loading; retry in a moment.")
        if not self.can_generate:
            raise BadInputError("this model is a reward model: it scores (/v1/score/evaluation) but does not generate")
        self.validate_prompt(request.prompt_ids)
        # Requests that free rows will take at the next step are not queued: only those beyond
        # the free rows count against max_queue (arrivals pile up while a step runs).
        free_rows = max(0, self.max_batch_size - self.batch.active)
        if len(self._waiting) >= self.max_queue + free_rows:
            raise QueueFullError(f"The server is busy: {len(self._waiting) - free_rows} requests are waiting "
                                 f"for a batch slot (max_queue={self.max_queue}). Retry later.")
        pending = _Pending(request, asyncio.get_running_loop(), asyncio.Queue())
        if request.response_format:
            pending.constraints = [self.grammars.constraint(request.response_format) for _ in range(request.n)]
        with self._wake:
            self._waiting.append(pending)
            self._wake.notify()
        finished = 0
        try:
            while finished < request.n:
                delta = await pending.deltas.get()
                if delta.finish_reason is not None:
                    finished += 1
                yield delta
        finally:
            if finished < request.n:  # the consumer went away: free the rows now
                self._aborts.put(request.request_id)
                with self._wake:
                    self._wake.notify()

    # ------------------------------------------------------------------ the engine thread
    def _sequences(self, pending: _Pending) -> list[Sequence]:
        req = pending.request
        out = []
        for i in range(req.n):
            params = req.params
            if req.n > 1 and params.seed is not None:  # n samples from one seed must still differ
                params = params.replace(seed=params.seed + i)
            constraint = pending.constraints[i] if pending.constraints else None
            out.append(Sequence((req.request_id, i), req.prompt_ids, params, self.stop_token_ids, req.adapter,
                                constraint, prefix_len=req.prefix_len))
        return out

    def _admit(self) -> list[Sequence]:
        free = self.max_batch_size - self.batch.active
        admitted: list[Sequence] = []
        tokens = 0
        with self._wake:
            while self._waiting and free >= self._waiting[0].request.n:
                pending = self._waiting[0]
                if admitted and tokens + len(pending.request.prompt_ids) > _PREFILL_TOKENS:
                    break
                self._waiting.popleft()
                self._running[pending.request.request_id] = pending
                seqs = self._sequences(pending)
                admitted += seqs
                free -= len(seqs)
                tokens += len(pending.request.prompt_ids) * len(seqs)
        return admitted

    def _drain_aborts(self) -> None:
        while True:
            try:
                rid = self._aborts.get_nowait()
            except queue.Empty:
                return
            with self._wake:
                self._waiting = collections.deque(p for p in self._waiting if p.request.request_id != rid)
            if self._running.pop(rid, None) is not None:
                for s in self.batch.seqs:
                    if s.seq_id[0] == rid:
                        self.batch.abort(s.seq_id)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stop and not self._waiting and not self.batch.active and self._aborts.empty():
                    self._wake.wait()
                if self._stop:
                    return
            try:
                self._drain_aborts()
                events = self.batch.add(self._admit())
                if self.batch.active:
                    events += self.batch.step()
            except Exception as exc:  # a failing step must not kill the server: fail its requests
                log.exception("generation step failed")
                self._fail_all(exc)
                continue
            self._dispatch(events)

    def _fail_all(self, exc: Exception) -> None:
        for s in list(self.batch.seqs):
            self.batch.abort(s.seq_id)
        self.batch.step()
        for rid, pending in list(self._running.items()):
            for i in range(pending.request.n):
                self._send(pending, ChoiceDelta(i, "", finish_reason="error"))
            self._running.pop(rid, None)

    def _send(self, pending: _Pending, delta: ChoiceDelta) -> None:
        pending.loop.call_soon_threadsafe(pending.deltas.put_nowait, delta)

    def _dispatch(self, events: list[TokenEvent]) -> None:
        done: set[str] = set()
        for ev in events:
            rid, index = ev.seq_id
            pending = self._running.get(rid)
            if pending is None:
                continue
            if ev.token_id is not None:
                self._generated += 1
            logprobs = None
            if ev.logprob is not None:
                logprobs = [TokenLogprob(self.tokenizer.decode([ev.token_id]), ev.logprob,
                                         [(self.tokenizer.decode([t]), lp) for t, lp in (ev.top_logprobs or [])])]
            self._send(pending, ChoiceDelta(index, ev.text, [] if ev.token_id is None else [ev.token_id], logprobs,
                                            ev.finish_reason, ev.prompt_tokens, ev.completion_tokens))
            if ev.finish_reason is not None and all(
                    s.seq_id[0] != rid for s in self.batch.seqs):
                done.add(rid)
        for rid in done:
            self._running.pop(rid, None)

    # ------------------------------------------------------------------ reward models
    async def score(self, texts: list[str], max_length: int | None = None) -> list[float]:
        if not self.ready:
            raise EngineNotReady("The model is still loading; retry in a moment.")
        if self.can_generate:
            raise BadInputError("this model generates; scores need a reward model")
        return await asyncio.to_thread(self._score, texts, max_length or self.max_model_len)

    def _score(self, texts: list[str], max_length: int) -> list[float]:
        import torch

        with self._wake:  # one scoring batch at a time; scoring is short
            enc = self.tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            t0 = time.perf_counter()
            with torch.inference_mode():
                logits = self.model(**{k: v.to(self.model.device) for k, v in enc.items()}).logits
            log.debug("scored %d texts in %.2fs", len(texts), time.perf_counter() - t0)
        return [float(x) for x in logits[:, 0].float().tolist()]

