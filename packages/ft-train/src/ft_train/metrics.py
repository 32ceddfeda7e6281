"""Text-similarity scores for ``predict_with_generate``: BLEU-4 and ROUGE-1/2/L (percent, averaged).

Written here instead of depending on nltk + rouge + jieba: they are ~60 lines of counting, and
the heavy dependencies would land in every install of ft-train. Tokens are words (``\\w+``),
single punctuation marks and single CJK characters, so Chinese text is scored per character
(LLaMA-Factory segments it with jieba; the difference is documented in docs/ft-train.md).
Sentence BLEU uses brevity penalty and geometric smoothing of zero counts (like nltk's
``method3``); ROUGE values are F1.

Example:
    >>> round(text_scores(["the cat sat on the mat"], ["the cat sat on the mat"])["bleu-4"], 1)
    100.0
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words, punctuation marks and single CJK characters."""
    return _TOKEN.findall(text.lower())


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu(hypothesis: Sequence[str], reference: Sequence[str], max_n: int = 4) -> float:
    """BLEU-``max_n`` of one tokenized hypothesis against one reference, in [0, 1]."""
    if not hypothesis or not reference:
        return 0.0
    log_sum = 0.0
    zeros = 0
    for n in range(1, max_n + 1):
        hyp = _ngrams(hypothesis, n)
        total = max(sum(hyp.values()), 1)
        matched = sum(min(c, _ngrams(reference, n)[g]) for g, c in hyp.items())
        if matched == 0:
            zeros += 1  # geometric smoothing: 1/2, 1/4, ... of a count instead of log(0)
            precision = 1.0 / (2 ** zeros * total)
        else:
            precision = matched / total
        log_sum += math.log(precision) / max_n
    ratio = len(hypothesis) / len(reference)
    brevity = 1.0 if ratio > 1 else math.exp(1 - 1 / ratio)
    return brevity * math.exp(log_sum)


def _f1(matched: int, hyp_total: int, ref_total: int) -> float:
    if matched == 0 or hyp_total == 0 or ref_total == 0:
        return 0.0
    p, r = matched / hyp_total, matched / ref_total
    return 2 * p * r / (p + r)


def rouge_n(hypothesis: Sequence[str], reference: Sequence[str], n: int) -> float:
    """ROUGE-N F1 in [0, 1]."""
    hyp, ref = _ngrams(hypothesis, n), _ngrams(reference, n)
    matched = sum((hyp & ref).values())
    return _f1(matched, sum(hyp.values()), sum(ref.values()))


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(hypothesis: Sequence[str], reference: Sequence[str]) -> float:
    """ROUGE-L F1 (longest common subsequence) in [0, 1]."""
    return _f1(_lcs(hypothesis, reference), len(hypothesis), len(reference))


def text_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean BLEU-4 and ROUGE-1/2/L F1 over pairs, in percent (LLaMA-Factory's metric names)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    sums = {"bleu-4": 0.0, "rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    for pred, ref in zip(predictions, references, strict=True):
        hyp, gold = tokenize(pred), tokenize(ref)
        sums["bleu-4"] += sentence_bleu(hyp, gold)
        sums["rouge-1"] += rouge_n(hyp, gold, 1)
        sums["rouge-2"] += rouge_n(hyp, gold, 2)
        sums["rouge-l"] += rouge_l(hyp, gold)
    count = max(len(predictions), 1)
    return {k: round(100 * v / count, 4) for k, v in sums.items()}
