"""``ChatModel``: chat with a served model from Python, sync or async (LLaMA-Factory's ChatModel).

It loads the engine ``infer_backend`` names and builds prompts with the template, as ``ft api``
does. The sync methods run the engine's async API on a private event loop thread, so they work
from plain scripts, notebooks and the terminal chat.

Example:
    >>> chat = ChatModel(load_serve_config(None, ["model_name_or_path=smollm2-135m-instruct"]))
    >>> chat.chat([{"role": "user", "content": "Hi"}], max_tokens=16)
    'Hello! How can I help you today?'
    >>> for piece in chat.stream_chat([{"role": "user", "content": "Hi"}]):
    ...     print(piece, end="")
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .config import ServeConfig
from .engines import Engine, GenerateRequest, build_engine
from .prompts import chat_prompt_ids

__all__ = ["ChatModel"]


class ChatModel:
    """One loaded engine with chat helpers; ``messages`` are OpenAI-style dicts."""

    def __init__(self, config: ServeConfig, engine: Engine | None = None) -> None:
        self.config = config
        self.engine = engine or build_engine(config)
        if not self.engine.ready:
            self.engine.load()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _request(self, messages: list[dict[str, Any]], system: str | None, model: str | None,
                 **sampling: Any) -> GenerateRequest:
        from .api.common import request_sampling
        from .api.protocol import ChatCompletionRequest

        msgs = ([{"role": "system", "content": system}] if system else []) + list(messages)
        ids = chat_prompt_ids(self.engine.template, self.engine.tokenizer, msgs)
        self.engine.check_length(len(ids), 1)
        body = ChatCompletionRequest(messages=msgs, **sampling)
        params = request_sampling(self.engine, body, len(ids), None, body.max_tokens)
        return GenerateRequest(f"chat-{uuid.uuid4().hex}", ids, params, 1, self.engine.resolve_model(model))

    async def astream_chat(self, messages: list[dict[str, Any]], system: str | None = None,
                           model: str | None = None, **sampling: Any) -> AsyncIterator[str]:
        """Text pieces of the reply as they are generated (``sampling``: OpenAI request fields)."""
        async for delta in self.engine.stream(self._request(messages, system, model, **sampling)):
            if delta.text:
                yield delta.text

    def _background_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            threading.Thread(target=self._loop.run_forever, name="ft-chat-loop", daemon=True).start()
        return self._loop

    def stream_chat(self, messages: list[dict[str, Any]], system: str | None = None, model: str | None = None,
                    **sampling: Any) -> Iterator[str]:
        """Sync form of ``astream_chat``; closing the iterator early stops the generation."""
        loop = self._background_loop()
        agen = self.astream_chat(messages, system, model, **sampling)
        try:
            while True:
                try:
                    yield asyncio.run_coroutine_threadsafe(agen.__anext__(), loop).result()
                except StopAsyncIteration:
                    return
        finally:
            asyncio.run_coroutine_threadsafe(agen.aclose(), loop).result()

    def chat(self, messages: list[dict[str, Any]], system: str | None = None, model: str | None = None,
             **sampling: Any) -> str:
        """The whole reply."""
        return "".join(self.stream_chat(messages, system, model, **sampling))

    def close(self) -> None:
        """Stop the engine and the loop thread."""
        self.engine.shutdown()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
