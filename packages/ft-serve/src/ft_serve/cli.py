"""Command line of ft-serve: ``ft-serve chat|api|webchat ...``, also as ``ft chat``, ``ft api``, ``ft webchat``.

Example:
    $ ft chat model_name_or_path=smollm2-135m-instruct template=smollm2
    $ API_PORT=8000 ft api docs/examples/inference/smollm2.yaml
    $ ft webchat model_name_or_path=smollm2-135m-instruct template=smollm2
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ft_core import Arg, Command, Group

from . import __version__

_CONFIG = Arg("config", nargs="?", default=None,
              help="YAML/JSON inference config (LLaMA-Factory keys); or give every key as KEY=VALUE")
_OVERRIDES = Arg("overrides", nargs="*", metavar="KEY=VALUE",
                 help="override config keys, e.g. temperature=0.2 adapter_name_or_path=saves/lora")


def _load(args: argparse.Namespace):
    from .config import load_serve_config

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config and not config.endswith((".yaml", ".yml", ".json")):
        overrides.insert(0, config)  # `ft chat key=value ...` without a file
        config = None
    return load_serve_config(config, overrides)


def _chat(args: argparse.Namespace) -> int:
    from .chat_cli import run_chat

    return run_chat(_load(args), system=args.system)


def _api(args: argparse.Namespace) -> int:
    from .api.server import serve

    return serve(_load(args), host=args.host, port=args.port)


def _webchat(args: argparse.Namespace) -> int:
    from .webchat import run_webchat

    return run_webchat(_load(args), host=args.host, port=args.port)


chat_command = Command(
    "chat", "Chat with a model in the terminal (history, system prompt, streaming; scriptable through stdin).",
    _chat, arguments=[_CONFIG, _OVERRIDES,
                      Arg("--system", default=None, help="system prompt (default: the config's default_system)")],
    example="ft chat model_name_or_path=smollm2-135m-instruct template=smollm2",
    description="Chat with a model in the terminal. 'clear' forgets the history, 'exit' quits. With stdin not a "
                "terminal, every line is a user turn and each reply is printed on its own line.")
api_command = Command(
    "api", "Serve a model behind an OpenAI-compatible API (chat, completions, models, scores, metrics).", _api,
    arguments=[_CONFIG, _OVERRIDES,
               Arg("--host", default=None, help="address to bind (default: API_HOST, else 127.0.0.1)"),
               Arg("--port", type=int, default=None, help="port (default: API_PORT, else 8000)")],
    example="API_PORT=8000 ft api model_name_or_path=smollm2-135m-instruct template=smollm2",
    description="Serve a model behind an OpenAI-compatible API. API_KEY turns on bearer auth; API_HOST/API_PORT "
                "(or --host/--port) choose the address; OpenAPI docs at /docs.")
webchat_command = Command(
    "webchat", "Chat with a model in the browser (gradio page: streaming, system prompt, sampling, adapters).",
    _webchat, arguments=[_CONFIG, _OVERRIDES,
                         Arg("--host", default=None, help="address to bind (default: GRADIO_SERVER_NAME, else 127.0.0.1)"),
                         Arg("--port", type=int, default=None, help="port (default: GRADIO_SERVER_PORT, else 7860)")],
    example="ft webchat model_name_or_path=smollm2-135m-instruct template=smollm2",
    description="Serve a chat page for a model in the browser (needs the web extra: pip install 'ft-serve[web]'). "
                "GRADIO_SERVER_NAME/GRADIO_SERVER_PORT (or --host/--port) choose the address, GRADIO_ROOT_PATH "
                "a path behind a proxy, GRADIO_SHARE=true a public gradio link.")

cli = Group("ft-serve", "Inference engines, chat CLI and an OpenAI-compatible API for the ft toolkit.",
            commands=[chat_command, api_command, webchat_command], version=__version__,
            example="ft-serve api model_name_or_path=smollm2-135m-instruct template=smollm2")


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
