"""Text scorers: contains-exact-match (``cem``), last parenthesised letter (``em_mc``), GSM8K.

Example:
    >>> cem("The answer is the Eiffel Tower.", {"ground_truth": "Eiffel tower"})
    1.0
    >>> gsm8k("... so she pays $1,250.", {"ground_truth": "... #### 1250"})
    1.0
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .registry import register_scorer

_PUNCT = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_CHOICE = re.compile(r"\(\s*([A-Za-z0-9])\s*\)")
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?|-?\$?\.\d+")


def normalize_answer(text: str) -> str:
    """Lower-case, drop ASCII punctuation and the articles a/an/the, collapse whitespace."""
    text = str(text).lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


@register_scorer("cem")
def cem(prediction: str, example: Mapping[str, Any]) -> float:
    """1.0 when the normalised ground truth occurs in the normalised prediction."""
    gold = normalize_answer(example["ground_truth"])
    return float(bool(gold) and gold in normalize_answer(prediction))


def last_choice(prediction: str) -> str:
    """The last parenthesised single letter or digit, e.g. ``( b )`` -> ``b`` ("" when none)."""
    found = _CHOICE.findall(str(prediction))
    return found[-1] if found else ""


@register_scorer("em_mc")
def em_mc(prediction: str, example: Mapping[str, Any]) -> float:
    """1.0 when the last parenthesised letter of the prediction is the gold letter (case-insensitive)."""
    gold = str(example["ground_truth"]).strip().strip("()").strip().lower()
    return float(bool(gold) and last_choice(prediction).lower() == gold)


def _as_number(text: str) -> Decimal | None:
    cleaned = text.replace(",", "").replace("$", "").strip().rstrip(".")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def gsm8k_gold(ground_truth: str) -> Decimal | None:
    """The number after the last ``####`` of a reference solution."""
    text = str(ground_truth)
    tail = text.rsplit("####", 1)[-1] if "####" in text else text
    found = _NUMBER.findall(tail)
    return _as_number(found[0]) if found else None


@register_scorer("GSM8K", "gsm8k")
def gsm8k(prediction: str, example: Mapping[str, Any]) -> float:
    """1.0 when the last number in the prediction equals the gold number (numerically: 3.50 == 3.5,
    1,000 == 1000, but 3.5 != 35, unlike the reference, which deletes decimal points)."""
    gold = gsm8k_gold(example["ground_truth"])
    found = _NUMBER.findall(str(prediction))
    if gold is None or not found:
        return 0.0
    predicted = _as_number(found[-1])
    return float(predicted is not None and predicted == gold)
