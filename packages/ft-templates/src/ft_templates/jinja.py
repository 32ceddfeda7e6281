"""Export a Template as a Jinja chat template (``Template.to_jinja``).

The generated template takes OpenAI/HF messages (a leading ``system`` message, ``user``,
``assistant`` with optional ``tool_calls``, ``tool``) and ``tools``, and renders the same text as
``Template.render`` on the equivalent internal messages: the default system prompt, the tool
schemas in the system text, folded systems, tool calls in the template's tool format, and the
reasoning policy (history CoT dropped unless ``preserve_thinking``; the empty thought placed as
the policy says). Saved with a tokenizer, ``apply_chat_template`` then reproduces training text.

Example:
    >>> tokenizer.chat_template = get_template("llama3").to_jinja()
    >>> tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\nhi<|eot_id|>...'
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .slots import BOS, EOS, Slot, Token
from .template import Template

__all__ = ["template_to_jinja"]


def _lit(text: str) -> str:
    return json.dumps(text)  # a valid Jinja string literal (escapes \n, quotes, non-ASCII)


def _emit(expr: str) -> str:
    return "{{- " + expr + " -}}"


def _slots(slots: Sequence[Slot], content: str = "''", idx: str = "''") -> str:
    """Jinja that outputs ``slots`` with ``{{content}}``/``{{idx}}`` bound to the given expressions."""
    out = []
    for slot in slots:
        if isinstance(slot, Token):
            out.append(_emit(_lit(slot.text)))
        elif slot == BOS:
            out.append("{%- if bos_token %}" + _emit("bos_token") + "{% endif -%}")
        elif slot == EOS:
            out.append("{%- if eos_token %}" + _emit("eos_token") + "{% endif -%}")
        else:
            text, done = slot, set()
            while True:  # each placeholder is replaced at its first occurrence only
                hits = [(text.find("{{" + k + "}}"), k) for k in ("content", "idx") if k not in done]
                hits = [(pos, k) for pos, k in hits if pos >= 0]
                if not hits:
                    break
                pos, key = min(hits)
                if text[:pos]:
                    out.append(_emit(_lit(text[:pos])))
                out.append(_emit(content if key == "content" else idx))
                done.add(key)
                text = text[pos + len(key) + 4:]
            if text:
                out.append(_emit(_lit(text)))
    return "".join(out)


def _text_slots(slots: Sequence[Slot]) -> str:
    """A Jinja *expression* for slots that hold only text and ``{{content}}`` (folded systems)."""
    parts = []
    for slot in slots:
        if not isinstance(slot, str):
            raise ValueError("a folded system block must hold text only")
        before, sep, after = slot.partition("{{content}}")
        parts += [_lit(before)] + (["ns.system", _lit(after)] if sep else [])
    return " + ".join(p for p in parts if p != '""') or "''"


# --- tool formats: schemas into ns.tools, calls into ns.calls ---------------------------------
_UNWRAP = "{%- set t = tool.function if (tool.type is defined and tool.function is defined) else tool -%}"
_ARGS = ("{%- set fn = tc.function if tc.function is defined else tc -%}"
         "{%- set args = fn.arguments if fn.arguments is string else (fn.arguments | tojson) -%}")

_TOOLS = {
    "qwen": (
        "{%- set ns.tools = '' -%}{%- for tool in tools -%}" + _UNWRAP
        + "{%- set ns.tools = ns.tools + '\\n' + ({'type': 'function', 'function': t} | tojson) -%}{%- endfor -%}"
        + "{%- set ns.tools = " + _lit(
            "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>")
        + " + ns.tools + " + _lit(
            "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
            "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>') + " -%}"
        + "{%- set ns.system = (ns.system + '\\n\\n' + ns.tools) if ns.system else ns.tools -%}"
    ),
    "llama3": (
        "{%- set ns.tools = '' -%}{%- for tool in tools -%}" + _UNWRAP
        + "{%- set ns.tools = ns.tools + ({'type': 'function', 'function': t} | tojson(indent=4)) + '\\n\\n' -%}"
        + "{%- endfor -%}{%- set ns.system = ns.system + " + _lit(
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
            "You have access to the following functions. To call a function, please respond with JSON for "
            'a function call. Respond in the format {"name": function name, "parameters": dictionary of '
            "argument name and its value}. Do not use variables.\n\n") + " + ns.tools -%}"
    ),
    "mistral": (
        "{%- set ns.list = [] -%}{%- for tool in tools -%}" + _UNWRAP
        + "{%- set ns.list = ns.list + [{'type': 'function', 'function': t}] -%}{%- endfor -%}"
        + "{%- set ns.system = ns.system + '[AVAILABLE_TOOLS] ' + (ns.list | tojson) + '[/AVAILABLE_TOOLS]' -%}"
    ),
    "phi4_mini": (
        "{%- set ns.list = [] -%}{%- for tool in tools -%}" + _UNWRAP
        + "{%- set ns.list = ns.list + [t] -%}{%- endfor -%}"
        + "{%- set ns.system = ns.system + '<|tool|>' + (ns.list | tojson) + '<|/tool|>' -%}"
    ),
    "glm4": (
        "{%- set ns.tools = '' -%}{%- for tool in tools -%}" + _UNWRAP
        + "{%- set ns.tools = ns.tools + '\\n\\n## ' + t.name + '\\n\\n' + (t | tojson(indent=4)) + "
        + _lit("\n在调用上述函数时，请使用 Json 格式表示调用的参数。") + " -%}{%- endfor -%}"
        + "{%- set ns.system = ns.system + " + _lit(
            "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱 AI 公司训练的语言模型 GLM-4 模型开发的，"
            "你的任务是针对用户的问题和要求提供适当的答复和支持。\n\n# 可用工具") + " + ns.tools -%}"
    ),
    "default": (
        "{%- set ns.tools = '' -%}{%- set ns.names = [] -%}{%- for tool in tools -%}" + _UNWRAP
        + "{%- set params = t.parameters if (t.parameters is defined and t.parameters) else {} -%}"
        "{%- set req = params.required if params.required is defined else [] -%}"
        "{%- set ns.args = '' -%}"
        "{%- for pname, prop in (params.properties.items() if params.properties is defined else []) -%}"
        "{%- set ns.args = ns.args + '  - ' + pname + ' (' + (prop['type'] if prop['type'] is defined else '')"
        " + (', required' if pname in req else '') + '): '"
        " + (prop['description'] if prop['description'] is defined else '')"
        " + ((', should be one of [' + (prop['enum'] | map('string') | join(', ')) + ']') if ('enum' in prop and prop['enum']) else '')"
        " + ((', where each item should be ' + (prop['items']['type'] if 'type' in prop['items'] else ''))"
        " if ('items' in prop and prop['items']) else '') + '\\n' -%}"
        "{%- endfor -%}"
        "{%- set ns.tools = ns.tools + '> Tool Name: ' + t.name + '\\nTool Description: '"
        " + (t.description if t.description is defined else '') + '\\nTool Args:\\n' + ns.args + '\\n' -%}"
        "{%- set ns.names = ns.names + [t.name] -%}{%- endfor -%}"
        "{%- set ns.system = ns.system + 'You have access to the following tools:\\n' + ns.tools + "
        + _lit("Use the following format if using a tool:\n```\nAction: tool name (one of [")
        + " + (ns.names | join(', ')) + " + _lit(
            "])\nAction Input: the input to the tool, in a JSON format representing the kwargs "
            '(e.g. ```{"input": "hello world", "num_beams": 5}```)\n```\n') + " -%}"
    ),
}

_CALLS = {
    "phi4_mini": None,  # = default, set below
    "qwen": ("{%- set ns.calls = '' -%}{%- for tc in message.tool_calls -%}" + _ARGS
             + "{%- set ns.calls = ns.calls + ('' if loop.first else '\\n') + '<tool_call>\\n{\"name\": '"
             " + (fn.name | tojson) + ', \"arguments\": ' + args + '}\\n</tool_call>' -%}{%- endfor -%}"),
    "llama3": ("{%- set ns.calls = '' -%}{%- for tc in message.tool_calls -%}" + _ARGS
               + "{%- set ns.calls = ns.calls + ('' if loop.first else ', ') + '{\"name\": ' + (fn.name | tojson)"
               " + ', \"parameters\": ' + args + '}' -%}{%- endfor -%}"
               "{%- if message.tool_calls | length > 1 %}{% set ns.calls = '[' + ns.calls + ']' %}{% endif -%}"),
    "mistral": ("{%- set ns.calls = '' -%}{%- for tc in message.tool_calls -%}" + _ARGS
                + "{%- set ns.calls = ns.calls + ('' if loop.first else ', ') + '{\"name\": ' + (fn.name | tojson)"
                " + ', \"arguments\": ' + args + '}' -%}{%- endfor -%}{%- set ns.calls = '[' + ns.calls + ']' -%}"),
    "glm4": ("{%- if message.tool_calls | length > 1 %}{{ raise_exception('the glm4 tool format does not "
             "support parallel function calls') }}{% endif -%}{%- set tc = message.tool_calls[0] -%}" + _ARGS
             + "{%- set ns.calls = fn.name + '\\n' + args -%}"),
    "default": ("{%- set ns.calls = '' -%}{%- for tc in message.tool_calls -%}" + _ARGS
                + "{%- set ns.calls = ns.calls + ('' if loop.first else '\\n') + 'Action: ' + fn.name + '\\nAction Input: ' + args -%}"
                "{%- endfor -%}"),
}


_CALLS["phi4_mini"] = _CALLS["default"]


def template_to_jinja(template: Template) -> str:
    """The Jinja chat template for ``template`` (see the module docstring)."""
    fmt = template.tool_format
    if fmt not in _TOOLS:
        raise ValueError(f"tool format {fmt!r} has no Jinja export")
    t = template
    open_, close = (w.strip() for w in t.thought_words)
    parts = [
        "{%- set ns = namespace(system=" + _lit(t.default_system) + ", tools='', calls='', list=[], names=[], args='') -%}",
        "{%- if messages and messages[0]['role'] == 'system' -%}"
        "{%- set ns.system = messages[0]['content'] -%}{%- set loop_messages = messages[1:] -%}"
        "{%- else -%}{%- set loop_messages = messages -%}{%- endif -%}",
        "{%- if tools -%}" + _TOOLS[fmt] + "{%- endif -%}",
        _slots(t.format_prefix.slots),
    ]
    if not t.system_in_user:
        parts.append("{%- if ns.system -%}" + _slots(t.format_system.slots, "ns.system") + "{%- endif -%}")
    parts.append("{%- for message in loop_messages -%}"
                 "{%- set content = message['content'] if message['content'] is string else '' -%}")
    # user
    user = "{%- if message['role'] == 'user' -%}"
    if t.system_in_user:
        user += ("{%- if loop.first and ns.system -%}{%- set content = (" + _text_slots(t.format_system.slots)
                 + ") + content -%}{%- endif -%}")
    user += _slots(t.format_user.slots, "content", "((loop.index0 // 2) | string)")
    parts.append(user)
    # assistant (answer or tool call), with the reasoning policy
    asst = "{%- elif message['role'] == 'assistant' -%}"
    if t.reasoning:
        has = "('" + open_ + "' in content or '" + close + "' in content)"
        strip = "{%- set content = content.split('" + close + "')[-1].lstrip() -%}"
        if not t.preserve_thinking:
            asst += "{%- if not loop.last and " + has + " -%}" + strip + "{%- endif -%}"
        if t.enable_thinking is False:
            asst += "{%- if " + has + " -%}" + strip + "{%- endif -%}"
        # the empty thought goes in front of the answer's slots (trained or not, the text is the same)
        asst += "{%- if loop.last and not " + has + " -%}" + _emit(_lit(t.empty_thought_text)) + "{%- endif -%}"
    asst += ("{%- if message.tool_calls -%}" + _CALLS[fmt]
             + _slots(t.format_function.slots, "content + ns.calls") + "{%- else -%}"
             + _slots(t.format_assistant.slots, "content") + "{%- endif -%}")
    parts.append(asst)
    parts.append("{%- elif message['role'] in ('tool', 'observation') -%}" + _slots(t.format_observation.slots, "content"))
    parts.append("{%- else -%}{{ raise_exception('unsupported role ' + message['role']) }}{%- endif -%}{%- endfor -%}")
    if t.reasoning and t.enable_thinking is not True:
        parts.append("{%- if add_generation_prompt and loop_messages and loop_messages[-1]['role'] != 'assistant' -%}"
                     + _emit(_lit(t.empty_thought_text)) + "{%- endif -%}")
    return "\n".join(parts)
