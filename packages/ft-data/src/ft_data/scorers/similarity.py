"""BLEU-4 and ROUGE-1/2/L of generated text, exactly as LLaMA-Factory computes them.

Per pair, in percent and rounded to 4 decimals (LLaMA-Factory's ``eval_bleu_rouge.py`` and its
trainer's ``ComputeSimilarity``):

* BLEU-4: nltk ``sentence_bleu`` over **characters** (the reference's ``list(label)``) with
  smoothing ``method3``;
* ROUGE-1/2/L: ``rouge_chinese`` F-scores over jieba-segmented words joined by spaces; all three
  are 0 when either side has no words.

The well-kept reference libraries are used instead of a re-implementation so that the figures
equal the reference's to the last decimal (they are the ``metrics`` extra of ft-data).

Example:
    >>> bleu_rouge("the cat sat", "the cat sat")["bleu-4"]
    100.0
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence

METRIC_NAMES = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")


@functools.cache
def _libraries():
    try:
        import jieba
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
        from rouge_chinese import Rouge
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            f"BLEU/ROUGE scoring needs jieba, nltk and rouge-chinese ({exc.name} is missing): "
            "pip install 'ft-data[metrics]'") from exc
    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter is not the user's concern
    return jieba, sentence_bleu, SmoothingFunction().method3, Rouge()


def bleu_rouge(predict: str, label: str) -> dict[str, float]:
    """BLEU-4 and ROUGE-1/2/L of one prediction against its reference, percent, 4 decimals."""
    jieba, sentence_bleu, smoothing, rouge = _libraries()
    hypothesis = " ".join(jieba.cut(predict))
    reference = " ".join(jieba.cut(label))
    scores: dict[str, float]
    if not hypothesis.split() or not reference.split():
        scores = {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    else:
        result = rouge.get_scores(hypothesis, reference)[0]
        scores = {name: round(result[name]["f"] * 100, 4) for name in ("rouge-1", "rouge-2", "rouge-l")}
    bleu = sentence_bleu([list(label)], list(predict), smoothing_function=smoothing)
    scores["bleu-4"] = float(round(bleu * 100, 4))
    return {name: scores[name] for name in METRIC_NAMES}


def per_row_bleu_rouge(predictions: Sequence[str], labels: Sequence[str]) -> list[dict[str, float]]:
    """``bleu_rouge`` for each pair (``ValueError`` when the lengths differ)."""
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} references")
    return [bleu_rouge(str(pred), str(ref)) for pred, ref in zip(predictions, labels, strict=True)]


def mean_scores(rows: Iterable[dict[str, float]], names: Sequence[str] = METRIC_NAMES) -> dict[str, float]:
    """The plain mean of each metric over rows (0.0 for none), unrounded like the reference."""
    rows = list(rows)
    return {name: (sum(r[name] for r in rows) / len(rows) if rows else 0.0) for name in names}


def text_scores(predictions: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """Mean BLEU-4 and ROUGE-1/2/L over pairs, percent: what ``predict_with_generate`` reports."""
    return mean_scores(per_row_bleu_rouge(predictions, labels))
