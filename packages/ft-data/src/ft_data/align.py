"""Format alignment: alpaca, sharegpt and openai rows → one internal row (``Aligned``).

The internal row is the contract shared with ft-templates and ft-train: ``messages`` (roles
``user``/``assistant``/``function``/``observation``, alternating user-side and assistant-side), a
separate ``system`` and ``tools`` (JSON text), plus ``chosen``/``rejected`` (one assistant-side
message each) for ranking data and ``kto_tag`` for KTO data. For SFT and KTO rows ``messages``
ends with the answer; for ranking rows it ends with the last user turn.

Converters live in ``FORMATS`` (a dict filled by ``@register_format``); each raises ``BadRow``
with a reason from :mod:`ft_data.report` instead of passing a broken row on.

Example:
    >>> convert = get_converter(entry)
    >>> convert({"instruction": "2+2?", "input": "", "output": "4"})
    {'messages': [{'role': 'user', 'content': '2+2?'}, {'role': 'assistant', 'content': '4'}], 'system': None, ...}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ft_core import ConfigError

from .registry import DatasetEntry, DatasetTags
from .report import (
    BAD_JSON,
    BAD_MESSAGE,
    BAD_RANKING,
    BAD_TAG,
    BAD_TOOLS,
    EMPTY_CONTENT,
    MISSING_COLUMN,
    NOT_A_STRING,
    UNKNOWN_ROLE,
    WRONG_COUNT,
    WRONG_ROLE_ORDER,
    BadRow,
)

USER, ASSISTANT, FUNCTION, OBSERVATION, SYSTEM = "user", "assistant", "function", "observation", "system"
USER_SIDE = (USER, OBSERVATION)
ASSISTANT_SIDE = (ASSISTANT, FUNCTION)

Aligned = dict[str, Any]
Converter = Callable[[dict[str, Any]], Aligned]
FORMATS: dict[str, Callable[[DatasetEntry], Converter]] = {}

# LLaMA-Factory's default column names, used only when an entry has no "columns" section at all
# (an explicit section maps exactly the columns it names, as in LLaMA-Factory).
DEFAULT_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "messages": "conversations"}
OPENAI_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
               "observation_tag": "tool", "function_tag": "function_call", "system_tag": "system"}


def register_format(name: str) -> Callable:
    """Decorator adding a converter factory ``factory(entry) -> convert(row)`` to ``FORMATS``."""

    def add(factory: Callable[[DatasetEntry], Converter]) -> Callable[[DatasetEntry], Converter]:
        FORMATS[name] = factory
        return factory

    return add


def get_converter(entry: DatasetEntry, name: str = "dataset") -> Converter:
    """The row converter for ``entry.formatting``; an unknown format names the dataset and the key."""
    if entry.formatting not in FORMATS:
        raise ConfigError(f"dataset {name!r}: unknown formatting {entry.formatting!r}; "
                          f"use one of {', '.join(sorted(FORMATS))}")
    return FORMATS[entry.formatting](entry)


def columns_of(entry: DatasetEntry) -> dict[str, str | None]:
    """The effective column mapping (LLaMA-Factory: defaults only when ``columns`` is absent)."""
    cols = entry.columns.model_dump()
    if "columns" not in entry.model_fields_set:
        cols.update(DEFAULT_COLUMNS)
    return cols


def required_columns(entry: DatasetEntry, stage: str | None = None) -> dict[str, str]:
    """Columns every row must have: ``{key in columns: column name}`` (used for the file-level check)."""
    cols = columns_of(entry)
    if entry.formatting == "alpaca":
        need = ["prompt"] if stage in (None, "pt") else ["prompt", "response"]
        if entry.ranking:
            need = ["prompt", "chosen", "rejected"]
        if stage == "kto":
            need = ["prompt", "response", "kto_tag"]
    else:
        need = ["messages"] + (["chosen", "rejected"] if entry.ranking else [])
        if stage == "kto":
            need.append("kto_tag")
    return {key: cols[key] for key in need if cols.get(key)}


def tags_of(entry: DatasetEntry) -> DatasetTags:
    """Sharegpt tags; openai rows default to ``role``/``content``/``user``/``assistant``/``tool``/``system``.

    Unlike LLaMA-Factory, a ``tags`` section that names only some tags keeps the defaults for the others.
    """
    given = entry.tags.model_dump(exclude_unset=True)
    if entry.formatting == "openai":
        return DatasetTags(**{**OPENAI_TAGS, **given})
    return DatasetTags(**given)


@dataclass
class _Ctx:
    cols: dict[str, str | None]
    entry: DatasetEntry

    def get(self, row: dict[str, Any], key: str, required: bool = False) -> Any:
        column = self.cols.get(key)
        if not column:
            return None
        if column not in row:
            if required:
                raise BadRow(MISSING_COLUMN, f"column {column!r} ({key}) is missing")
            return None
        return row[column]


def _text(value: Any, where: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise BadRow(NOT_A_STRING, f"{where} is {type(value).__name__}, expected a string")
    if not allow_empty and not value.strip():
        raise BadRow(EMPTY_CONTENT, f"{where} is empty")
    return value


def _system(value: Any) -> str | None:
    if value is None:
        return None
    return _text(value, "system", allow_empty=True) or None


def _tools(value: Any) -> str | None:
    """Tools as JSON text (a list of schemas); lists/dicts are serialised, bad JSON is a ``BadRow``."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise BadRow(BAD_TOOLS, f"tools is not valid JSON ({exc.msg} at char {exc.pos})") from None
        if not isinstance(parsed, (list, dict)):
            raise BadRow(BAD_TOOLS, f"tools must be a JSON list of function schemas, got {type(parsed).__name__}")
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    raise BadRow(BAD_TOOLS, f"tools is {type(value).__name__}, expected JSON text or a list")


def _check_function(content: str, where: str) -> None:
    try:
        json.loads(content)
    except json.JSONDecodeError as exc:
        raise BadRow(BAD_JSON, f"{where}: a tool call must be JSON ({exc.msg} at char {exc.pos})") from None


def check_order(messages: list[dict[str, str]], ranking: bool) -> None:
    """Roles alternate user-side/assistant-side; SFT rows end with the answer, ranking rows with the user."""
    for i, msg in enumerate(messages):
        allowed = USER_SIDE if i % 2 == 0 else ASSISTANT_SIDE
        if msg["role"] not in allowed:
            raise BadRow(WRONG_ROLE_ORDER, f"message {i} has role {msg['role']!r}, expected {' or '.join(allowed)}")
    if not messages:
        raise BadRow(WRONG_COUNT, "no messages")
    if (len(messages) % 2 == 1) != ranking:
        want = "end with a user message (the answers are in chosen/rejected)" if ranking else "end with an assistant message"
        raise BadRow(WRONG_COUNT, f"{len(messages)} messages; they must {want}")


def _kto(ctx: _Ctx, row: dict[str, Any]) -> bool | None:
    if not ctx.cols.get("kto_tag"):
        return None
    tag = ctx.get(row, "kto_tag", required=True)
    if not isinstance(tag, bool):
        raise BadRow(BAD_TAG, f"kto_tag is {tag!r}, expected true or false")
    return tag


def _result(messages, system, tools, ctx, row, chosen=None, rejected=None, kto_tag=None) -> Aligned:
    return {"messages": messages, "system": system, "tools": tools, "chosen": chosen, "rejected": rejected,
            "kto_tag": kto_tag, "images": ctx.get(row, "images"), "videos": ctx.get(row, "videos"),
            "audios": ctx.get(row, "audios")}


@register_format("alpaca")
def alpaca(entry: DatasetEntry) -> Converter:
    """instruction/input/output (+ history, system, tools, chosen/rejected, kto_tag) → ``Aligned``."""
    ctx = _Ctx(columns_of(entry), entry)

    def convert(row: dict[str, Any]) -> Aligned:
        messages: list[dict[str, str]] = []
        history = ctx.get(row, "history")
        if history is not None:
            if not isinstance(history, list):
                raise BadRow(BAD_MESSAGE, f"history is {type(history).__name__}, expected a list of [user, assistant] pairs")
            for i, pair in enumerate(history):
                if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                    raise BadRow(BAD_MESSAGE, f"history[{i}] is not a [user, assistant] pair")
                messages.append({"role": USER, "content": _text(pair[0], f"history[{i}][0]")})
                messages.append({"role": ASSISTANT, "content": _text(pair[1], f"history[{i}][1]")})
        parts = []
        for key in ("prompt", "query"):
            value = ctx.get(row, key, required=key == "prompt")
            if value is not None and value != "":
                parts.append(_text(value, f"{ctx.cols[key]!r}", allow_empty=True))
        if not "".join(parts).strip():
            raise BadRow(EMPTY_CONTENT, f"{ctx.cols['prompt']!r} is empty")
        messages.append({"role": USER, "content": "\n".join(parts)})
        system, tools = _system(ctx.get(row, "system")), _tools(ctx.get(row, "tools"))
        kto_tag = _kto(ctx, row)
        if entry.ranking:
            chosen = _text(ctx.get(row, "chosen", required=True), "chosen")
            rejected = _text(ctx.get(row, "rejected", required=True), "rejected")
            return _result(messages, system, tools, ctx, row, {"role": ASSISTANT, "content": chosen},
                           {"role": ASSISTANT, "content": rejected})
        response = ctx.get(row, "response")
        if response is not None:
            messages.append({"role": ASSISTANT, "content": _text(response, f"{ctx.cols['response']!r}")})
        return _result(messages, system, tools, ctx, row, kto_tag=kto_tag)

    return convert


def _message(msg: Any, i: int, tags: DatasetTags, roles: dict[str, str]) -> dict[str, str]:
    if not isinstance(msg, dict):
        raise BadRow(BAD_MESSAGE, f"message {i} is {type(msg).__name__}, expected an object")
    if tags.role_tag not in msg or tags.content_tag not in msg:
        raise BadRow(BAD_MESSAGE, f"message {i} lacks {tags.role_tag!r} or {tags.content_tag!r}")
    role = msg[tags.role_tag]
    if role not in roles:
        raise BadRow(UNKNOWN_ROLE, f"message {i} has role {role!r}; known: {', '.join(map(repr, roles))}")
    content = _text(msg[tags.content_tag], f"message {i} content")
    if roles[role] == FUNCTION:
        _check_function(content, f"message {i}")
    return {"role": roles[role], "content": content}


def _role_map(tags: DatasetTags) -> dict[str, str]:
    return {tags.user_tag: USER, tags.assistant_tag: ASSISTANT, tags.observation_tag: OBSERVATION,
            tags.function_tag: FUNCTION, tags.system_tag: SYSTEM}


def _split_system(raw: list, tags: DatasetTags, ctx: _Ctx, row: dict) -> tuple[list, str | None]:
    if raw and isinstance(raw[0], dict) and raw[0].get(tags.role_tag) == tags.system_tag:
        return raw[1:], _system(raw[0].get(tags.content_tag))
    return raw, _system(ctx.get(row, "system"))


def _answers(ctx: _Ctx, row: dict, tags: DatasetTags, roles: dict[str, str]) -> tuple[dict, dict]:
    out = []
    for key in ("chosen", "rejected"):
        value = ctx.get(row, key, required=True)
        if isinstance(value, str):  # ft extension: a plain string is an assistant answer
            value = {tags.role_tag: tags.assistant_tag, tags.content_tag: value}
        try:
            msg = _message(value, 0, tags, roles)
        except BadRow as bad:
            raise BadRow(BAD_RANKING, f"{key}: {bad.detail}") from None
        if msg["role"] not in ASSISTANT_SIDE:
            raise BadRow(BAD_RANKING, f"{key} has role {msg['role']!r}, expected an assistant answer")
        out.append(msg)
    return out[0], out[1]


def _message_list(ctx: _Ctx, tags, row: dict[str, Any]) -> tuple[list[Any], str | None]:
    """The row's message list (sharegpt and openai alike), with a leading system message split off."""
    raw = ctx.get(row, "messages", required=True)
    if not isinstance(raw, list):
        raise BadRow(BAD_MESSAGE, f"{ctx.cols['messages']!r} is {type(raw).__name__}, expected a list of messages")
    return _split_system(raw, tags, ctx, row)


@register_format("sharegpt")
def sharegpt(entry: DatasetEntry) -> Converter:
    """A list of ``{from, value}`` messages (tags configurable) → ``Aligned``."""
    ctx, tags = _Ctx(columns_of(entry), entry), tags_of(entry)
    roles = _role_map(tags)

    def convert(row: dict[str, Any]) -> Aligned:
        raw, system = _message_list(ctx, tags, row)
        messages = [_message(m, i, tags, roles) for i, m in enumerate(raw)]
        return _finish(messages, system, ctx, row, tags, roles)

    return convert


def _finish(messages, system, ctx: _Ctx, row, tags, roles) -> Aligned:
    for i, msg in enumerate(messages):
        if msg["role"] == SYSTEM:
            raise BadRow(WRONG_ROLE_ORDER, f"message {i} is a system message; only the first may be")
    check_order(messages, ctx.entry.ranking)
    tools = _tools(ctx.get(row, "tools"))
    if ctx.entry.ranking:
        chosen, rejected = _answers(ctx, row, tags, roles)
        return _result(messages, system, tools, ctx, row, chosen, rejected)
    return _result(messages, system, tools, ctx, row, kto_tag=_kto(ctx, row))


def _calls(tool_calls: Any, i: int) -> str:
    if not isinstance(tool_calls, list) or not all(isinstance(c, dict) for c in tool_calls):
        raise BadRow(BAD_MESSAGE, f"message {i}: tool_calls must be a list of objects")
    calls = []
    for call in tool_calls:
        fn = call.get("function", call)
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise BadRow(BAD_MESSAGE, f"message {i}: a tool call lacks function.name")
        args = fn.get("arguments", {})
        if isinstance(args, str):  # OpenAI sends arguments as JSON text; the templates want an object
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as exc:
                raise BadRow(BAD_JSON, f"message {i}: tool call arguments are not JSON ({exc.msg})") from None
        calls.append({"name": fn["name"], "arguments": args})
    return json.dumps(calls, ensure_ascii=False)


@register_format("openai")
def openai(entry: DatasetEntry) -> Converter:
    """OpenAI chat ``messages`` (``role``/``content``, ``tool_calls``, ``tool`` results) → ``Aligned``.

    Consecutive tool results are merged into one observation, joined like LLaMA-Factory does.
    """
    ctx, tags = _Ctx(columns_of(entry), entry), tags_of(entry)
    roles = _role_map(tags)

    def convert(row: dict[str, Any]) -> Aligned:
        raw, system = _message_list(ctx, tags, row)
        messages: list[dict[str, str]] = []
        pending: list[str] = []
        for i, msg in enumerate(raw):
            if isinstance(msg, dict) and msg.get("tool_calls") and msg.get(tags.role_tag) in (tags.assistant_tag, tags.function_tag):
                aligned = {"role": FUNCTION, "content": _calls(msg["tool_calls"], i)}
            else:
                aligned = _message(msg, i, tags, roles)
            if aligned["role"] == OBSERVATION:
                pending.append(aligned["content"])
                continue
            if pending:
                messages.append({"role": OBSERVATION, "content": "\n</tool_response>\n<tool_response>\n".join(pending)})
                pending = []
            messages.append(aligned)
        if pending:
            messages.append({"role": OBSERVATION, "content": "\n</tool_response>\n<tool_response>\n".join(pending)})
        return _finish(messages, system, ctx, row, tags, roles)

    return convert
