"""BLEU-4 / ROUGE values on hand-checked pairs; loss plots are written from a log history."""

from __future__ import annotations

import pytest

from ft_train.metrics import rouge_l, rouge_n, sentence_bleu, text_scores, tokenize
from ft_train.plots import plot_losses, smooth


def test_tokenize_words_punctuation_and_cjk():
    assert tokenize("Hello, World 42!") == ["hello", ",", "world", "42", "!"]
    assert tokenize("你好 ok") == ["你", "好", "ok"]


def test_identical_texts_score_100():
    scores = text_scores(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert scores == {"bleu-4": 100.0, "rouge-1": 100.0, "rouge-2": 100.0, "rouge-l": 100.0}


def test_rouge_by_hand():
    hyp, ref = tokenize("the cat sat"), tokenize("the cat sat down")
    # unigrams: 3 matched, P = 3/3, R = 3/4 -> F1 = 6/7
    assert rouge_n(hyp, ref, 1) == pytest.approx(6 / 7)
    # bigrams: 2 matched of 2 and 3 -> F1 = 0.8
    assert rouge_n(hyp, ref, 2) == pytest.approx(0.8)
    assert rouge_l(tokenize("a b c d"), tokenize("a c d")) == pytest.approx(2 * 0.75 * 1 / 1.75)


def test_bleu_brevity_and_disjoint():
    assert sentence_bleu(tokenize("x y z"), tokenize("a b c")) < 0.2
    short = sentence_bleu(tokenize("the cat"), tokenize("the cat sat on the mat"))
    assert 0 < short < 0.5
    assert text_scores([], []) == {"bleu-4": 0.0, "rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}


def test_plots_written(tmp_path):
    history = [{"loss": 3.0 - i * 0.1, "step": i} for i in range(1, 11)] + [{"eval_loss": 2.0, "step": 10}]
    paths = plot_losses(history, tmp_path)
    assert sorted(p.name for p in paths) == ["eval_loss.png", "training_loss.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert smooth([1.0, 1.0, 1.0]) == [1.0, 1.0, 1.0]
