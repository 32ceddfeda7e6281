"""The ``Template`` model: slot formatters plus the encoding rules of LLaMA-Factory.

Messages use the internal format shared by ft-data and ft-train: a list of
``{"role": "user"|"assistant"|"function"|"observation", "content": str}`` that alternates
user-side (user, observation) and assistant-side (assistant, function) turns, plus a separate
``system`` string and ``tools`` JSON text (a list of function schemas).

Example:
    >>> t = get_template("qwen")
    >>> prompt, response = t.encode_oneturn(tok, [{"role": "user", "content": "hi"},
    ...                                         {"role": "assistant", "content": "hello"}])
    >>> t.render([{"role": "user", "content": "hi"}])
    '<|im_start|>system\\nYou are Qwen, ...<|im_end|>\\n<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n'
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .formatter import Formatter, FunctionFormatter, ToolFormatter
from .slots import Slot, encode_slots, render_slots
from .tool_formats import FunctionCall, get_tool_format

__all__ = ["Message", "ReasoningPolicy", "Template", "validate_messages"]

Message = dict[str, str]
ReasoningPolicy = Literal["on", "off", "mixed"]

USER_SIDE = ("user", "observation")
ASSISTANT_SIDE = ("assistant", "function")
_POLICY = {"on": True, "off": False, "mixed": None}


def validate_messages(messages: Sequence[Message]) -> None:
    """Raise ValueError unless roles alternate user-side / assistant-side and contents are strings."""
    for i, msg in enumerate(messages):
        role = msg.get("role")
        allowed = USER_SIDE if i % 2 == 0 else ASSISTANT_SIDE
        if role not in allowed:
            raise ValueError(f"message {i} has role {role!r}; expected one of {'/'.join(allowed)} "
                             "(turns alternate user|observation and assistant|function)")
        if not isinstance(msg.get("content"), str):
            raise ValueError(f"message {i} ({role}) content must be a string")


@dataclass(frozen=True)
class Template:
    """A chat template: formatters for each role plus the flags that change encoding.

    ``system_in_user`` folds the system block into the first user turn (LLaMA-Factory's
    Llama2Template: llama2, mistral, gemma, ...). ``reasoning`` marks a thinking model
    (ReasoningTemplate); ``enable_thinking`` (True/False/None = on/off/mixed) and
    ``preserve_thinking`` then decide where empty thoughts go and whether history CoT stays.
    """

    name: str
    format_user: Formatter
    format_assistant: Formatter
    format_system: Formatter
    format_function: FunctionFormatter
    format_observation: Formatter
    format_tools: ToolFormatter
    format_prefix: Formatter
    default_system: str = ""
    stop_words: tuple[str, ...] = ()
    thought_words: tuple[str, str] = ("<think>\n", "\n</think>\n\n")
    tool_call_words: tuple[str, str] = ("<tool_call>", "</tool_call>")
    efficient_eos: bool = False
    replace_eos: bool = False
    replace_jinja_template: bool = False
    system_in_user: bool = False
    reasoning: bool = False
    enable_thinking: bool | None = True
    preserve_thinking: bool = False
    empty_thought: str | None = None
    family: str = ""

    # ------------------------------------------------------------------ variants
    def with_options(self, *, tool_format: str | None = None, default_system: str | None = None,
                     thinking: ReasoningPolicy | bool | Literal["keep"] | None = "keep",
                     preserve_thinking: bool | None = None) -> Template:
        """A copy with another tool format, default system prompt or reasoning policy.

        ``thinking`` is "on" | "off" | "mixed" (or True/False/None); "keep" leaves it.
        """
        changes: dict[str, Any] = {}
        if tool_format is not None:
            get_tool_format(tool_format)
            changes["format_tools"] = ToolFormatter(tool_format)
            changes["format_function"] = FunctionFormatter(self.format_function.slots, tool_format)
        if default_system is not None:
            changes["default_system"] = default_system
        if thinking != "keep":
            if isinstance(thinking, str):
                if thinking not in _POLICY:
                    raise ValueError(f"reasoning policy must be on, off or mixed, got {thinking!r}")
                thinking = _POLICY[thinking]
            changes["enable_thinking"] = thinking
        if preserve_thinking is not None:
            changes["preserve_thinking"] = preserve_thinking
        return dataclasses.replace(self, **changes)

    @property
    def tool_format(self) -> str:
        return self.format_tools.tool_format.name

    @property
    def thinking_policy(self) -> ReasoningPolicy:
        return {True: "on", False: "off", None: "mixed"}[self.enable_thinking]

    # ------------------------------------------------------------------ slots per message
    def _system_text(self, system: str | None, tools: str | list | None) -> str:
        system = system or self.default_system
        tool_text = self.format_tools.apply(content=tools)[0] if tools else ""
        if tool_text:
            return self.format_tools.tool_format.join_system(system, tool_text)
        return system

    def turn_slots(self, messages: Sequence[Message], system: str | None = None,
                   tools: str | list | None = None) -> list[list[Slot]]:
        """One slot list per message (the prefix and system block go with message 0)."""
        validate_messages(messages)
        out: list[list[Slot]] = []
        sys_content = self._system_text(system, tools)
        for i, msg in enumerate(messages):
            slots: list[Slot] = []
            folded = ""
            if i == 0:
                slots += self.format_prefix.apply()
                if sys_content:
                    if self.system_in_user:
                        folded = render_slots(self.format_system.apply(content=sys_content))
                    else:
                        slots += self.format_system.apply(content=sys_content)
            role, content = msg["role"], msg["content"]
            if role == "user":
                slots += self.format_user.apply(content=folded + content, idx=str(i // 2))
            elif role == "assistant":
                slots += self.format_assistant.apply(content=content)
            elif role == "observation":
                slots += self.format_observation.apply(content=content)
            else:
                slots += self.format_function.apply(content=content, thought_words=self.thought_words,
                                                    tool_call_words=self.tool_call_words)
            out.append(slots)
        return out

    # ------------------------------------------------------------------ reasoning
    @property
    def empty_thought_text(self) -> str:
        return self.empty_thought if self.empty_thought is not None else self.thought_words[0] + self.thought_words[1]

    def has_thought(self, content: str) -> bool:
        return self.thought_words[0].strip() in content or self.thought_words[1].strip() in content

    def remove_thought(self, content: str) -> str:
        """``content`` without its ``<think>...</think>`` block(s) and the blank lines after."""
        open_, close = (re.escape(w.strip()) for w in self.thought_words)
        return re.sub(f"{open_}.*?{close}\\s*", "", content, flags=re.DOTALL).lstrip("\n")

    def _think_plan(self, messages: Sequence[Message], oneturn: bool,
                    mask_history: bool) -> tuple[list[Message], dict[int, bool]]:
        """Apply the reasoning policy: the messages to encode, and for each assistant turn that
        gets an empty thought whether it is trained (response side, thinking on) or not (prompt
        side, thinking off/mixed)."""
        msgs = [dict(m) for m in messages]
        thoughts: dict[int, bool] = {}
        if not self.reasoning:
            return msgs, thoughts
        last = len(msgs) - 1
        if oneturn:
            strip = range(1, last, 2) if not self.preserve_thinking else range(0)
            considered = [last]
        else:
            discard = mask_history and not self.preserve_thinking
            strip = range(1, last, 2) if discard else range(0)
            considered = [last] if discard else list(range(1, len(msgs), 2))
        for i in strip:
            msgs[i]["content"] = self.remove_thought(msgs[i]["content"])
        if self.enable_thinking is False:
            for i in range(1, len(msgs), 2):
                msgs[i]["content"] = self.remove_thought(msgs[i]["content"])
        for i in considered:
            if i >= 1 and i % 2 == 1 and not self.has_thought(msgs[i]["content"]):
                thoughts[i] = bool(self.enable_thinking)
        return msgs, thoughts

    def _plan(self, messages: Sequence[Message], system: str | None, tools: str | list | None,
              oneturn: bool, mask_history: bool = False) -> list[list[Slot]]:
        msgs, thoughts = self._think_plan(messages, oneturn, mask_history)
        slots = self.turn_slots(msgs, system, tools)
        # the empty thought is its own slot (encoded on its own, as LLaMA-Factory does), put in
        # front of the answer when trained and at the end of the prompt otherwise
        for i, trained in thoughts.items():
            if trained:
                slots[i] = [self.empty_thought_text, *slots[i]]
            else:
                slots[i - 1] = [*slots[i - 1], self.empty_thought_text]
        return slots

    # ------------------------------------------------------------------ encoding
    def encode_oneturn(self, tokenizer: Any, messages: Sequence[Message], system: str | None = None,
                       tools: str | list | None = None) -> tuple[list[int], list[int]]:
        """(prompt_ids, response_ids): every message but the last is prompt; the last is response.

        For a generation prompt pass a final ``{"role": "assistant", "content": ""}``.
        """
        slots = self._plan(messages, system, tools, oneturn=True)
        prompt: list[int] = []
        for turn in slots[:-1]:
            prompt += encode_slots(tokenizer, turn)
        return prompt, encode_slots(tokenizer, slots[-1])

    def encode_multiturn(self, tokenizer: Any, messages: Sequence[Message], system: str | None = None,
                         tools: str | list | None = None, *, mask_history: bool = False
                         ) -> list[tuple[list[int], list[int]]]:
        """One (source_ids, target_ids) pair per user/assistant exchange (SFT).

        ``mask_history`` (with reasoning templates, unless ``preserve_thinking``) drops the CoT of
        all but the last answer, as only the last one is trained.
        """
        if len(messages) % 2:
            raise ValueError("encode_multiturn needs an even number of messages (user/assistant pairs)")
        slots = self._plan(messages, system, tools, oneturn=False, mask_history=mask_history)
        ids = [encode_slots(tokenizer, turn) for turn in slots]
        return [(ids[i], ids[i + 1]) for i in range(0, len(ids), 2)]

    def render_turns(self, messages: Sequence[Message], system: str | None = None,
                     tools: str | list | None = None, *, bos: str | None = None, eos: str | None = None,
                     multiturn: bool = True) -> list[tuple[str, str]]:
        """Text of each (source, target) pair, as ``encode_multiturn`` (or oneturn) would encode it.

        A conversation ending with a user-side turn ends with a generation prompt and an empty target.
        """
        prompt = len(messages) % 2 == 1
        padded = list(messages) + ([{"role": "assistant", "content": ""}] if prompt else [])
        slots = self._plan(padded, system, tools, oneturn=not multiturn)
        texts = [render_slots(s, bos=bos, eos=eos) for s in slots]
        if prompt:  # a conversation ending with a user-side turn: the last target is still to come
            texts[-1] = ""
        return [(texts[i], texts[i + 1]) for i in range(0, len(texts), 2)]

    def render(self, messages: Sequence[Message], system: str | None = None, tools: str | list | None = None,
               *, tokenizer: Any = None, bos: str | None = None, eos: str | None = None) -> str:
        """The text this template produces for a conversation (inference semantics).

        A conversation ending with a user-side turn renders as a generation prompt (the user slot
        opens the assistant header, as in LLaMA-Factory; equal to ``apply_chat_template(...,
        add_generation_prompt=True)`` of the family); one ending with an answer is rendered whole.
        History CoT follows the one-turn rules (dropped unless ``preserve_thinking``). BOS/EOS
        text comes from ``tokenizer`` or from ``bos``/``eos``.
        """
        if tokenizer is not None:
            bos = bos if bos is not None else tokenizer.bos_token
            eos = eos if eos is not None else tokenizer.eos_token
        msgs = list(messages)
        prompt = len(msgs) % 2 == 1
        if prompt:
            msgs.append({"role": "assistant", "content": ""})
        slots = self._plan(msgs, system, tools, oneturn=True)
        return "".join(render_slots(s, bos=bos, eos=eos) for s in (slots[:-1] if prompt else slots))

    # ------------------------------------------------------------------ misc
    def get_stop_token_ids(self, tokenizer: Any) -> list[int]:
        """EOS id plus the ids of ``stop_words`` (the ids generation should stop at)."""
        ids = [] if tokenizer.eos_token_id is None else [tokenizer.eos_token_id]
        for word in self.stop_words:
            tid = tokenizer.convert_tokens_to_ids(word)
            if tid is not None and tid not in ids:
                ids.append(tid)
        return ids

    def extract_tool_calls(self, text: str) -> list[FunctionCall] | str:
        """Parse a model reply into tool calls with this template's tool format (or return the text)."""
        return self.format_tools.extract(text)

    def to_jinja(self) -> str:
        """A Jinja chat template that renders what this template trains on (see ``jinja.py``)."""
        from .jinja import template_to_jinja

        return template_to_jinja(self)

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary (used by ``ft-templates show``)."""
        def slots(f: Formatter) -> list[str]:
            return [s if isinstance(s, str) else repr(s) for s in f.slots]

        return {
            "name": self.name, "family": self.family,
            "prefix": slots(self.format_prefix), "system": slots(self.format_system),
            "user": slots(self.format_user), "assistant": slots(self.format_assistant),
            "observation": slots(self.format_observation), "function": slots(self.format_function),
            "tool_format": self.tool_format, "default_system": self.default_system,
            "stop_words": list(self.stop_words), "efficient_eos": self.efficient_eos,
            "replace_eos": self.replace_eos, "system_in_user": self.system_in_user,
            "reasoning": self.reasoning, "thinking": self.thinking_policy if self.reasoning else None,
            "preserve_thinking": self.preserve_thinking, "thought_words": list(self.thought_words),
        }

