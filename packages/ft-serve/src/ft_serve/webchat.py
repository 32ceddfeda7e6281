"""``ft webchat``: a chat page in the browser (gradio) for a served model.

The page shows the conversation and streams each reply token by token; beside it sit a system
prompt (the config's ``default_system``), sampling controls (temperature, top_p, max_tokens,
seed), a model selector when LoRA adapters are served, and Stop / Clear buttons. Every reply is
an ``astream_chat`` of one shared ``ChatModel``, so replies for several tabs are decoded
together by the engine's continuous batching.

The address comes from ``--host``/``--port``, else LLaMA-Factory's variables
``GRADIO_SERVER_NAME`` (127.0.0.1) and ``GRADIO_SERVER_PORT`` (7860); ``GRADIO_ROOT_PATH``
serves it behind a reverse proxy under a path, ``GRADIO_SHARE=true`` asks gradio for a public
link. gradio's analytics are off.

Example:
    $ ft webchat model_name_or_path=smollm2-135m-instruct template=smollm2
    $ GRADIO_SERVER_PORT=7861 ft webchat examples/inference/llama3_lora_sft.yaml
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from ft_core import ConfigError, FtError

from .config import ServeConfig

if TYPE_CHECKING:
    import gradio

    from .chat_model import ChatModel

__all__ = ["NO_GRADIO", "build_webchat", "launch_options", "run_webchat", "sampling_defaults"]

NO_GRADIO = "ft webchat needs the web extra: pip install 'ft-serve[web]'"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
_DEFAULT_MAX_TOKENS = 1024


def _gradio() -> Any:
    """``import gradio`` with analytics off; ConfigError naming the extra when it is missing."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "gradio":
            raise ConfigError(NO_GRADIO) from exc
        raise ConfigError(f"importing gradio failed ({exc}); reinstall the extra: pip install 'ft-serve[web]'") \
            from exc
    return gradio


def sampling_defaults(chat: ChatModel) -> dict[str, Any]:
    """Start values of the sliders: the engine's defaults (generation_config, then the config's keys).

    ``max_tokens``: the config's ``max_new_tokens`` when set, else 1024, never above the context.
    """
    engine = chat.engine
    defaults = dict(getattr(engine, "defaults", {}) or {})
    limit = max(1, int(engine.max_model_len or _DEFAULT_MAX_TOKENS))
    max_tokens = defaults.get("max_tokens") or chat.config.default_max_tokens() or _DEFAULT_MAX_TOKENS
    top_p = float(defaults.get("top_p", 1.0))
    return {
        "temperature": min(2.0, max(0.0, float(defaults.get("temperature", 1.0)))),
        "top_p": min(1.0, max(0.01, top_p)),
        "max_tokens": min(int(max_tokens), limit),
        "max_tokens_limit": limit,
    }


def _sampling(temperature: float, top_p: float, max_tokens: float, seed: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"temperature": float(temperature), "top_p": float(top_p), "max_tokens": int(max_tokens)}
    if seed is not None and str(seed).strip() != "":
        out["seed"] = int(seed)
    return out


class _Turn:
    """A reply being generated for one browser session; Stop and Clear end it through ``stop``."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.done = asyncio.Event()
        self.cleared = False  # ended by Clear: the reply's last update empties the chat


async def _until_stopped(pieces: AsyncIterator[str], stop: asyncio.Event) -> AsyncIterator[str]:
    """``pieces`` until they end or ``stop`` is set; stopping cancels the wait, so the engine drops the rows now."""
    stopped = asyncio.ensure_future(stop.wait())
    pending: asyncio.Future[str] | None = None
    try:
        while True:
            pending = asyncio.ensure_future(pieces.__anext__())
            await asyncio.wait({pending, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not pending.done():
                return
            try:
                piece = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield piece
    finally:
        stopped.cancel()
        if pending is not None and not pending.done():
            pending.cancel()  # raises CancelledError inside the engine's stream: it frees its batch rows
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        await pieces.aclose()  # type: ignore[attr-defined]


def build_webchat(chat: ChatModel) -> gradio.Blocks:
    """The chat page over ``chat`` (not launched): ``demo.launch(...)`` serves it."""
    from .api.errors import ApiError

    gr = _gradio()
    config = chat.config
    defaults = sampling_defaults(chat)
    names = chat.engine.model_names()
    turns: dict[str, _Turn] = {}  # session -> its reply in progress

    async def end_turn(request, clear: bool = False) -> None:
        turn = turns.get(request.session_hash)
        if turn is not None:
            turn.cleared = turn.cleared or clear
            turn.stop.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(turn.done.wait(), 30)

    async def respond(message: str, history: list[dict[str, str]], system: str, temperature: float, top_p: float,
                      max_tokens: float, seed: float | None, model: str | None, request
                      ) -> AsyncIterator[tuple[list[dict[str, str]], list[dict[str, str]], str]]:
        if not message or not message.strip():
            yield history, history, message
            return
        await end_turn(request)  # one reply at a time per session (Enter and Send clicked together)
        turn = turns[request.session_hash] = _Turn()
        asked = [*history, {"role": "user", "content": message}]
        # The state holds the turn as far as it got, so Stop keeps the partial reply in the history.
        shown = [*asked, {"role": "assistant", "content": ""}]
        try:
            yield shown, shown, ""
            pieces: list[str] = []
            stream = chat.astream_chat(asked, system=system or None, model=model or None,
                                       **_sampling(temperature, top_p, max_tokens, seed))
            try:
                async for piece in _until_stopped(stream, turn.stop):
                    pieces.append(piece)
                    shown = [*asked, {"role": "assistant", "content": "".join(pieces)}]
                    yield shown, shown, ""
                if turn.cleared:
                    # An update yielded just before Clear can reach the page after Clear's own empty
                    # output; this reply's last update is empty too, so the chat ends empty either way.
                    yield [], [], ""
            except (FtError, ApiError, ValueError) as exc:  # context too long, queue full, bad sampling value:
                # the turn is dropped, the message goes back in the box and a toast says why
                yield history, history, message
                raise gr.Error(str(exc)) from exc
        finally:
            turn.done.set()
            if turns.get(request.session_hash) is turn:
                del turns[request.session_hash]

    async def stop_reply(request) -> None:
        await end_turn(request)

    async def clear_chat(request) -> tuple[list[Any], list[Any]]:
        await end_turn(request, clear=True)  # the reply ends (emptying the chat) before the page is emptied
        return [], []

    # gradio finds the gr.Request parameter by its annotation; gradio is imported here, not at module level
    for handler in (respond, stop_reply, clear_chat):
        handler.__annotations__["request"] = gr.Request

    with gr.Blocks(title=f"ft webchat: {config.model_id()}", analytics_enabled=False) as demo:
        gr.Markdown(f"### {config.model_id()}")
        history = gr.State([])
        with gr.Row():
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(label="Conversation", elem_id="ft-chatbot", height=520,
                                     feedback_options=None, buttons=["copy", "copy_all"])
                with gr.Row():
                    message = gr.Textbox(placeholder="Type a message and press Enter", show_label=False,
                                         scale=5, elem_id="ft-message", autofocus=True)
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="ft-send")
                with gr.Row():
                    stop = gr.Button("Stop", elem_id="ft-stop")
                    clear = gr.Button("Clear", elem_id="ft-clear")
            with gr.Column(scale=2):
                system = gr.Textbox(value=config.default_system or "", label="System prompt", lines=3,
                                    elem_id="ft-system")
                model = gr.Dropdown(choices=names, value=names[0], label="Model", visible=len(names) > 1,
                                    elem_id="ft-model")
                temperature = gr.Slider(0.0, 2.0, value=defaults["temperature"], step=0.01, label="Temperature",
                                        info="0: greedy", elem_id="ft-temperature")
                top_p = gr.Slider(0.01, 1.0, value=defaults["top_p"], step=0.01, label="Top-p",
                                  elem_id="ft-top-p")
                max_tokens = gr.Slider(1, defaults["max_tokens_limit"], value=defaults["max_tokens"], step=1,
                                       label="Max new tokens", elem_id="ft-max-tokens")
                seed = gr.Number(value=None, precision=0, label="Seed", info="empty: random",
                                 elem_id="ft-seed")

        inputs = [message, history, system, temperature, top_p, max_tokens, seed, model]
        outputs = [chatbot, history, message]
        # concurrency_limit=None: the replies of all tabs run at once and the engine batches them
        # (gradio's default of 1 would serialise the tabs). Stop and Clear end a reply through the
        # session's _Turn rather than gradio's `cancels`, which races with a message sent right
        # after; a new message ends the session's previous reply itself, so none is ever dropped.
        for trigger in (message.submit, send.click):
            trigger(respond, inputs, outputs, concurrency_limit=None, show_progress="hidden",
                    trigger_mode="multiple")
        stop.click(stop_reply, None, None, concurrency_limit=None, queue=False)
        clear.click(clear_chat, None, [chatbot, history], concurrency_limit=None)
        chatbot.clear(clear_chat, None, [chatbot, history], concurrency_limit=None)  # the chat box's own trash icon
    return demo


def launch_options(host: str | None = None, port: int | None = None,
                   env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``launch`` keywords: arguments, else GRADIO_SERVER_NAME/PORT, GRADIO_ROOT_PATH, GRADIO_SHARE."""
    env = os.environ if env is None else env
    raw_port = port if port is not None else env.get("GRADIO_SERVER_PORT") or DEFAULT_PORT
    try:
        server_port = int(raw_port)
    except ValueError:
        raise ConfigError(f"GRADIO_SERVER_PORT={raw_port!r} is not a port number") from None
    if not 0 <= server_port <= 65535:
        raise ConfigError(f"port {server_port} is out of range (0-65535)")
    return {
        "server_name": host or env.get("GRADIO_SERVER_NAME") or DEFAULT_HOST,
        "server_port": server_port,
        "root_path": env.get("GRADIO_ROOT_PATH", ""),
        "share": env.get("GRADIO_SHARE", "").strip().lower() in ("1", "true", "yes"),
    }


def run_webchat(config: ServeConfig, host: str | None = None, port: int | None = None) -> int:
    """Load the model and serve the chat page until interrupted."""
    from .chat_model import ChatModel

    _gradio()  # a missing extra fails before the model loads
    options = launch_options(host, port)
    chat = ChatModel(config)
    try:
        demo = build_webchat(chat)
        demo.queue(default_concurrency_limit=None)
        demo.launch(**options, show_error=True, footer_links=["settings"])
    finally:
        chat.close()
    return 0
