"""Convert between the internal message format and OpenAI/Hugging Face chat messages.

Internal (LLaMA-Factory's): roles user/assistant/function/observation, a function message's
content is the JSON call(s), plus separate ``system`` and ``tools``. OpenAI/HF: a leading
``system`` message, assistant messages with ``tool_calls`` and ``tool`` messages for results.

Example:
    >>> to_openai([{"role": "user", "content": "2+2?"},
    ...            {"role": "function", "content": '{"name": "add", "arguments": {"a": 2, "b": 2}}'}])
    [{'role': 'user', 'content': '2+2?'}, {'role': 'assistant', 'content': '', 'tool_calls': [{'type': 'function', 'function': {'name': 'add', 'arguments': {'a': 2, 'b': 2}}}]}]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .formatter import parse_calls_json, parse_tools_json, split_call_text

__all__ = ["from_openai", "openai_tools", "to_openai"]


def to_openai(messages: Sequence[dict[str, str]], system: str | None = None,
              thought_words: tuple[str, str] | None = None,
              tool_call_words: tuple[str, str] | None = ("<tool_call>", "</tool_call>")) -> list[dict[str, Any]]:
    """Internal messages (+ system) → OpenAI-style chat messages (tool calls as ``tool_calls``)."""
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for msg in messages:
        role, content = msg["role"], msg["content"]
        if role == "function":
            lead, payload = split_call_text(content, thought_words, tool_call_words)
            calls = [{"type": "function", "function": {"name": c.name, "arguments": json.loads(c.arguments)}}
                     for c in parse_calls_json(payload)]
            out.append({"role": "assistant", "content": lead, "tool_calls": calls})
        elif role == "observation":
            out.append({"role": "tool", "content": content})
        else:
            out.append({"role": role, "content": content})
    return out


def from_openai(messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, str]], str | None]:
    """OpenAI-style messages → (internal messages, system). Consecutive tool results are joined
    as one observation (a JSON list), as the internal format has one observation per turn."""
    system = None
    out: list[dict[str, str]] = []
    for msg in messages:
        role, content = msg["role"], msg.get("content") or ""
        if role == "system":
            system = content
        elif role == "assistant" and msg.get("tool_calls"):
            calls = []
            for tc in msg["tool_calls"]:
                fn = tc.get("function", tc)
                args = fn.get("arguments", {})
                calls.append({"name": fn["name"], "arguments": json.loads(args) if isinstance(args, str) else args})
            payload = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
            out.append({"role": "function", "content": content + payload})
        elif role == "tool":
            if out and out[-1]["role"] == "observation":
                prev = out[-1]["content"]
                items = json.loads(prev) if prev.startswith("[") else [prev]
                out[-1]["content"] = json.dumps([*items, content], ensure_ascii=False)
            else:
                out.append({"role": "observation", "content": content})
        else:
            out.append({"role": role, "content": content})
    return out, system


def openai_tools(tools: str | list | None) -> list[dict[str, Any]] | None:
    """The ``tools`` column → the list HF's ``apply_chat_template(tools=...)`` expects (wrapped)."""
    schemas = parse_tools_json(tools)
    return [{"type": "function", "function": t} for t in schemas] or None
