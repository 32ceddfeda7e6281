"""Template doctor: compare a template with a tokenizer's own chat template on a corpus.

``CORPUS`` holds small conversations (single and multi-turn, with and without system,
generation prompts, tool calls single and parallel, reasoning); ``compare`` renders each with
the template and with ``tokenizer.apply_chat_template`` and reports the differences;
``rank_templates`` says which registered templates fit a tokenizer.

Example:
    >>> [r.name for r in compare(get_template("smollm2"), tokenizer) if not r.ok]
    []
    >>> rank_templates(tokenizer)[0]
    ('smollm2', 8, 8)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .messages import openai_tools, to_openai
from .registry import TEMPLATES, get_template
from .template import Template

__all__ = ["CORPUS", "Case", "CaseResult", "compare", "first_difference", "rank_templates"]

_WEATHER = {"name": "get_weather", "description": "Current weather for a city.",
            "parameters": {"type": "object", "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}
_TOOLS = json.dumps([_WEATHER])


def _u(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _a(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


@dataclass(frozen=True)
class Case:
    """One probe conversation (internal format). ``prompt`` cases end with a user-side turn and
    are compared with ``add_generation_prompt=True``; ``tags`` say what the case exercises."""

    name: str
    messages: tuple[dict[str, str], ...]
    system: str | None = None
    tools: str | None = None
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def prompt(self) -> bool:
        return len(self.messages) % 2 == 1


def _case(name: str, messages: Sequence[dict[str, str]], system: str | None = None,
          tools: str | None = None, *tags: str) -> Case:
    auto = {"system"} if system else set()
    auto |= {"tools"} if tools else set()
    return Case(name, tuple(messages), system, tools, frozenset(auto | set(tags)))


_CALL = {"role": "function", "content": json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}})}
_PARALLEL = {"role": "function", "content": json.dumps(
    [{"name": "get_weather", "arguments": {"city": "Paris"}},
     {"name": "get_weather", "arguments": {"city": "Lyon", "unit": "celsius"}}])}
_OBS = {"role": "observation", "content": '{"temperature": 21}'}

CORPUS: tuple[Case, ...] = (
    _case("single", [_u("What is 2+2?"), _a("2+2 equals 4.")]),
    _case("single_system", [_u("What is 2+2?"), _a("4")], "You are a terse assistant."),
    _case("multi", [_u("Hi!"), _a("Hello! How can I help?"), _u("Name a color."), _a("Blue.")]),
    _case("multi_system", [_u("Hi!"), _a("Hello."), _u("Name a fruit."), _a("Apple.")], "Answer briefly."),
    _case("prompt", [_u("Tell me a joke.")]),
    _case("prompt_system", [_u("Tell me a joke.")], "You are funny."),
    _case("prompt_multi", [_u("Hi!"), _a("Hello."), _u("How are you?")], "Be kind."),
    _case("unicode", [_u("Übersetze: «chat» → 中文"), _a("聊天 ✓")]),
    _case("tool_call", [_u("Weather in Paris?"), _CALL, _OBS, _a("It is 21 °C in Paris.")],
          "You are a helpful assistant.", _TOOLS),
    _case("tool_call_parallel", [_u("Weather in Paris and Lyon?"), _PARALLEL, _OBS, _a("Both are mild.")],
          "You are a helpful assistant.", _TOOLS, "parallel"),
    _case("tool_prompt", [_u("Weather in Paris?")], None, _TOOLS),
    _case("reasoning", [_u("What is 3*3?"), _a("<think>\nThree times three.\n</think>\n\n9")], None, None,
          "reasoning"),
    _case("reasoning_history", [_u("What is 3*3?"), _a("<think>\nEasy.\n</think>\n\n9"), _u("And 4*4?"),
                                _a("<think>\nAlso easy.\n</think>\n\n16")], None, None, "reasoning"),
)


@dataclass
class CaseResult:
    """Outcome of one case: both renderings (text), optionally ids, and the error if one failed."""

    name: str
    ours: str | None
    theirs: str | None
    error: str | None = None
    ids_equal: bool | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.ours == self.theirs and self.ids_equal is not False


def render_reference(tokenizer: Any, case: Case, **kwargs: Any) -> str:
    """The tokenizer's own chat template applied to ``case`` (OpenAI-style messages)."""
    return tokenizer.apply_chat_template(to_openai(case.messages, case.system), tools=openai_tools(case.tools),
                                         tokenize=False, add_generation_prompt=case.prompt, **kwargs)


def compare(template: Template, tokenizer: Any, cases: Sequence[Case] | None = None, *, ids: bool = False,
            chat_template: str | None = None, **template_kwargs: Any) -> list[CaseResult]:
    """Render every case with ``template`` and with the tokenizer's (or the given) chat template.

    With ``ids`` the token ids are compared too: the concatenated ``encode_oneturn`` ids against
    ``tokenizer.encode`` of the reference text. ``template_kwargs`` (e.g. ``enable_thinking``,
    ``bos_token``) go to the reference renderer.
    """
    if cases is None:
        source = chat_template or getattr(tokenizer, "chat_template", "") or ""
        # tool cases only where the chat template knows about tools at all
        cases = [c for c in CORPUS if "tools" not in c.tags or "tools" in source]
    results = []
    bos = template_kwargs.get("bos_token", tokenizer.bos_token)
    eos = template_kwargs.get("eos_token", tokenizer.eos_token)
    for case in cases:
        try:
            theirs = render_reference(tokenizer, case, chat_template=chat_template, **template_kwargs)
        except Exception as exc:  # a family template may reject a case (e.g. no system role)
            results.append(CaseResult(case.name, None, None, f"reference: {exc}"))
            continue
        try:
            ours = template.render(case.messages, case.system, case.tools, bos=bos, eos=eos)
        except ValueError as exc:
            results.append(CaseResult(case.name, None, theirs, f"template: {exc}"))
            continue
        result = CaseResult(case.name, ours, theirs)
        if ids:
            msgs = list(case.messages) + ([{"role": "assistant", "content": ""}] if case.prompt else [])
            prompt, response = template.encode_oneturn(tokenizer, msgs, case.system, case.tools)
            ours_ids = prompt if case.prompt else prompt + response
            result.ids_equal = ours_ids == tokenizer.encode(theirs, add_special_tokens=False)
        results.append(result)
    return results


def first_difference(a: str, b: str, context: int = 30) -> str:
    """A one-line description of where two renderings part."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return f"at char {n}: ours …{a[max(0, n - context): n + context]!r} vs theirs …{b[max(0, n - context): n + context]!r}"


def rank_templates(tokenizer: Any, *, with_tools: bool = False) -> list[tuple[str, int, int]]:
    """(name, cases matched, cases compared) for every registered template, best first.

    Only cases the tokenizer's template can render count; tool cases only with ``with_tools``.
    """
    get_template("empty")  # make sure the built-ins are registered
    cases = [c for c in CORPUS if with_tools or "tools" not in c.tags]
    reference = {}
    for case in cases:
        try:
            reference[case.name] = render_reference(tokenizer, case)
        except Exception:
            continue
    usable = [c for c in cases if c.name in reference]
    scores = []
    for name, template in TEMPLATES.items():
        hits = 0
        for case in usable:
            try:
                ours = template.render(case.messages, case.system, case.tools, tokenizer=tokenizer)
            except ValueError:
                continue
            hits += ours == reference[case.name]
        scores.append((name, hits, len(usable)))
    scores.sort(key=lambda s: (-s[1], s[0]))
    return scores
