"""Scorers: one place for every score of generated text in the toolkit.

* ``SCORERS[metric](prediction, example) -> float`` (registered by decorator): ``cem``, ``em_mc``,
  ``GSM8K``, ``MATH``, ``code_eval`` (sandboxed), ``exact_match``, ``rg_verifier``. ``example`` is a
  mapping with the reference (``ground_truth``, a test-set sidecar entry, or a reasoning-gym entry).
* ``bleu_rouge`` / ``text_scores``: BLEU-4 and ROUGE-1/2/L exactly as LLaMA-Factory computes them.

Used by ft-router-data (test-set scoring), ft-train (``predict_with_generate``, rewards) and
ft-serve (``ft score``, ``ft eval``).

Example:
    >>> SCORERS["em_mc"]("I pick (B).", {"ground_truth": "B"})
    1.0
"""

from __future__ import annotations

from . import code_eval as _code_eval  # noqa: F401  (registers code_eval)
from . import math_answer as _math_answer  # noqa: F401  (registers MATH)
from . import text as _text  # noqa: F401  (registers cem, em_mc, GSM8K)
from . import verifiable as _verifiable  # noqa: F401  (registers exact_match, rg_verifier)
from .registry import SCORERS, register_scorer, score_example
from .similarity import METRIC_NAMES, bleu_rouge, mean_scores, per_row_bleu_rouge, text_scores
from .verifiable import extract_answer

__all__ = ["METRIC_NAMES", "SCORERS", "bleu_rouge", "extract_answer", "mean_scores", "per_row_bleu_rouge",
           "register_scorer", "score_example", "text_scores"]
