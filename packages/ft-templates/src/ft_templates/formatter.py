"""Formatters: turn one message's content into a list of slots.

* ``EmptyFormatter``  — fixed slots (prefix, separators); placeholders are an error.
* ``StringFormatter`` — slots with ``{{content}}`` (and optionally ``{{idx}}``).
* ``FunctionFormatter`` — an assistant tool-call turn: JSON call(s) rendered by a tool format.
* ``ToolFormatter`` — the tool schemas rendered into text for the system prompt; ``extract``
  parses a model reply back into calls.

Example:
    >>> StringFormatter(["<|im_start|>user\\n{{content}}<|im_end|>\\n"]).apply(content="hi")
    ['<|im_start|>user\\nhi<|im_end|>\\n']
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .slots import PLACEHOLDER, Slot, normalize_slot
from .tool_formats import FunctionCall, ToolFormat, get_tool_format

__all__ = ["EmptyFormatter", "Formatter", "FunctionFormatter", "StringFormatter", "ToolFormatter"]


@dataclass(frozen=True)
class Formatter:
    """Base: a tuple of slots; ``apply`` fills placeholders and returns a new slot list."""

    slots: tuple[Slot, ...] = ()

    def __init__(self, slots: Sequence[Any] = ()) -> None:
        object.__setattr__(self, "slots", tuple(normalize_slot(s) for s in slots))
        self._check()

    def _check(self) -> None:
        pass

    def placeholders(self) -> set[str]:
        return {m for s in self.slots if isinstance(s, str) for m in PLACEHOLDER.findall(s)}

    def apply(self, **values: Any) -> list[Slot]:
        for key, value in values.items():
            if not isinstance(value, str):
                raise TypeError(f"formatter value {key!r} must be a string, got {type(value).__name__}")
        out: list[Slot] = []
        for slot in self.slots:
            if isinstance(slot, str):
                for key, value in values.items():
                    # str.replace with count=1: the first occurrence only, like LLaMA-Factory
                    slot = slot.replace("{{" + key + "}}", value, 1)
            out.append(slot)
        return out


class EmptyFormatter(Formatter):
    """Static slots, e.g. the prefix ``[BOS]`` or ``[Token("[gMASK]"), Token("<sop>")]``."""

    def _check(self) -> None:
        if self.placeholders():
            raise ValueError(f"EmptyFormatter cannot hold placeholders: {self.slots!r}")


class StringFormatter(Formatter):
    """Slots with at least one placeholder (``{{content}}``, ``{{idx}}``)."""

    def _check(self) -> None:
        if not self.placeholders():
            raise ValueError(f"StringFormatter needs a {{{{content}}}} placeholder: {self.slots!r}")


@dataclass(frozen=True)
class FunctionFormatter(Formatter):
    """An assistant tool-call turn: ``content`` is JSON, one call or a list (parallel calls).

    Each call is ``{"name": str, "arguments": dict}``. A ``tool_call_words`` block in the text is
    where the JSON is taken from (text before it is kept); otherwise a leading thought block is
    peeled off and put back in front of the rendered calls.
    """

    tool_format: ToolFormat = field(default=None)  # type: ignore[assignment]

    def __init__(self, slots: Sequence[Any] = ("{{content}}",), tool_format: str | ToolFormat = "default") -> None:
        super().__init__(slots)
        fmt = get_tool_format(tool_format) if isinstance(tool_format, str) else tool_format
        object.__setattr__(self, "tool_format", fmt)

    def apply(self, content: str = "", thought_words: tuple[str, str] | None = None,  # type: ignore[override]
              tool_call_words: tuple[str, str] | None = None, **values: Any) -> list[Slot]:
        lead, payload = split_call_text(content, thought_words, tool_call_words)
        calls = parse_calls_json(payload)
        return super().apply(content=lead + self.tool_format.render_calls(calls), **values)


@dataclass(frozen=True)
class ToolFormatter(Formatter):
    """Renders the ``tools`` JSON (list of schemas) into system text; ``extract`` parses replies."""

    tool_format: ToolFormat = field(default=None)  # type: ignore[assignment]

    def __init__(self, tool_format: str | ToolFormat = "default") -> None:
        super().__init__(())
        fmt = get_tool_format(tool_format) if isinstance(tool_format, str) else tool_format
        object.__setattr__(self, "tool_format", fmt)

    def apply(self, content: str = "", **values: Any) -> list[Slot]:  # type: ignore[override]
        tools = parse_tools_json(content)
        return [self.tool_format.render_tools(tools)] if tools else [""]

    def extract(self, text: str) -> list[FunctionCall] | str:
        """Calls found in a model reply, or the text itself when it holds none."""
        return self.tool_format.extract(text)


def split_call_text(content: str, thought_words: tuple[str, str] | None,
                    tool_call_words: tuple[str, str] | None) -> tuple[str, str]:
    """Split a function message into (leading text kept as is, JSON payload)."""
    if tool_call_words:
        open_, close = (re.escape(w.strip()) for w in tool_call_words)
        match = re.search(f"{open_}(.*?){close}", content, re.DOTALL)
        if match:
            return content[: match.start()], match.group(1).strip()
    if thought_words:
        open_, close = (re.escape(w.strip()) for w in thought_words)
        match = re.match(rf"\s*{open_}.*?{close}\s*", content, re.DOTALL)
        if match:
            return match.group(0), content[match.end():]
    return "", content


def parse_calls_json(payload: str) -> list[FunctionCall]:
    """``'{"name":..,"arguments":{..}}'`` or a list of them → calls (arguments as JSON text)."""
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"Invalid JSON format in function message: {payload[:200]!r} ({exc.msg})") from None
    items = data if isinstance(data, list) else [data]
    calls = []
    for item in items:
        if not isinstance(item, dict) or "name" not in item:
            raise ValueError(f"a function call needs 'name' and 'arguments': {json.dumps(item)[:200]}")
        args = item.get("arguments", item.get("parameters", {}))
        if isinstance(args, str):  # OpenAI style: arguments already JSON text
            args = json.loads(args)
        calls.append(FunctionCall(item["name"], json.dumps(args, ensure_ascii=False)))
    return calls


def parse_tools_json(content: str | list | None) -> list[dict]:
    """The ``tools`` column (JSON text or list) → list of bare function schemas."""
    if not content:
        return []
    tools = json.loads(content) if isinstance(content, str) else content
    if isinstance(tools, dict):
        tools = [tools]
    if not isinstance(tools, list):
        raise ValueError(f"tools must be a JSON list of function schemas, got {type(tools).__name__}")
    return [t["function"] if t.get("type") == "function" and "function" in t else t for t in tools]
