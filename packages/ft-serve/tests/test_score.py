"""``ft score``: BLEU/ROUGE averages as eval_bleu_rouge.py writes them, task scorers with references,
bad input as one line with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ft_data.scorers import bleu_rouge

ROWS = [
    {"prompt": "a", "predict": "The cat sat on the mat.", "label": "The cat sat on the mat."},
    {"prompt": "b", "predict": "今天天气很好", "label": "今天天气不错"},
    {"prompt": "c", "predict": "", "label": "nothing predicted"},
    {"prompt": "d", "predict": "42", "label": "42"},
]


def _ft_serve() -> str:
    return str(Path(sys.executable).with_name("ft-serve"))


def _write(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_bleu_rouge_file_and_printout(tmp_path):
    pred = _write(tmp_path / "generated_predictions.jsonl", ROWS)
    proc = subprocess.run([_ft_serve(), "score", str(pred)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((tmp_path / "predictions_score.json").read_text())
    per_row = [bleu_rouge(r["predict"], r["label"]) for r in ROWS]
    expected = {k: sum(s[k] for s in per_row) / len(per_row) for k in ("bleu-4", "rouge-1", "rouge-2", "rouge-l")}
    assert list(saved) == ["bleu-4", "rouge-1", "rouge-2", "rouge-l"]
    assert saved == pytest.approx(expected)
    assert (tmp_path / "predictions_score.json").read_text().startswith('{\n    "bleu-4"')  # indent 4, as the reference
    assert proc.stdout.splitlines() == [f"{k}: {v:.4f}" for k, v in expected.items()]


def test_exact_match_and_rg_verifier(tmp_path):
    import reasoning_gym

    pred = _write(tmp_path / "p.jsonl", ROWS)
    proc = subprocess.run([_ft_serve(), "score", str(pred), "--metric", "exact_match", "--output",
                           str(tmp_path / "em.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "em.json").read_text()) == {"exact_match": 0.5, "count": 4}

    entries = list(reasoning_gym.create_dataset("gsm_symbolic", size=3, seed=11))
    rows = [{"prompt": e["question"], "predict": f"<answer>{e['answer']}</answer>" if i != 1 else "no idea",
             "label": e["answer"]} for i, e in enumerate(entries)]
    pred = _write(tmp_path / "rg.jsonl", rows)
    refs = _write(tmp_path / "refs.jsonl", entries)
    from ft_serve.score import run_score

    result = run_score(pred, "rg_verifier", references=refs, output=tmp_path / "rg.json")
    wrong = reasoning_gym.get_score_answer_fn("gsm_symbolic")("no idea", entries[1])  # the verifier's own score
    assert result == {"rg_verifier": pytest.approx((2 + wrong) / 3), "count": 3}


@pytest.mark.parametrize(("case", "expect"), [
    ("missing", "no such predictions file"), ("not_json", "line 2 is not JSON"), ("no_label", "line 1 lacks"),
    ("metric", "metric 'bleu' is unknown"), ("rg_without_refs", "--references"),
])
def test_bad_input(case, expect, tmp_path):
    pred = tmp_path / "p.jsonl"
    args = [str(pred)]
    if case == "not_json":
        pred.write_text(json.dumps(ROWS[0]) + "\n{oops\n")
    elif case == "no_label":
        pred.write_text(json.dumps({"predict": "x"}) + "\n")
    elif case != "missing":
        _write(pred, ROWS)
    if case == "metric":
        args += ["--metric", "bleu"]
    if case == "rg_without_refs":
        args += ["--metric", "rg_verifier"]
    proc = subprocess.run([_ft_serve(), "score", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and expect in lines[-1], lines
    assert not (tmp_path / "predictions_score.json").exists()


def test_code_eval_in_parallel_sandboxes_and_refusal(tmp_path, monkeypatch):
    from ft_core import SandboxUnavailableError
    from ft_core.sandbox import backends, forget_probes
    from ft_serve.score import run_score

    rows = [{"prompt": "p", "predict": f"[BEGIN]\ndef f():\n    return {n}\n[DONE]", "label": "['assert f() == 1']"}
            for n in (1, 2, 1)]
    pred = _write(tmp_path / "code.jsonl", rows)
    assert run_score(pred, "code_eval", output=tmp_path / "c.json") == {"code_eval": pytest.approx(2 / 3), "count": 3}
    forget_probes()
    monkeypatch.setattr(backends, "_probe", lambda name: f"{name}: simulated")
    monkeypatch.delenv("FT_SANDBOX_ALLOW_WEAK_ISOLATION", raising=False)
    try:
        with pytest.raises(SandboxUnavailableError, match="allow_weak_isolation"):
            run_score(pred, "code_eval", output=tmp_path / "refused.json")
        assert not (tmp_path / "refused.json").exists()
        weak = run_score(pred, "code_eval", output=tmp_path / "weak.json", allow_weak_isolation=True)
        assert weak["code_eval"] == pytest.approx(2 / 3)
    finally:
        forget_probes()
