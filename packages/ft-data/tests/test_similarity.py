"""BLEU-4/ROUGE equal LLaMA-Factory's eval_bleu_rouge.py (values committed in assets/bleu_rouge, with
the command that produced them), and the verifiable-task scorers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ft_data.scorers import SCORERS, bleu_rouge, extract_answer, mean_scores, per_row_bleu_rouge, text_scores

ASSETS = Path(__file__).parent / "assets" / "bleu_rouge"


def test_bleu_rouge_equals_the_reference_to_four_decimals():
    rows = [json.loads(line) for line in (ASSETS / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    reference = json.loads((ASSETS / "reference.json").read_text())
    ours = per_row_bleu_rouge([r["predict"] for r in rows], [r["label"] for r in rows])
    for index, (mine, theirs) in enumerate(zip(ours, reference["per_row"], strict=True)):
        assert mine == pytest.approx(theirs, abs=5e-5), f"row {index}"
    assert mean_scores(ours) == pytest.approx(reference["average"], abs=5e-5)
    assert text_scores([r["predict"] for r in rows], [r["label"] for r in rows]) == pytest.approx(reference["average"])


def test_bleu_is_per_character_and_empty_sides_score_zero():
    assert bleu_rouge("abcdef", "abcdef")["bleu-4"] == 100.0
    assert bleu_rouge("abc", "abc")["bleu-4"] == 84.0896  # no 4-gram: smoothing method 3, as the reference
    assert bleu_rouge("", "reference") == {"bleu-4": 0.0, "rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    with pytest.raises(ValueError, match="2 predictions for 1"):
        per_row_bleu_rouge(["a", "b"], ["a"])


def test_exact_match():
    assert SCORERS["exact_match"]("  Paris\n", {"label": "Paris"}) == 1.0
    assert SCORERS["exact_match"]("New  York", {"ground_truth": "New York"}) == 1.0
    assert SCORERS["exact_match"]("paris", {"label": "Paris"}) == 0.0


def test_rg_verifier_uses_reasoning_gym():
    import reasoning_gym

    entry = reasoning_gym.create_dataset("gsm_symbolic", size=1, seed=3)[0]
    answer = entry["answer"]
    assert SCORERS["rg_verifier"](f"Thinking... <answer>{answer}</answer>", {"entry": entry}) == 1.0
    assert SCORERS["rg_verifier"](f"so the total is {answer}.", {"entry": json.dumps(entry)}) == 1.0
    assert SCORERS["rg_verifier"]("<answer>-1</answer>", {"entry": entry}) < 1.0
    with pytest.raises(ValueError, match="reasoning-gym entry"):
        SCORERS["rg_verifier"]("1", {"label": "1"})


@pytest.mark.parametrize(("text", "gold", "expected"), [
    ("a <answer>7</answer> b <answer> 8 </answer>", "8", "8"),
    ("work\n#### 1,250", "1250", "1,250"),
    ("first 3 then 1,250.", "1250", "1250"),
    ("blue", "blue", "blue"),
])
def test_extract_answer(text, gold, expected):
    assert extract_answer(text, gold) == expected
