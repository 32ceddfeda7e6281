"""``POST /v1/completions``: raw-text completion (no chat template), whole or streamed.

A prompt is a string, a list of strings, a list of token ids or a list of those; choice ``k``
of prompt ``p`` has index ``p * n + k``, as in OpenAI's API.

Example (with the openai client):
    >>> client.completions.create(model="smollm2-135m-instruct", prompt="The capital of France is", max_tokens=5)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sse_starlette import EventSourceResponse

from ..engines import ChoiceDelta, Engine, GenerateRequest
from .common import ClientGone, completion_logprobs, log_request, request_sampling, unless_disconnected
from .errors import ApiError
from .protocol import CompletionRequest, new_id

__all__ = ["completion"]

ENDPOINT = "/v1/completions"


def _prompts(engine: Engine, prompt: Any) -> list[list[int]]:
    if isinstance(prompt, str):
        prompt = [prompt]
    if not prompt:
        raise ApiError(400, "prompt must not be empty", "prompt")
    if all(isinstance(t, int) for t in prompt):
        return [list(prompt)]
    out = []
    for p in prompt:
        if isinstance(p, str):
            out.append(engine.tokenizer(p, add_special_tokens=True)["input_ids"])
        elif isinstance(p, list) and p and all(isinstance(t, int) for t in p):
            out.append(list(p))
        else:
            raise ApiError(400, "prompt must be a string, a list of strings or a list of token ids", "prompt")
    return out


async def completion(engine: Engine, body: CompletionRequest, request: Request, metrics: Any) -> Any:
    started = time.perf_counter()
    if not engine.can_generate:
        raise ApiError(405, "Not allowed: this model is a reward model; use /v1/score/evaluation")
    if body.suffix:
        raise ApiError(400, "suffix is not supported", "suffix")
    if body.best_of not in (None, body.n):
        raise ApiError(400, "best_of is not supported", "best_of")
    adapter = engine.resolve_model(body.model)
    prompts = _prompts(engine, body.prompt)
    requests = []
    for ids in prompts:
        engine.validate_prompt(ids)
        params = request_sampling(engine, body, len(ids), body.logprobs)
        requests.append(GenerateRequest(new_id("cmpl"), ids, params, body.n, adapter, body.response_format))
    model_name = body.model or engine.model_id
    echo = [engine.tokenizer.decode(ids) if body.echo else "" for ids in prompts]
    prompt_tokens = sum(len(p) for p in prompts)
    if body.stream:
        streams = [engine.stream(r) for r in requests]
        return EventSourceResponse(_sse(streams, requests, body, model_name, echo, started, prompt_tokens, metrics),
                                   ping=15)
    try:
        outputs = await unless_disconnected(asyncio.gather(*(engine.generate(r) for r in requests)), request)
    except ClientGone:
        log_request(ENDPOINT, 499, started, prompt_tokens, 0, metrics)
        return None
    choices = []
    completion_tokens = 0
    if any(out.finish_reason == "error" for outs in outputs for out in outs):
        raise ApiError(500, "generation failed; the server log has the details")
    for p, outs in enumerate(outputs):
        for out in outs:
            completion_tokens += out.completion_tokens
            choices.append({"index": p * body.n + out.index, "text": echo[p] + out.text,
                            "logprobs": completion_logprobs(out.logprobs, len(echo[p])),
                            "finish_reason": out.finish_reason})
    log_request(ENDPOINT, 200, started, prompt_tokens, completion_tokens, metrics)
    return {"id": requests[0].request_id, "object": "text_completion", "created": int(time.time()),
            "model": model_name, "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


async def _merged(streams: list[AsyncIterator[ChoiceDelta]]) -> AsyncIterator[tuple[int, ChoiceDelta]]:
    """Deltas of several streams as they come, tagged with the stream's position."""
    queue: asyncio.Queue = asyncio.Queue()

    async def pump(p: int, stream: AsyncIterator[ChoiceDelta]) -> None:
        try:
            async for d in stream:
                await queue.put((p, d))
        except Exception as exc:  # handed to the consumer, which re-raises it
            await queue.put((p, exc))
        finally:
            await queue.put((p, None))

    tasks = [asyncio.create_task(pump(p, s)) for p, s in enumerate(streams)]
    open_streams = len(streams)
    try:
        while open_streams:
            p, item = await queue.get()
            if item is None:
                open_streams -= 1
            elif isinstance(item, Exception):
                raise item
            else:
                yield p, item
    finally:
        for t in tasks:
            t.cancel()


async def _sse(streams: list[AsyncIterator[ChoiceDelta]], requests: list[GenerateRequest], body: CompletionRequest,
               model_name: str, echo: list[str], started: float, prompt_tokens: int, metrics: Any) -> AsyncIterator[str]:
    created = int(time.time())
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    tokens: dict[tuple[int, int], int] = {}
    status = 499

    def chunk(index: int, text: str, finish: str | None, logprobs: Any = None) -> str:
        return json.dumps({"id": requests[0].request_id, "object": "text_completion", "created": created,
                           "model": model_name, "choices": [{"index": index, "text": text, "logprobs": logprobs,
                                                             "finish_reason": finish}]}, ensure_ascii=False)

    try:
        for p, text in enumerate(echo):
            if text:
                for k in range(body.n):
                    yield chunk(p * body.n + k, text, None)
        async for p, d in _merged(streams):
            tokens[(p, d.index)] = d.completion_tokens
            if d.text or d.finish_reason or d.logprobs:
                yield chunk(p * body.n + d.index, d.text, d.finish_reason, completion_logprobs(d.logprobs))
        if include_usage:
            done = sum(tokens.values())
            yield json.dumps({"id": requests[0].request_id, "object": "text_completion", "created": created,
                              "model": model_name, "choices": [],
                              "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": done,
                                        "total_tokens": prompt_tokens + done}})
        yield "[DONE]"
        status = 200
    finally:
        for s in streams:
            await s.aclose()
        log_request(ENDPOINT, status, started, prompt_tokens, sum(tokens.values()), metrics)
