"""Task scorers: ``SCORERS[metric](prediction, example) -> 0.0 | 1.0``, registered by decorator.

``example`` is one sidecar entry of a test set (``task_name``, ``metric``, ``task_id``,
``ground_truth``). Code scorers run the prediction in a sandboxed subprocess.

Example:
    >>> SCORERS["em_mc"]("I pick (B).", {"ground_truth": "B"})
    1.0
"""

from __future__ import annotations

from . import code_eval as _code_eval  # noqa: F401  (registers code_eval)
from . import math_answer as _math_answer  # noqa: F401  (registers MATH)
from . import text as _text  # noqa: F401  (registers cem, em_mc, GSM8K)
from .registry import SCORERS, register_scorer, score_example

__all__ = ["SCORERS", "register_scorer", "score_example"]
