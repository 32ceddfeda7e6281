"""Slots: the pieces a chat template is made of, and how they become text or token ids.

A slot is one of
* a string, possibly holding the placeholders ``{{content}}`` and ``{{idx}}`` (user-turn index);
* ``BOS`` / ``EOS``: the tokenizer's BOS/EOS token (skipped when the tokenizer has none);
* ``Token("<|user|>")``: one special token by id (ChatGLM style), never split by the tokenizer.

LLaMA-Factory's spellings are accepted too: ``{"bos_token"}``, ``{"eos_token"}`` and
``{"token": "<|user|>"}``.

Example:
    >>> render_slots(["<|im_start|>user\\n", "hi", EOS], eos="<|im_end|>")
    '<|im_start|>user\\nhi<|im_end|>'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Union

__all__ = ["BOS", "EOS", "Marker", "Slot", "Token", "encode_slots", "normalize_slot", "render_slots"]


@dataclass(frozen=True)
class Marker:
    """The tokenizer's BOS or EOS token, resolved when rendering (``kind`` is "bos" or "eos")."""

    kind: str

    def __repr__(self) -> str:
        return self.kind.upper()


@dataclass(frozen=True)
class Token:
    """One special token given by its text, encoded by id (e.g. ``Token("[gMASK]")``)."""

    text: str


BOS = Marker("bos")
EOS = Marker("eos")

Slot = Union[str, Marker, Token]

PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def normalize_slot(slot: Any) -> Slot:
    """Turn one slot in any accepted spelling into ``str | Marker | Token``."""
    if isinstance(slot, (str, Marker, Token)):
        return slot
    if isinstance(slot, (set, frozenset)) and len(slot) == 1:
        name = next(iter(slot))
        if name == "bos_token":
            return BOS
        if name == "eos_token":
            return EOS
    if isinstance(slot, dict) and set(slot) == {"token"} and isinstance(slot["token"], str):
        return Token(slot["token"])
    raise ValueError(f"invalid slot {slot!r}: use a string, BOS, EOS, Token('...'), {{'bos_token'}} or {{'token': '...'}}")


def render_slots(slots: Iterable[Slot], *, bos: str | None = None, eos: str | None = None) -> str:
    """Join slots into text; ``bos``/``eos`` are the tokenizer's token strings (None: omitted)."""
    out = []
    for slot in slots:
        if isinstance(slot, str):
            out.append(slot)
        elif isinstance(slot, Token):
            out.append(slot.text)
        elif slot is BOS or slot == BOS:
            out.append(bos or "")
        else:
            out.append(eos or "")
    return "".join(out)


def encode_slots(tokenizer: Any, slots: Sequence[Slot]) -> list[int]:
    """Token ids of ``slots``: each string encoded on its own without special tokens (as
    LLaMA-Factory does, so ids match its processing), markers and tokens by id."""
    ids: list[int] = []
    for slot in slots:
        if isinstance(slot, str):
            if slot:
                ids.extend(tokenizer.encode(slot, add_special_tokens=False))
        elif isinstance(slot, Token):
            ids.append(_token_id(tokenizer, slot.text))
        elif slot == BOS:
            if tokenizer.bos_token_id is not None:
                ids.append(tokenizer.bos_token_id)
        elif tokenizer.eos_token_id is not None:
            ids.append(tokenizer.eos_token_id)
    return ids


def _token_id(tokenizer: Any, text: str) -> int:
    token_id = tokenizer.convert_tokens_to_ids(text)
    if token_id is None or (token_id == tokenizer.unk_token_id and text != tokenizer.unk_token):
        raise ValueError(f"special token {text!r} is not in the tokenizer's vocabulary")
    return token_id
