"""What the chat and completion handlers share: sampling settings from a request, running a
generation that stops when the client goes away, logprobs in OpenAI's shapes, and the
per-request log line.

Example:
    >>> params = request_sampling(engine, body, prompt_tokens=len(ids), logprobs=None)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from fastapi import Request

from ft_core import get_logger
from ft_models.generation import SamplingParams

from ..engines import Engine, TokenLogprob
from .errors import ApiError

log = get_logger("ft.serve.api")

__all__ = ["ClientGone", "chat_logprobs", "log_request", "request_sampling", "unless_disconnected"]


class ClientGone(Exception):
    """The client closed the connection before the answer was ready."""


def request_sampling(engine: Engine, body: Any, prompt_tokens: int, logprobs: int | None,
                     max_tokens: int | None = None) -> SamplingParams:
    """``SamplingParams`` for a request: the engine's defaults, then the fields the request sets.

    ``max_tokens`` defaults to the config's ``max_new_tokens``, else the rest of the context; a
    request asking for more than the context leaves gets what is left.
    """
    if body.logit_bias:
        raise ApiError(400, "logit_bias is not supported", "logit_bias")
    fields: dict[str, Any] = dict(getattr(engine, "defaults", {}) or {})
    for key in ("temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty",
                "frequency_penalty", "min_tokens", "seed", "skip_special_tokens", "ignore_eos", "stop_token_ids"):
        value = getattr(body, key, None)
        if value is not None:
            fields[key] = value
    if body.do_sample is False:
        fields["temperature"] = 0.0
    if body.stop is not None:
        fields["stop"] = body.stop
    room = engine.max_model_len - prompt_tokens
    wanted = max_tokens or getattr(body, "max_tokens", None) or fields.get("max_tokens") or room
    fields["max_tokens"] = max(1, min(wanted, room))
    if logprobs is not None:
        fields["logprobs"] = logprobs
    try:
        return SamplingParams(**fields)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ApiError(400, f"invalid sampling parameters: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}") \
            from exc


async def unless_disconnected(work: Awaitable[Any], request: Request, poll_s: float = 0.2) -> Any:
    """Await ``work``; cancel it (freeing its batch rows) if the client disconnects first."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=poll_s)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                raise ClientGone
    finally:
        if not task.done():
            task.cancel()


def _bytes(token: str) -> list[int]:
    return list(token.encode("utf-8"))


def chat_logprobs(items: list[TokenLogprob] | None) -> dict[str, Any] | None:
    """OpenAI chat ``logprobs`` object: ``{"content": [{"token", "logprob", "bytes", "top_logprobs"}]}``."""
    if items is None:
        return None
    return {"content": [{"token": t.token, "logprob": t.logprob, "bytes": _bytes(t.token),
                         "top_logprobs": [{"token": s, "logprob": lp, "bytes": _bytes(s)} for s, lp in t.top]}
                        for t in items]}


def completion_logprobs(items: list[TokenLogprob] | None, offset: int = 0) -> dict[str, Any] | None:
    """OpenAI completions ``logprobs`` object (tokens, token_logprobs, top_logprobs, text_offset)."""
    if items is None:
        return None
    offsets, pos = [], offset
    for t in items:
        offsets.append(pos)
        pos += len(t.token)
    return {"tokens": [t.token for t in items], "token_logprobs": [t.logprob for t in items],
            "top_logprobs": [dict(t.top) for t in items], "text_offset": offsets}


def log_request(endpoint: str, status: int, started: float, prompt_tokens: int = 0,
                completion_tokens: int = 0, metrics: Any = None) -> None:
    """One line per request: endpoint, status, latency, tokens and tokens/s (never the body)."""
    latency = time.perf_counter() - started
    if metrics is not None:
        metrics.observe(endpoint, status, latency, prompt_tokens, completion_tokens)
    rate = f" ({completion_tokens / latency:.1f} tok/s)" if completion_tokens and latency > 0 else ""
    log.info("%s %d %.2fs prompt=%d completion=%d%s", endpoint, status, latency, prompt_tokens,
             completion_tokens, rate)
