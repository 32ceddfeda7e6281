"""OpenAI chat messages to the prompt token ids a template builds, exactly as in training.

Messages go through ft-templates' ``from_openai`` (system, tool calls and tool results in the
internal format ft-data trains on) and ``Template.encode_oneturn`` with an empty answer, so the
prompt a served model sees is the one its training rows started with.

Example:
    >>> ids = chat_prompt_ids(template, tokenizer, [{"role": "user", "content": "Hi"}])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ft_core import BadInputError
from ft_templates import from_openai

__all__ = ["chat_prompt_ids", "text_content", "tool_schemas"]


def text_content(content: Any, where: str) -> str:
    """A message's ``content`` as text: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                texts.append(part.get("text", ""))
            else:
                raise BadInputError(f"{where}: content part type {kind!r} is not supported; "
                                    "only text parts are (images, audio and video are not served yet)")
        return "".join(texts)
    raise BadInputError(f"{where}: content must be a string or a list of parts")


def tool_schemas(tools: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """OpenAI ``tools`` (``{"type": "function", "function": {...}}``) to the function schemas templates render."""
    if not tools:
        return None
    out = []
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not fn.get("name"):
            raise BadInputError(f"tools[{i}]: needs {{'type': 'function', 'function': {{'name': ...}}}}")
        out.append({k: v for k, v in fn.items() if v is not None})
    return out


def chat_prompt_ids(template: Any, tokenizer: Any, messages: Sequence[dict[str, Any]],
                    tools: Sequence[dict[str, Any]] | None = None) -> list[int]:
    """Token ids of the generation prompt for ``messages`` (OpenAI roles) and optional ``tools``.

    Raises BadInputError (HTTP 400) for roles out of order, a conversation that does not end
    with a user or tool message, or unsupported content.
    """
    if not messages:
        raise BadInputError("messages: at least one message is required")
    plain: list[dict[str, Any]] = []
    systems: list[str] = []
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool", "function"):
            raise BadInputError(f"messages[{i}].role {role!r} is invalid; use system, user, assistant or tool")
        content = text_content(msg.get("content"), f"messages[{i}]")
        if role in ("system", "developer"):
            if plain:
                raise BadInputError(f"messages[{i}]: a system message must come before the conversation")
            systems.append(content)
            continue
        entry: dict[str, Any] = {"role": "tool" if role == "function" else role, "content": content}
        if role == "assistant" and msg.get("tool_calls"):
            entry["tool_calls"] = msg["tool_calls"]
        plain.append(entry)
    try:
        internal, _ = from_openai(plain)
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"messages: a tool call is malformed ({exc})") from exc
    if not internal or internal[-1]["role"] not in ("user", "observation"):
        raise BadInputError("messages: the last message must be from the user or a tool")
    try:
        ids, _ = template.encode_oneturn(tokenizer, [*internal, {"role": "assistant", "content": ""}],
                                         system="\n".join(systems) or None, tools=tool_schemas(tools))
    except ValueError as exc:
        raise BadInputError(f"messages: {exc}") from exc
    return ids
