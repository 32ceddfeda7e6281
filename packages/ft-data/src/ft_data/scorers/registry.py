"""The scorer registry: metric name -> ``fn(prediction, example) -> float``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Scorer = Callable[[str, Mapping[str, Any]], float]
SCORERS: dict[str, Scorer] = {}


def register_scorer(*metrics: str) -> Callable[[Scorer], Scorer]:
    """Decorator: register ``fn`` under each metric name (as written in a log's ``metric`` column)."""

    def add(fn: Scorer) -> Scorer:
        for metric in metrics:
            SCORERS[metric] = fn
        return fn

    return add


def score_example(prediction: str, example: Mapping[str, Any]) -> float:
    """Score one prediction with its example's metric (``KeyError`` for an unknown metric)."""
    return SCORERS[example["metric"]](prediction, example)
