"""test-gen (router_test.json, registry entry, sidecar) and score (per task and per domain)."""

from __future__ import annotations

import json

import pytest

from ft_data.scorers.code_eval import humaneval_problems
from ft_router_data import generate_test_set, score_predictions
from ft_router_data.cli import cli

HE = humaneval_problems()["HumanEval/0"]
MBPP_GT = "['assert add(1, 2) == 3']"


@pytest.fixture
def test_log(tmp_path, log_helpers):
    b = log_helpers["block"]
    squad = b("squad", "Context: ... Who?", "Marie Curie", metric="f1")  # forced to cem
    squad = [row for pair in zip(squad[1::2], squad[0::2]) for row in pair]  # _think rows first
    rows = (b("natural_qa", "Who wrote Hamlet?", "William Shakespeare") + squad
            + b("mmlu", "Pick (A) or (B)", "B", metric="em_mc")
            + b("gsm8k", "How many?", "5 * 7 = 35\n#### 35", metric="GSM8K")
            + b("math", "Half of one?", "It is $\\boxed{\\frac{1}{2}}$.", metric="MATH")
            + b("mbpp", "Write add.", MBPP_GT, metric="code_eval", task_id=2)
            + b("human_eval", HE["prompt"], HE["test"], metric="code_eval", task_id="HumanEval/0"))
    return log_helpers["write_csv"](tmp_path / "test_log.csv", rows)


PREDICTIONS = [
    "It was William Shakespeare.",
    "marie curie",
    "I think (A).",
    "5 * 7 = 35, so 35.",
    "We get \\boxed{0.5}.",
    "[BEGIN]\ndef add(a, b):\n    return a + b\n[DONE]",
    "[BEGIN]\n    while True:\n        pass\n[DONE]",  # hangs: counted as a failure
]


def test_test_gen(test_log, tmp_path, log_helpers):
    out = tmp_path / "data"
    result = generate_test_set(test_log, out)
    records = log_helpers["read_json"](result.path)
    assert [r["input"] for r in records][:3] == ["Who wrote Hamlet?", "Context: ... Who?", "Pick (A) or (B)"]
    assert records[2]["output"] == "B" and records[5]["output"] == MBPP_GT  # raw ground truth, no wrappers
    meta = [json.loads(line) for line in result.meta_path.read_text().splitlines()]
    assert meta[1] == {"index": 1, "task_name": "squad", "metric": "cem", "task_id": None,
                       "ground_truth": "Marie Curie"}
    assert meta[6]["task_id"] == "HumanEval/0" and meta[5]["task_id"] == "2"
    assert json.loads((out / "dataset_info.json").read_text()) == {"router_test": {"file_name": "router_test.json"}}


def test_score_end_to_end(test_log, tmp_path, capsys):
    out = tmp_path / "data"
    assert cli.main(["test-gen", "--input", str(test_log), "--save-path", str(out)]) == 0
    preds = tmp_path / "generated_predictions.jsonl"
    labels = [json.loads(line)["ground_truth"] for line in (out / "router_test.meta.jsonl").read_text().splitlines()]
    preds.write_text("".join(json.dumps({"prompt": "p", "predict": p, "label": g}) + "\n"
                             for p, g in zip(PREDICTIONS, labels)))
    assert cli.main(["score", "--predictions", str(preds), "--test", str(out), "--timeout", "2"]) == 0
    printed = capsys.readouterr().out
    assert "human_eval" in printed and "world_knowledge" in printed
    report = json.loads((tmp_path / "router_scores.json").read_text())
    assert {t: r["score"] for t, r in report["tasks"].items()} == {
        "natural_qa": 1.0, "squad": 1.0, "mmlu": 0.0, "gsm8k": 1.0, "math": 1.0, "mbpp": 1.0, "human_eval": 0.0}
    assert {d: r["score"] for d, r in report["domains"].items()} == {
        "math": 1.0, "code": 0.5, "commonsense": None, "world_knowledge": 1.0, "reading": 1.0, "popular": 0.0}
    assert report["overall"]["score"] == pytest.approx(3.5 / 5)
    assert report["label_mismatches"] == 0


def test_score_bad_inputs(test_log, tmp_path, capsys):
    out = tmp_path / "data"
    generate_test_set(test_log, out)
    short = tmp_path / "short.jsonl"
    short.write_text(json.dumps({"predict": "x"}) + "\n")
    assert cli.main(["score", "--predictions", str(short), "--test", str(out)]) == 2
    assert "1 predictions for 7 test examples" in capsys.readouterr().err
    assert cli.main(["score", "--predictions", str(short), "--test", str(tmp_path)]) == 2
    assert "sidecar not found" in capsys.readouterr().err
    assert not (tmp_path / "router_scores.json").exists()


def test_skip_errors(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "router_test.meta.jsonl").write_text(
        json.dumps({"index": 0, "task_name": "human_eval", "metric": "code_eval", "task_id": "HumanEval/999",
                    "ground_truth": ""}) + "\n"
        + json.dumps({"index": 1, "task_name": "mbpp", "metric": "code_eval", "task_id": "3",
                      "ground_truth": "['assert 1 == 1']"}) + "\n")
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"predict": "pass"}) + "\n" + json.dumps({"predict": "pass"}) + "\n")
    counted = score_predictions(preds, data)
    assert counted.tasks["human_eval"] == {"domain": "code", "n": 1, "errors": 1, "score": 0.0}
    assert counted.domains["code"]["score"] == 0.5
    skipped = score_predictions(preds, data, skip_errors=True)
    assert "human_eval" not in skipped.tasks and skipped.domains["code"]["score"] == 1.0


def test_test_gen_bad_inputs(test_log, tmp_path, log_helpers, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    missing = log_helpers["write_csv"](tmp_path / "m.csv", log_helpers["block"]("natural_qa", "q", "a"),
                                       columns=("task_name", "query", "llm"))
    empty = tmp_path / "e.csv"
    empty.write_text("")
    for argv in (["--input", str(test_log), "--save-path", str(afile)],
                 ["--input", str(missing), "--save-path", str(tmp_path / "o")],
                 ["--input", str(empty), "--save-path", str(tmp_path / "o")]):
        assert cli.main(["test-gen", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_score_refuses_without_an_os_sandbox(tmp_path, monkeypatch, capsys):
    from ft_core.sandbox import backends, forget_probes

    data = tmp_path / "d"
    data.mkdir()
    (data / "router_test.meta.jsonl").write_text(
        json.dumps({"index": 0, "task_name": "mbpp", "metric": "code_eval", "task_id": "3",
                    "ground_truth": "['assert f() == 1']"}) + "\n")
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"predict": "def f():\n    return 1\n"}) + "\n")
    forget_probes()
    monkeypatch.setattr(backends, "_probe", lambda name: f"{name}: simulated")
    monkeypatch.delenv("FT_SANDBOX_ALLOW_WEAK_ISOLATION", raising=False)
    try:
        assert cli.main(["score", "--predictions", str(preds), "--test", str(data)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "no OS sandbox" in err[0] and "allow_weak_isolation" in err[0], err
        assert not (tmp_path / "router_scores.json").exists()
        assert cli.main(["score", "--predictions", str(preds), "--test", str(data), "--allow-weak-isolation"]) == 0
        assert json.loads((tmp_path / "router_scores.json").read_text())["tasks"]["mbpp"]["score"] == 1.0
    finally:
        forget_probes()
