"""Scorers for verifiable tasks: ``exact_match`` and ``rg_verifier`` (reasoning-gym's own verifier).

``exact_match`` compares the prediction with the example's ``ground_truth`` (or ``label``) after
trimming and collapsing whitespace. ``rg_verifier`` needs the reasoning-gym entry the prompt was
made from (``example["entry"]``, or the example itself when it has ``metadata.source_dataset``);
the answer is the text inside ``<answer>…</answer>`` (reasoning-gym's convention), else the text
after the last ``####``, else — for a numeric gold answer — the last number of the prediction,
else the whole prediction. The score is the verifier's (1.0 exact, partial credit where the task
gives it).

Example:
    >>> exact_match(" Paris ", {"ground_truth": "Paris"})
    1.0
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from .registry import register_scorer

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _gold(example: Mapping[str, Any]) -> str:
    for key in ("ground_truth", "label", "answer"):
        if example.get(key) is not None:
            return str(example[key])
    raise KeyError("the example has no ground_truth, label or answer")


@register_scorer("exact_match")
def exact_match(prediction: str, example: Mapping[str, Any]) -> float:
    """1.0 when prediction and reference are equal up to surrounding and repeated whitespace."""
    return float(" ".join(str(prediction).split()) == " ".join(_gold(example).split()))


def rg_entry(example: Mapping[str, Any]) -> Mapping[str, Any]:
    """The reasoning-gym entry of an example (``ValueError`` naming what is missing)."""
    entry = example.get("entry", example)
    if isinstance(entry, str):
        import json

        entry = json.loads(entry)
    if not isinstance(entry, Mapping) or "source_dataset" not in (entry.get("metadata") or {}):
        raise ValueError("rg_verifier needs the reasoning-gym entry of each row "
                         "(a dict with metadata.source_dataset, as reasoning_gym.create_dataset yields it)")
    return entry


def extract_answer(prediction: str, gold: str | None = None) -> str:
    """The final answer of a completion (see the module docstring for the order of rules)."""
    text = str(prediction)
    tagged = _ANSWER_TAG.findall(text)
    if tagged:
        return tagged[-1].strip()
    if "####" in text:
        return text.rsplit("####", 1)[-1].strip()
    if gold is not None and _NUMBER.fullmatch(gold.strip()):
        numbers = _NUMBER.findall(text)
        if numbers:
            return numbers[-1].replace(",", "").rstrip(".")
    return text.strip()


@functools.cache
def _score_fn(source_dataset: str):
    try:
        import reasoning_gym
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("rg_verifier needs reasoning-gym: pip install 'ft-data[tasks]'") from exc
    return reasoning_gym.get_score_answer_fn(source_dataset)


@register_scorer("rg_verifier")
def rg_verifier(prediction: str, example: Mapping[str, Any]) -> float:
    """reasoning-gym's verifier on the extracted answer, in [0, 1]."""
    entry = rg_entry(example)
    answer = extract_answer(prediction, None if entry.get("answer") is None else str(entry["answer"]))
    return float(_score_fn(entry["metadata"]["source_dataset"])(answer, entry))
