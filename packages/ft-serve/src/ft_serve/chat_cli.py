"""``ft chat``: talk to a model in the terminal, with history, a system prompt and streaming.

Type ``clear`` to forget the history and ``exit`` to leave. When stdin is not a terminal, each
input line is one user turn and the reply is printed on its own line (the history is kept), so
the command can be scripted: ``printf 'Hi\\nexit\\n' | ft chat cfg.yaml``.

Example:
    $ ft chat model_name_or_path=smollm2-135m-instruct template=smollm2
"""

from __future__ import annotations

import sys
from typing import IO, Any

from .chat_model import ChatModel
from .config import ServeConfig

__all__ = ["run_chat"]


def run_chat(config: ServeConfig, system: str | None = None, stdin: IO[str] | None = None,
             stdout: IO[str] | None = None, chat: ChatModel | None = None) -> int:
    """Read user turns from ``stdin`` and stream replies to ``stdout`` until ``exit`` or end of input."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty()
    if interactive:
        print(f"loading {config.model_name_or_path} ...", file=sys.stderr, flush=True)
    chat = chat or ChatModel(config)
    history: list[dict[str, Any]] = []
    if interactive:
        print("Type a message; 'clear' forgets the history, 'exit' quits.", file=stdout, flush=True)
    while True:
        if interactive:
            stdout.write("\nUser: ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        query = line.rstrip("\n")
        if query.strip() == "exit":
            break
        if query.strip() == "clear":
            history = []
            if interactive:
                print("History cleared.", file=stdout, flush=True)
            continue
        if not query.strip():
            continue
        history.append({"role": "user", "content": query})
        if interactive:
            stdout.write("Assistant: ")
        pieces = []
        for piece in chat.stream_chat(history, system=system):
            pieces.append(piece)
            stdout.write(piece)
            stdout.flush()
        stdout.write("\n")
        stdout.flush()
        history.append({"role": "assistant", "content": "".join(pieces)})
    chat.close()
    return 0
