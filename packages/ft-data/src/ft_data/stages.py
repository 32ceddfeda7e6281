"""What each training stage needs from an aligned row (checked before tokenization).

Example:
    >>> check_stage({"messages": [{"role": "user", "content": "hi"}], ...}, "sft")
    Traceback (most recent call last):
    BadRow: no response: the row has no answer to train on
"""

from __future__ import annotations

from typing import Any

from .report import BAD_TAG, EMPTY_TEXT, NO_RESPONSE, WRONG_COUNT, BadRow

RANKING_STAGES = ("rm", "dpo", "orpo", "simpo")


def ranking_stages() -> tuple[str, ...]:
    return RANKING_STAGES


def check_stage(row: dict[str, Any], stage: str) -> None:
    """Raise ``BadRow`` when ``row`` cannot be used for ``stage``."""
    messages = row["messages"]
    if stage == "pt":
        if not messages or not messages[0]["content"].strip():
            raise BadRow(EMPTY_TEXT, "no text")
        return
    if stage in RANKING_STAGES:
        if row.get("chosen") is None or row.get("rejected") is None:
            raise BadRow(NO_RESPONSE, "ranking rows need chosen and rejected answers")
        return
    if stage == "kto" and row.get("kto_tag") is None:
        raise BadRow(BAD_TAG, "kto rows need a kto_tag (true or false); set columns.kto_tag")
    if stage in ("sft", "kto") and len(messages) % 2 == 1:
        raise BadRow(NO_RESPONSE, "the row has no answer to train on (it ends with a user message)")
    if not messages:
        raise BadRow(WRONG_COUNT, "no messages")
