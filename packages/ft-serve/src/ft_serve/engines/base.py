"""The engine interface every server, CLI and batch job of ft-serve talks to.

An engine takes token ids and ``SamplingParams`` and streams text back, for many requests at
once. It knows the served model names (the base and each LoRA adapter, ``base:adapter``), the
tokenizer and the template; it does not know HTTP or OpenAI's JSON (see ``ft_serve.api``).

Example:
    >>> engine = build_engine(cfg)          # ft_serve.engines.build_engine
    >>> engine.load()
    >>> async for delta in engine.stream(GenerateRequest("r1", ids, SamplingParams(max_tokens=8))):
    ...     print(delta.text, end="")
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ft_core import FtError
from ft_models.generation import SamplingParams

__all__ = [
    "ChoiceDelta", "ChoiceOutput", "ContextLengthError", "Engine", "EngineNotReady", "EngineStats",
    "GenerateRequest", "QueueFullError", "TokenLogprob", "UnknownModelError", "collect",
]


class QueueFullError(FtError):
    """More requests wait than ``max_queue`` allows (HTTP 429)."""


class ContextLengthError(FtError):
    """The prompt (plus ``max_tokens``) does not fit the model's context (HTTP 413)."""


class UnknownModelError(FtError):
    """The request names a model this engine does not serve (HTTP 404)."""


class EngineNotReady(FtError):
    """The model is still loading (HTTP 503)."""


@dataclass
class GenerateRequest:
    """One generation request: ``n`` completions of ``prompt_ids``.

    ``adapter``: a served LoRA adapter's name, None for the base. ``response_format``: OpenAI's
    ``{"type": "json_object"}`` or ``{"type": "json_schema", "json_schema": {"schema": ...}}``,
    enforced by constrained decoding.
    """

    request_id: str
    prompt_ids: list[int]
    params: SamplingParams = field(default_factory=SamplingParams)
    n: int = 1
    adapter: str | None = None
    response_format: dict[str, Any] | None = None
    # The first ``prefix_len`` prompt tokens are shared with other requests (a batch job's system
    # prompt): engines that can compute them once do (0: none known).
    prefix_len: int = 0


@dataclass
class TokenLogprob:
    """A generated token's text, log-probability and the most likely alternatives ``[(text, logprob)]``."""

    token: str
    logprob: float
    top: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class ChoiceDelta:
    """A piece of completion ``index``: new text, its tokens, and ``finish_reason`` on the last piece.

    ``prompt_tokens``/``completion_tokens`` count so far (for usage).
    """

    index: int
    text: str
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class ChoiceOutput:
    """A whole completion."""

    index: int
    text: str
    token_ids: list[int]
    finish_reason: str
    logprobs: list[TokenLogprob] | None
    prompt_tokens: int
    completion_tokens: int


@dataclass
class EngineStats:
    """Load of the engine now: sequences decoding, requests waiting, tokens generated since start."""

    running: int
    waiting: int
    generated_tokens: int


async def collect(stream: AsyncIterator[ChoiceDelta], n: int) -> list[ChoiceOutput]:
    """Join a stream's deltas into ``n`` whole completions."""
    texts: list[list[str]] = [[] for _ in range(n)]
    ids: list[list[int]] = [[] for _ in range(n)]
    lps: list[list[TokenLogprob] | None] = [None] * n
    last: list[ChoiceDelta | None] = [None] * n
    async for d in stream:
        texts[d.index].append(d.text)
        ids[d.index] += d.token_ids
        if d.logprobs is not None:
            lps[d.index] = (lps[d.index] or []) + d.logprobs
        last[d.index] = d
    out = []
    for i in range(n):
        d = last[i]
        out.append(ChoiceOutput(i, "".join(texts[i]), ids[i], d.finish_reason if d else "abort", lps[i],
                                d.prompt_tokens if d else 0, d.completion_tokens if d else 0))
    return out


class Engine(abc.ABC):
    """Generates for many requests at once; one per served base model.

    Subclasses set ``tokenizer``, ``template``, ``max_model_len`` and ``adapters`` in ``load``.
    ``stream`` must stop generating as soon as the consumer stops iterating (a client that
    disconnects frees its slot).
    """

    name: str = ""
    can_generate: bool = True

    def __init__(self, config: Any) -> None:
        self.config = config
        self.model_id: str = config.model_id()
        self.tokenizer: Any = None
        self.template: Any = None
        self.max_model_len: int = 0
        self.adapters: dict[str, str] = {}
        self.ready = False

    @abc.abstractmethod
    def load(self) -> None:
        """Load model, tokenizer, template and adapters (blocking; minutes for a big model)."""

    @abc.abstractmethod
    def stream(self, request: GenerateRequest) -> AsyncIterator[ChoiceDelta]:
        """Deltas of the request's ``n`` completions as they are generated."""

    async def generate(self, request: GenerateRequest) -> list[ChoiceOutput]:
        """The request's ``n`` whole completions."""
        return await collect(self.stream(request), request.n)

    async def score(self, texts: list[str], max_length: int | None = None) -> list[float]:
        """Reward-model scores of whole texts (only engines of reward models)."""
        raise NotImplementedError(f"{type(self).__name__} does not score")

    @abc.abstractmethod
    def stats(self) -> EngineStats:
        """Current load."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Stop background work (threads, worker processes)."""

    def model_names(self) -> list[str]:
        """Served names: the base, then ``base:adapter`` for each adapter."""
        return [self.model_id, *(f"{self.model_id}:{a}" for a in self.adapters)]

    def resolve_model(self, name: str | None) -> str | None:
        """The adapter a request's ``model`` names (None: the base); UnknownModelError otherwise.

        ``base``, ``base:adapter`` and the bare adapter name are accepted; an empty name means the base.
        """
        if not name or name == self.model_id:
            return None
        base, sep, adapter = name.partition(":")
        if sep and base == self.model_id and adapter in self.adapters:
            return adapter
        if not sep and name in self.adapters:
            return name
        raise UnknownModelError(f"The model `{name}` does not exist. Served: {', '.join(self.model_names())}")

    def validate_prompt(self, prompt_ids: list[int]) -> None:
        """BadInputError for an empty prompt or token ids outside the vocabulary; then ``check_length``."""
        from ft_core import BadInputError

        if not prompt_ids:
            raise BadInputError("prompt: it is empty after tokenization; send at least one token")
        vocab = len(self.tokenizer) if self.tokenizer is not None else None
        if vocab is not None and any(not 0 <= t < vocab for t in prompt_ids):
            raise BadInputError(f"prompt: token ids must be in [0, {vocab})")
        self.check_length(len(prompt_ids), 1)

    def check_length(self, prompt_tokens: int, max_tokens: int) -> None:
        """ContextLengthError unless the prompt leaves room for at least one new token."""
        if prompt_tokens >= self.max_model_len:
            raise ContextLengthError(
                f"This model's maximum context length is {self.max_model_len} tokens; the prompt has "
                f"{prompt_tokens} tokens. Shorten the messages.")
