"""predict_with_generate scores with the toolkit scorer; loss plots are written from a log history."""

from __future__ import annotations

from ft_train import text_scores
from ft_train.plots import plot_losses, smooth


def test_predictions_are_scored_by_the_toolkit_scorer():
    # one scorer in the toolkit: ft-train reports what `ft score` computes (ft_data.scorers)
    import ft_data.scorers

    assert text_scores is ft_data.scorers.text_scores
    scores = text_scores(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert scores == {"bleu-4": 100.0, "rouge-1": 100.0, "rouge-2": 100.0, "rouge-l": 100.0}


def test_plots_written(tmp_path):
    history = [{"loss": 3.0 - i * 0.1, "step": i} for i in range(1, 11)] + [{"eval_loss": 2.0, "step": 10}]
    paths = plot_losses(history, tmp_path)
    assert sorted(p.name for p in paths) == ["eval_loss.png", "training_loss.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert smooth([1.0, 1.0, 1.0]) == [1.0, 1.0, 1.0]
