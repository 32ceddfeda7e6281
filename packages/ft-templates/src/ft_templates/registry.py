"""The template registry: ``TEMPLATES`` (name → Template), ``register_template`` and ``get_template``.

Example:
    >>> register_template("mychat", format_user=["<u>{{content}}</u><a>"], format_assistant=["{{content}}", EOS])
    >>> get_template("mychat").render([{"role": "user", "content": "hi"}], eos="</s>")
    '<u>hi</u><a>'
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from .formatter import EmptyFormatter, Formatter, FunctionFormatter, StringFormatter, ToolFormatter
from .slots import EOS
from .template import Template

__all__ = ["ALIASES", "TEMPLATES", "build_template", "get_template", "register_template"]

TEMPLATES: dict[str, Template] = {}
# Other names users type for a registered template (resolved by ``get_template``).
ALIASES: dict[str, str] = {"granite": "granite3", "minicpm": "cpm4", "qwen2": "qwen", "qwen2.5": "qwen",
                           "phi3": "phi", "llama3.1": "llama3", "smollm2-135m-instruct": "smollm2"}

Slots = Sequence[Any]


def _fmt(value: Slots | Formatter | None, cls: type[Formatter]) -> Formatter | None:
    if value is None or isinstance(value, Formatter):
        return value
    return cls(value)


def register_template(name: str, *, overwrite: bool = False, **options: Any) -> Template:
    """Build a Template (see ``build_template`` for the options) and add it to ``TEMPLATES``."""
    if name in TEMPLATES and not overwrite:
        raise ValueError(f"template {name!r} is already registered")
    TEMPLATES[name] = template = build_template(name, **options)
    return template


def build_template(
    name: str,
    *,
    format_user: Slots | Formatter | None = None,
    format_assistant: Slots | Formatter | None = None,
    format_system: Slots | Formatter | None = None,
    format_function: Slots | FunctionFormatter | None = None,
    format_observation: Slots | Formatter | None = None,
    format_prefix: Slots | Formatter | None = None,
    tool_format: str = "default",
    default_system: str = "",
    stop_words: Sequence[str] = (),
    thought_words: tuple[str, str] | None = None,
    tool_call_words: tuple[str, str] | None = None,
    efficient_eos: bool = False,
    replace_eos: bool = False,
    replace_jinja_template: bool = False,
    system_in_user: bool = False,
    reasoning: bool = False,
    enable_thinking: bool | None = True,
    empty_thought: str | None = None,
    family: str = "",
) -> Template:
    """A Template from slot lists (not registered).

    Defaults follow LLaMA-Factory: user/system ``{{content}}``; assistant ``{{content}}`` + EOS
    (no EOS with ``efficient_eos``); function = the assistant slots rendered with ``tool_format``;
    observation = the user formatter; no prefix.
    """
    eos_slots = ["{{content}}"] if efficient_eos else ["{{content}}", EOS]
    user = _fmt(format_user, StringFormatter) or StringFormatter(["{{content}}"])
    assistant = _fmt(format_assistant, StringFormatter) or StringFormatter(eos_slots)
    if isinstance(format_function, FunctionFormatter):
        function = format_function
    else:
        # like LLaMA-Factory: a tool-call turn ends the way an answer ends
        function = FunctionFormatter(format_function or assistant.slots, tool_format)
    template = Template(
        name=name,
        format_user=user,
        format_assistant=assistant,
        format_system=_fmt(format_system, StringFormatter) or StringFormatter(["{{content}}"]),
        format_function=function,
        format_observation=_fmt(format_observation, StringFormatter) or user,
        format_tools=ToolFormatter(tool_format),
        format_prefix=_fmt(format_prefix, EmptyFormatter) or EmptyFormatter(),
        default_system=default_system,
        stop_words=tuple(stop_words),
        thought_words=thought_words or ("<think>\n", "\n</think>\n\n"),
        tool_call_words=tool_call_words or ("<tool_call>", "</tool_call>"),
        efficient_eos=efficient_eos,
        replace_eos=replace_eos,
        replace_jinja_template=replace_jinja_template,
        system_in_user=system_in_user,
        reasoning=reasoning,
        enable_thinking=enable_thinking,
        empty_thought=empty_thought,
        family=family,
    )
    return template


def get_template(name: str) -> Template:
    """The registered template ``name``; ValueError with the closest names when unknown."""
    _ensure_loaded()
    try:
        return TEMPLATES[ALIASES.get(name, name)]
    except KeyError:
        close = difflib.get_close_matches(name, TEMPLATES, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; run `ft-templates list`"
        raise ValueError(f"Template {name!r} does not exist{hint}") from None


def _ensure_loaded() -> None:
    from . import families  # noqa: F401  (registers the built-in templates on import)
