"""``POST /v1/chat/completions``: OpenAI chat, whole or streamed (SSE), with tools and JSON output.

The prompt is built by the template (``ft_serve.prompts``); tool calls in the reply are parsed
with the template's tool format, while streaming too (``ToolCallParser``); ``response_format``
is enforced by constrained decoding in the engine.

Example (with the openai client):
    >>> client.chat.completions.create(model="smollm2-135m-instruct", messages=[{"role": "user", "content": "hi"}])
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sse_starlette import EventSourceResponse

from ..engines import ChoiceDelta, Engine, GenerateRequest
from ..prompts import chat_prompt_ids
from .common import ClientGone, chat_logprobs, log_request, request_sampling, unless_disconnected
from .errors import ApiError
from .protocol import ChatCompletionRequest, new_id
from .tools import ToolCallParser

__all__ = ["chat_completion"]

ENDPOINT = "/v1/chat/completions"


def _tools_in_use(body: ChatCompletionRequest) -> list[dict[str, Any]] | None:
    choice = body.tool_choice
    if not body.tools or choice == "none":
        return None
    if choice not in (None, "auto"):
        raise ApiError(400, "tool_choice must be 'auto' or 'none' (forcing a call is not supported)", "tool_choice")
    return [t.model_dump(exclude_none=True) for t in body.tools]


def _call_json(call: Any) -> dict[str, Any]:
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": call.name, "arguments": call.arguments}}


async def chat_completion(engine: Engine, body: ChatCompletionRequest, request: Request, metrics: Any) -> Any:
    started = time.perf_counter()
    if not engine.can_generate:
        raise ApiError(405, "Not allowed: this model is a reward model; use /v1/score/evaluation")
    adapter = engine.resolve_model(body.model)
    tools = _tools_in_use(body)
    messages = [m.model_dump(exclude_none=True) for m in body.messages]
    ids = chat_prompt_ids(engine.template, engine.tokenizer, messages, tools)
    engine.validate_prompt(ids)
    want_logprobs = (body.top_logprobs or 0) if body.logprobs else None
    params = request_sampling(engine, body, len(ids), want_logprobs, body.max_completion_tokens or body.max_tokens)
    gen = GenerateRequest(new_id("chatcmpl"), ids, params, body.n, adapter, body.response_format)
    model_name = body.model or engine.model_id
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = engine.stream(gen)
        first = await _first(stream)  # engine errors (429, 413...) surface before the 200 is sent
        return EventSourceResponse(_sse(engine, gen, model_name, first, stream, tools, include_usage, started,
                                        metrics), ping=15)
    try:
        outputs = await unless_disconnected(engine.generate(gen), request)
    except ClientGone:
        log_request(ENDPOINT, 499, started, len(ids), 0, metrics)
        return None
    if any(out.finish_reason == "error" for out in outputs):
        raise ApiError(500, "generation failed; the server log has the details")
    choices = []
    for out in outputs:
        message: dict[str, Any] = {"role": "assistant", "content": out.text}
        finish = out.finish_reason
        if tools:
            parser = ToolCallParser(engine.template)
            content, calls = parser.push(out.text)
            rest, more = parser.finish()
            calls += more
            if calls:
                message = {"role": "assistant", "content": (content + rest) or None,
                           "tool_calls": [_call_json(c) for c in calls]}
                finish = "tool_calls"
        choices.append({"index": out.index, "message": message, "logprobs": chat_logprobs(out.logprobs),
                        "finish_reason": finish})
    completion = sum(o.completion_tokens for o in outputs)
    log_request(ENDPOINT, 200, started, len(ids), completion, metrics)
    return {"id": gen.request_id, "object": "chat.completion", "created": int(time.time()), "model": model_name,
            "choices": choices,
            "usage": {"prompt_tokens": len(ids), "completion_tokens": completion,
                      "total_tokens": len(ids) + completion}}


async def _first(stream: AsyncIterator[ChoiceDelta]) -> ChoiceDelta | None:
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None


async def _sse(engine: Engine, gen: GenerateRequest, model_name: str, first: ChoiceDelta | None,
               stream: AsyncIterator[ChoiceDelta], tools: list[dict[str, Any]] | None, include_usage: bool,
               started: float, metrics: Any) -> AsyncIterator[str]:
    created = int(time.time())
    parsers = [ToolCallParser(engine.template) if tools else None for _ in range(gen.n)]
    sent_calls = [0] * gen.n
    completion = [0] * gen.n
    status = 499  # until every choice has finished

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> str:
        payload: dict[str, Any] = {"id": gen.request_id, "object": "chat.completion.chunk", "created": created,
                                   "model": model_name,
                                   "choices": [{"index": index, "delta": delta, "logprobs": logprobs,
                                                "finish_reason": finish}]}
        if include_usage:
            payload["usage"] = None
        return json.dumps(payload, ensure_ascii=False)

    def calls_delta(index: int, calls: list[Any]) -> list[str]:
        out = []
        for call in calls:
            out.append(chunk(index, {"tool_calls": [{"index": sent_calls[index], **_call_json(call)}]}))
            sent_calls[index] += 1
        return out

    try:
        for i in range(gen.n):
            yield chunk(i, {"role": "assistant", "content": ""})
        finished = 0
        delta = first
        while delta is not None:
            i = delta.index
            completion[i] = delta.completion_tokens
            parser = parsers[i]
            content, calls = parser.push(delta.text) if parser else (delta.text, [])
            if content or delta.logprobs:
                yield chunk(i, {"content": content}, logprobs=chat_logprobs(delta.logprobs))
            for line in calls_delta(i, calls):
                yield line
            if delta.finish_reason is not None:
                finish = delta.finish_reason
                if parser:
                    rest, more = parser.finish()
                    if rest:
                        yield chunk(i, {"content": rest})
                    for line in calls_delta(i, more):
                        yield line
                    if parser.has_calls:
                        finish = "tool_calls"
                if finish == "error":
                    yield json.dumps({"error": {"message": "generation failed", "type": "server_error",
                                                "param": None, "code": 500}})
                    finish = "stop"
                yield chunk(i, {}, finish)
                finished += 1
                if finished == gen.n:
                    break
            delta = await _first(stream)
        if include_usage:
            prompt = len(gen.prompt_ids)
            yield json.dumps({"id": gen.request_id, "object": "chat.completion.chunk", "created": created,
                              "model": model_name, "choices": [],
                              "usage": {"prompt_tokens": prompt, "completion_tokens": sum(completion),
                                        "total_tokens": prompt + sum(completion)}})
        yield "[DONE]"
        status = 200
    finally:
        await stream.aclose()  # stops the engine's work for this request if the client left
        log_request(ENDPOINT, status, started, len(gen.prompt_ids), sum(completion), metrics)
