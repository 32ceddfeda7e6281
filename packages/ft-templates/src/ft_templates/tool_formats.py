"""Tool-call formats: schemas → system text, calls → assistant text, reply text → calls.

Each format is a ``ToolFormat`` registered in ``TOOL_FORMATS`` by name: ``default`` (ReAct
style ``Action:``/``Action Input:``), ``qwen`` (``<tool_call>`` JSON blocks), ``llama3``
(``{"name", "parameters"}`` JSON), ``mistral`` (``[TOOL_CALLS]`` JSON list) and ``glm4``
(``name\\n{args}``). ``extract`` is the inverse of ``render_calls``: for any list of calls the
format supports, ``extract(render_calls(calls)) == calls``.

Example:
    >>> fmt = get_tool_format("qwen")
    >>> text = fmt.render_calls([FunctionCall("add", '{"a": 1}')])
    >>> fmt.extract(text)
    [FunctionCall(name='add', arguments='{"a": 1}')]
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

__all__ = ["TOOL_FORMATS", "FunctionCall", "ToolFormat", "get_tool_format", "register_tool_format"]


class FunctionCall(NamedTuple):
    """One tool call: the function name and its arguments as JSON text."""

    name: str
    arguments: str


def _wrap(tool: dict) -> dict:
    return {"type": "function", "function": tool}


class ToolFormat:
    """Base class; subclasses set ``name`` and implement the three conversions."""

    name = ""
    supports_parallel = True

    def join_system(self, system: str, tool_text: str) -> str:
        """System prompt with the tool text appended (formats differ in the separator)."""
        return system + tool_text

    def render_tools(self, tools: list[dict]) -> str:
        raise NotImplementedError

    def render_calls(self, calls: list[FunctionCall]) -> str:
        raise NotImplementedError

    def extract(self, text: str) -> list[FunctionCall] | str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"ToolFormat({self.name!r})"

    def __reduce__(self) -> tuple:
        # unpickle to the registered instance (templates are pickled by datasets.map workers)
        return (get_tool_format, (self.name,))


TOOL_FORMATS: dict[str, ToolFormat] = {}


def register_tool_format(cls: type[ToolFormat]) -> type[ToolFormat]:
    """Class decorator: add an instance of ``cls`` to ``TOOL_FORMATS`` under ``cls.name``."""
    TOOL_FORMATS[cls.name] = cls()
    return cls


def get_tool_format(name: str) -> ToolFormat:
    """The registered tool format called ``name`` (ValueError listing the valid names)."""
    try:
        return TOOL_FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown tool format {name!r}; choose one of {', '.join(sorted(TOOL_FORMATS))}") from None


def _loads(text: str) -> object | None:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _calls_from_objects(obj: object, args_key: str) -> list[FunctionCall] | None:
    items = obj if isinstance(obj, list) else [obj]
    calls = []
    for item in items:
        if not isinstance(item, dict) or "name" not in item or args_key not in item:
            return None
        calls.append(FunctionCall(item["name"], _dumps(item[args_key])))
    return calls or None


@register_tool_format
class DefaultToolFormat(ToolFormat):
    """ReAct style: tools listed as ``> Tool Name: ...``; calls as ``Action: / Action Input:``."""

    name = "default"
    _CALL = re.compile(r"Action:\s*([\w.\-]+)\s*Action Input:\s*(.+?)(?=\s*Action:|\s*$)", re.DOTALL)

    def render_tools(self, tools: list[dict]) -> str:
        text, names = "", []
        for tool in tools:
            params = tool.get("parameters", {}) or {}
            required = set(params.get("required", []))
            args = ""
            for pname, prop in (params.get("properties", {}) or {}).items():
                extra = ", required" if pname in required else ""
                enum = ", should be one of [{}]".format(", ".join(map(str, prop["enum"]))) if prop.get("enum") else ""
                items = f", where each item should be {prop['items'].get('type', '')}" if prop.get("items") else ""
                args += f"  - {pname} ({prop.get('type', '')}{extra}): {prop.get('description', '')}{enum}{items}\n"
            text += f"> Tool Name: {tool['name']}\nTool Description: {tool.get('description', '')}\nTool Args:\n{args}\n"
            names.append(tool["name"])
        return (
            f"You have access to the following tools:\n{text}"
            "Use the following format if using a tool:\n```\n"
            f"Action: tool name (one of [{', '.join(names)}])\n"
            "Action Input: the input to the tool, in a JSON format representing the kwargs "
            '(e.g. ```{"input": "hello world", "num_beams": 5}```)\n```\n'
        )

    def render_calls(self, calls: list[FunctionCall]) -> str:
        return "\n".join(f"Action: {c.name}\nAction Input: {c.arguments}" for c in calls)

    def extract(self, text: str) -> list[FunctionCall] | str:
        calls = []
        for name, raw in self._CALL.findall(text):
            args = _loads(raw.strip().strip("`"))
            if args is None:
                return text
            calls.append(FunctionCall(name, _dumps(args)))
        return calls or text


@register_tool_format
class Phi4MiniToolFormat(DefaultToolFormat):
    """Phi-4-mini: the schemas as one JSON list in ``<|tool|>...<|/tool|>``; calls as ``default``."""

    name = "phi4_mini"

    def render_tools(self, tools: list[dict]) -> str:
        return f"<|tool|>{_dumps(tools)}<|/tool|>"


@register_tool_format
class QwenToolFormat(ToolFormat):
    """Qwen2.5/Qwen3: ``# Tools`` block with ``<tools>`` JSON lines; ``<tool_call>`` JSON calls."""

    name = "qwen"
    _CALL = re.compile(r"<tool_call>(.+?)</tool_call>", re.DOTALL)

    def join_system(self, system: str, tool_text: str) -> str:
        # Qwen's own templates put a blank line between a system prompt and the tool block.
        return f"{system}\n\n{tool_text}" if system else tool_text

    def render_tools(self, tools: list[dict]) -> str:
        lines = "".join("\n" + _dumps(_wrap(t)) for t in tools)
        return (
            "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            f"You are provided with function signatures within <tools></tools> XML tags:\n<tools>{lines}\n</tools>\n\n"
            "For each function call, return a json object with function name and arguments within "
            "<tool_call></tool_call> XML tags:\n<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
        )

    def render_calls(self, calls: list[FunctionCall]) -> str:
        return "\n".join(
            f'<tool_call>\n{{"name": {_dumps(c.name)}, "arguments": {c.arguments}}}\n</tool_call>' for c in calls
        )

    def extract(self, text: str) -> list[FunctionCall] | str:
        calls = []
        for block in self._CALL.findall(text):
            found = _calls_from_objects(_loads(block.strip()), "arguments")
            if found is None:
                return text
            calls.extend(found)
        return calls or text


@register_tool_format
class Llama3ToolFormat(ToolFormat):
    """Llama 3.1+: date preamble and indented JSON schemas; calls ``{"name", "parameters"}``.

    The date is fixed (``date_string``, default "26 Jul 2024" as in Meta's template) so that
    renders and caches are reproducible.
    """

    name = "llama3"
    date_string = "26 Jul 2024"

    def render_tools(self, tools: list[dict]) -> str:
        schemas = "".join(json.dumps(_wrap(t), indent=4, ensure_ascii=False) + "\n\n" for t in tools)
        return (
            f"Cutting Knowledge Date: December 2023\nToday Date: {self.date_string}\n\n"
            "You have access to the following functions. To call a function, please respond with JSON "
            'for a function call. Respond in the format {"name": function name, "parameters": dictionary '
            f"of argument name and its value}}. Do not use variables.\n\n{schemas}"
        )

    def render_calls(self, calls: list[FunctionCall]) -> str:
        objs = [{"name": c.name, "parameters": json.loads(c.arguments)} for c in calls]
        return _dumps(objs[0] if len(objs) == 1 else objs)

    def extract(self, text: str) -> list[FunctionCall] | str:
        return _calls_from_objects(_loads(text.strip()), "parameters") or text


@register_tool_format
class MistralToolFormat(ToolFormat):
    """Mistral: ``[AVAILABLE_TOOLS] [...][/AVAILABLE_TOOLS]``; calls a JSON list after ``[TOOL_CALLS]``."""

    name = "mistral"

    def render_tools(self, tools: list[dict]) -> str:
        return f"[AVAILABLE_TOOLS] {_dumps([_wrap(t) for t in tools])}[/AVAILABLE_TOOLS]"

    def render_calls(self, calls: list[FunctionCall]) -> str:
        return _dumps([{"name": c.name, "arguments": json.loads(c.arguments)} for c in calls])

    def extract(self, text: str) -> list[FunctionCall] | str:
        body = text.strip()
        if body.startswith("[TOOL_CALLS]"):
            body = body[len("[TOOL_CALLS]"):].strip()
        return _calls_from_objects(_loads(body), "arguments") or text


@register_tool_format
class GLM4ToolFormat(ToolFormat):
    """GLM-4: Chinese preamble plus ``## name`` schema blocks; a call is ``name\\n{args}``; no parallel calls."""

    name = "glm4"
    supports_parallel = False

    def render_tools(self, tools: list[dict]) -> str:
        text = "".join(
            f"\n\n## {t['name']}\n\n{json.dumps(t, indent=4, ensure_ascii=False)}\n在调用上述函数时，请使用 Json 格式表示调用的参数。"
            for t in tools
        )
        return (
            "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱 AI 公司训练的语言模型 GLM-4 模型开发的，"
            f"你的任务是针对用户的问题和要求提供适当的答复和支持。\n\n# 可用工具{text}"
        )

    def render_calls(self, calls: list[FunctionCall]) -> str:
        if len(calls) > 1:
            raise ValueError("the glm4 tool format does not support parallel function calls")
        return f"{calls[0].name}\n{calls[0].arguments}"

    def extract(self, text: str) -> list[FunctionCall] | str:
        if "\n" not in text:
            return text
        name, raw = text.split("\n", 1)
        args = _loads(raw.strip())
        if not name.strip() or args is None:
            return text
        return [FunctionCall(name.strip(), _dumps(args))]


