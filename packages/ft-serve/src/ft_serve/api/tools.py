"""Tool calls in a model's reply, parsed with the template's tool format, also while streaming.

``ToolCallParser`` sits between the generated text and the client. Text that cannot be part of a
call streams as content at once; from the point where a call may start (``<tool_call>`` for the
qwen format, ``Action:`` for the ReAct default, ``[TOOL_CALLS]`` for mistral, a leading ``{``
or ``[`` for llama3's bare JSON) text is held back and parsed with the template's own extractor
(``Template.extract_tool_calls``, the code training rendered calls with). A call is sent as a
``tool_calls`` delta as soon as it is complete (a closing tag where the format has one, else at
the end); text that turns out not to be a call is sent as content after all.

Example:
    >>> parser = ToolCallParser(template)
    >>> parser.push('<tool_call>\\n{"name": "add", "arguments": {"a": 1}}\\n</tool_call>')
    ('', [FunctionCall(name='add', arguments='{"a": 1}')])
"""

from __future__ import annotations

from typing import Any

__all__ = ["ToolCallParser"]

# Where a call may begin, per tool format; "^" entries only count at the start of the reply.
_STARTS: dict[str, tuple[str, ...]] = {
    "qwen": ("<tool_call>",),
    "default": ("Action:",),
    "phi4_mini": ("Action:",),
    "mistral": ("[TOOL_CALLS]", "^["),
    "llama3": ("^{", "^["),
}
# Formats whose calls end with a closing tag, so a call is complete before the reply is.
_CLOSE: dict[str, str] = {"qwen": "</tool_call>"}


class ToolCallParser:
    """Split a streamed reply into content and tool calls (see module docstring)."""

    def __init__(self, template: Any) -> None:
        self.template = template
        fmt = template.tool_format
        self.starts = _STARTS.get(fmt, ("^",))  # unknown format (glm4...): hold everything, parse at the end
        self.close = _CLOSE.get(fmt)
        self.text = ""
        self.content_end = 0      # characters of ``text`` sent as content
        self.call_start: int | None = None
        self.sent_calls = 0

    def _find_start(self) -> int | None:
        best = None
        lead = len(self.text) - len(self.text.lstrip())
        for marker in self.starts:
            if marker.startswith("^"):
                body = marker[1:]
                if self.text[lead:].startswith(body) and (best is None or lead < best):
                    best = lead
                continue
            i = self.text.find(marker, self.content_end)
            if i >= 0 and (best is None or i < best):
                best = i
        return best

    def _held_tail(self) -> int:
        """Characters at the end that could still grow into a start marker."""
        if not self.text.strip():
            return len(self.text)  # the reply may still open with "{" or "["
        hold = 0
        for marker in self.starts:
            body = marker.lstrip("^")
            if marker.startswith("^"):
                continue
            for k in range(min(len(body) - 1, len(self.text)), 0, -1):
                if self.text.endswith(body[:k]):
                    hold = max(hold, k)
                    break
        return hold

    def push(self, delta: str) -> tuple[str, list[Any]]:
        """Add generated text; returns (content to send now, calls completed now)."""
        self.text += delta
        if self.call_start is None:
            start = self._find_start()
            if start is None:
                if self.starts == ("^",) and not self.text.strip():
                    return "", []
                if self.starts == ("^",):
                    self.call_start = 0
                    return "", []
                safe = len(self.text) - self._held_tail()
                out = self.text[self.content_end:safe]
                self.content_end = max(self.content_end, safe)
                return out, []
            self.call_start = start
            out = self.text[self.content_end:start]
            self.content_end = start
            return out, self._complete_calls(final=False)
        return "", self._complete_calls(final=False)

    def _complete_calls(self, final: bool) -> list[Any]:
        if self.call_start is None:
            return []
        body = self.text[self.call_start:]
        if not final and (self.close is None or not body.rstrip().endswith(self.close)):
            return []
        calls = self.template.extract_tool_calls(body)
        if isinstance(calls, str):
            return []
        new = calls[self.sent_calls:]
        self.sent_calls = len(calls)
        return new

    def finish(self) -> tuple[str, list[Any]]:
        """At the end of the reply: (content not sent yet, calls not sent yet).

        Held text that is not a valid call comes back as content.
        """
        if self.call_start is None:
            out = self.text[self.content_end:]
            self.content_end = len(self.text)
            return out, []
        new = self._complete_calls(final=True)
        if self.sent_calls == 0:  # never a call after all: it was content
            out = self.text[self.content_end:]
            self.content_end = len(self.text)
            return out, []
        return "", new

    @property
    def has_calls(self) -> bool:
        return self.sent_calls > 0
