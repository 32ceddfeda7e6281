"""build: every setting on hand-built logs, with the expected example lists written out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ft_router_data import build_sft
from ft_router_data.cli import cli

Q = "What is the capital of France?"
QT = Q + " Let's think step by step."
QS = Q + " ."  # the think query after cue removal: the period stays
QM = "Which letter? (A) a (B) b"
QC = "Write f. Tests: assert f(1) == 1"
GT_CODE = "['assert f(1) == 1']"
LABEL_CODE = "[BEGIN]\n ['assert f(1) == 1'] \n[DONE]"


def _capital(block):
    return block("natural_qa", Q, "Paris", {
        "qwen2-7b-instruct": ("1.0", "0.3", "50", "A1"),
        "gemma-7b_think": ("1", "1.0", "20", "A2"),
        "mistral-7b-instruct-v0.3": ("", "0.2", "500", "M1"),
        "deepseek-r1": ("1.0", "0.8", "80", "A3"),
        "deepseek-r1_think": ("0.0", "0.9", "200", "W1"),
        "palmyra-creative-122b": ("1.0", "0.6", "80", "A4"),
    })


def _mmlu(block):  # every response wrong: label only
    return block("mmlu", QM, "B", metric="em_mc")


def _code(block):
    return block("mbpp", QC, GT_CODE, {
        "codegemma-7b": ("{'pass@1': np.float64(1.0)}", "0.6", "30", "C1"),
        "granite-34b-code-instruct": ("{'pass@1': 1.0}", "0.3", "40", "C2"),
        "llama3-70b-instruct": ("{'pass@1': np.float64(0.0)}", "0.9", "90", "W2"),
    }, metric="code_eval", task_id=11)


@pytest.fixture
def log(tmp_path, log_helpers):
    b = log_helpers["block"]
    return log_helpers["write_csv"](tmp_path / "log.csv", _capital(b) + _mmlu(b) + _code(b))


E = {
    ("perf", 5): [(Q, "Paris"), (Q, "A3"), (Q, "A4"), (Q, "A1"), (QT, "A2"),
                  (QM, "(B)"),
                  (QC, LABEL_CODE), (QC, "C2"), (QC, "C1")],
    ("perf", 2): [(Q, "Paris"), (Q, "A3"), (Q, "A4"), (QM, "(B)"), (QC, LABEL_CODE), (QC, "C2"), (QC, "C1")],
    # judge: top-judged row is gemma-7b_think (stripped cue leaves " ."); stops at deepseek-r1_think (perf 0)
    ("judge", 5): [(QS, "Paris"), (QT, "A2"), (QM, "(B)"), (QC, LABEL_CODE)],
    ("hybrid", 3): [(QS, "Paris"), (QT, "A2"), (Q, "A3"), (Q, "A4"), (QM, "(B)"),
                    (QC, LABEL_CODE), (QC, "C1"), (QC, "C2")],
}


@pytest.mark.parametrize(("setting", "k"), list(E))
@pytest.mark.parametrize(("legacy", "low_memory"), [(False, False), (True, False), (False, True), (True, True)])
def test_settings(log, tmp_path, log_helpers, setting, k, legacy, low_memory):
    result = build_sft(log, tmp_path / "out", setting=setting, k=k, legacy_blocks=legacy, low_memory=low_memory)
    assert result.path.name == f"{setting}_sft_top_{k}.json"
    got = log_helpers["read_json"](result.path)
    assert got == [log_helpers["ex"](q, o) for q, o in E[(setting, k)]]
    assert result.stats["queries"] == 3


def test_judge_code_block_stops_at_first_wrong(log, tmp_path, log_helpers):
    # In the code block the top-judged row (llama3-70b, judge 0.9) failed: label only.
    got = log_helpers["read_json"](build_sft(log, tmp_path / "o", setting="judge", k=5).path)
    assert got[-1] == log_helpers["ex"](QC, LABEL_CODE)


def test_baseline_repeats_labels(log, tmp_path, log_helpers):
    result = build_sft(log, tmp_path / "o", setting="baseline", k=2)
    labels = [log_helpers["ex"](Q, "Paris"), log_helpers["ex"](QM, "(B)"), log_helpers["ex"](QC, LABEL_CODE)]
    assert log_helpers["read_json"](result.path) == labels * 3
    assert result.records == 9 and result.stats["candidates"] == 0


def test_small_skips_large_rows_without_stopping(log, tmp_path, log_helpers):
    ex = log_helpers["ex"]
    result = build_sft(log, tmp_path / "o", setting="judge", k=5, small=True)
    assert result.path.name == "judge_sft_top_5_small.json"
    # deepseek-r1_think (judge 0.9, perf 0) is large: skipped, it does not stop the walk;
    # mistral's missing performance does not stop it either.
    assert log_helpers["read_json"](result.path)[:4] == [ex(QS, "Paris"), ex(QT, "A2"), ex(Q, "A1"), ex(Q, "M1")]
    assert result.stats["skipped_rows_not_in_pool"] == 60
    perf = log_helpers["read_json"](build_sft(log, tmp_path / "p", setting="perf", k=5, small=True).path)
    assert perf[:3] == [ex(Q, "Paris"), ex(Q, "A1"), ex(QT, "A2")]


def test_models_file(log, tmp_path, log_helpers):
    models = tmp_path / "pool.txt"
    models.write_text("deepseek-r1\npalmyra-creative-122b\n")
    result = build_sft(log, tmp_path / "o", setting="perf", k=5, models=models)
    assert result.path.name == "perf_sft_top_5_pool.json"
    got = log_helpers["read_json"](result.path)
    ex = log_helpers["ex"]
    assert got[:3] == [ex(Q, "Paris"), ex(Q, "A3"), ex(Q, "A4")]


def test_grouping_by_query_ignores_row_layout(tmp_path, log_helpers):
    b = log_helpers["block"]
    blocks = [_capital(b), _mmlu(b), _code(b)]
    interleaved = [row for rows in zip(*blocks) for row in rows]  # order within each query kept
    path = log_helpers["write_csv"](tmp_path / "mixed.csv", interleaved[5:] + interleaved[:5])
    got = log_helpers["read_json"](build_sft(path, tmp_path / "o", setting="perf", k=5).path)
    expected = [log_helpers["ex"](q, o) for q, o in E[("perf", 5)]]
    # Same examples; queries in order of first appearance (the rotated file starts with a code row).
    order = {"(B)": 0, LABEL_CODE: 1, "Paris": 2}
    first = [r["output"] for r in got if r["output"] in order]
    assert first == [LABEL_CODE, "Paris", "(B)"]
    assert sorted(map(json.dumps, got)) == sorted(map(json.dumps, expected))


def test_missing_response_dropped_by_default_nan_in_legacy(tmp_path, log_helpers):
    b, ex = log_helpers["block"], log_helpers["ex"]
    rows = b("trivia_qa", "Who?", "Ada", {"qwen2-7b-instruct": ("1", "0", "90", ""),
                                           "gemma-7b": ("1", "0", "50", "B1")})
    path = log_helpers["write_csv"](tmp_path / "l.csv", rows)
    default = build_sft(path, tmp_path / "o1", setting="perf", k=5)
    assert log_helpers["read_json"](default.path) == [ex("Who?", "Ada"), ex("Who?", "B1")]
    assert default.stats["dropped_missing_response"] == 1
    legacy = build_sft(path, tmp_path / "o2", setting="perf", k=5, legacy_blocks=True)
    assert log_helpers["read_json"](legacy.path) == [ex("Who?", "Ada"), ex("Who?", "nan"), ex("Who?", "B1")]


def test_legacy_drops_trailing_partial_block(log, tmp_path, log_helpers):
    b = log_helpers["block"]
    rows = _capital(b) + _mmlu(b)[:39]
    path = log_helpers["write_csv"](tmp_path / "partial.csv", rows)
    legacy = build_sft(path, tmp_path / "o", setting="baseline", k=1, legacy_blocks=True)
    assert legacy.records == 2 and legacy.stats["dropped_partial_block_rows"] == 39
    grouped = build_sft(path, tmp_path / "g", setting="baseline", k=1)
    assert grouped.records == 4  # the 39-row query still counts when grouping by query
    assert grouped.stats["queries_without_40_rows"] == 1


def test_registry_keeps_other_entries(log, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "dataset_info.json").write_text(json.dumps({"identity": {"file_name": "identity.json"}}))
    build_sft(log, out, setting="perf", k=2)
    build_sft(log, out, setting="judge", k=2)
    info = json.loads((out / "dataset_info.json").read_text())
    assert list(info) == ["identity", "perf_sft_top_2", "judge_sft_top_2"]
    assert info["perf_sft_top_2"] == {"file_name": "perf_sft_top_2.json"}


def test_formats_agree(log, tmp_path, log_helpers):
    import polars as pl

    frame = pl.read_csv(log, infer_schema=False)
    frame.write_parquet(tmp_path / "log.parquet")
    with (tmp_path / "log.jsonl").open("w") as fh:
        for row in frame.iter_rows(named=True):
            # JSONL logs carry numbers as numbers and the code dicts as strings
            row = {k: (float(v) if k in ("output_tokens_num", "llm_judge") and v else v) for k, v in row.items()}
            fh.write(json.dumps(row) + "\n")
    texts = {fmt: build_sft(tmp_path / f"log.{fmt}", tmp_path / fmt, setting="hybrid", k=3).path.read_text()
             for fmt in ("parquet", "jsonl")}
    csv_text = build_sft(log, tmp_path / "csv", setting="hybrid", k=3).path.read_text()
    assert texts["parquet"] == csv_text == texts["jsonl"]


def test_json_layout(log, tmp_path):
    text = build_sft(log, tmp_path / "o", setting="perf", k=5).path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    assert not text.endswith("\n")


def test_non_ascii_kept(tmp_path, log_helpers):
    rows = log_helpers["block"]("natural_qa", "Où est le café — 数学?", "Zürich",
                                {"gemma-7b": ("1", "1", "5", "Zürich ✓")})
    path = log_helpers["write_csv"](tmp_path / "u.csv", rows)
    text = build_sft(path, tmp_path / "o", setting="perf", k=1).path.read_bytes().decode("utf-8")
    assert "Zürich ✓" in text and "数学" in text and "\\u" not in text


def test_unparseable_scores_counted(tmp_path, log_helpers, capsys):
    rows = log_helpers["block"]("natural_qa", "Q?", "A", {"gemma-7b": ("maybe", "0", "5", "x"),
                                                          "qwen2-7b-instruct": ("[1]", "0", "5", "y")})
    path = log_helpers["write_csv"](tmp_path / "u.csv", rows)
    result = build_sft(path, tmp_path / "o", setting="perf", k=2)
    report = result.stats["parsing"][0]
    assert report["unparseable"] == 2 and report["missing"] == 0
    assert [r for r, _ in report["examples"]] == [2, 6]
    assert cli.main(["build", "--input", str(path), "--save-path", str(tmp_path / "c")]) == 0
    assert "2 unparseable performance values treated as missing (row 2: '[1]', row 6: 'maybe')" in capsys.readouterr().out


# --- bad input: exit 2, one line, nothing written -------------------------------------------------

def _bad_cases(tmp_path: Path, log: Path, log_helpers) -> dict[str, list[str]]:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header = tmp_path / "header.csv"
    header.write_text(",".join(["task_name", "query"]) + "\n")
    missing = log_helpers["write_csv"](tmp_path / "missing.csv", log_helpers["block"]("natural_qa", "q", "a"),
                                       columns=("task_name", "query", "ground_truth", "llm", "performance"))
    words = log_helpers["block"]("natural_qa", "q", "a")
    for row in words:
        row["performance"] = "high"
    wrong = log_helpers["write_csv"](tmp_path / "wrong.csv", words)
    nested = tmp_path / "nested.jsonl"
    nested.write_text(json.dumps({"task_name": "x", "query": ["a"], "ground_truth": "a", "llm": "m", "performance": 1,
                                  "output_tokens_num": 1, "response": "r"}) + "\n")
    afile = tmp_path / "afile"
    afile.write_text("x")
    base = ["build", "--input", str(log), "--save-path"]
    return {
        "k0": [*base, str(tmp_path / "o"), "--k", "0"],
        "kneg": [*base, str(tmp_path / "o"), "--k", "-3"],
        "save_is_file": [*base, str(afile)],
        "empty": ["build", "--input", str(empty), "--save-path", str(tmp_path / "o")],
        "header_only": ["build", "--input", str(header), "--save-path", str(tmp_path / "o")],
        "missing_columns": ["build", "--input", str(missing), "--save-path", str(tmp_path / "o")],
        "wrong_types": ["build", "--input", str(wrong), "--save-path", str(tmp_path / "o")],
        "nested": ["build", "--input", str(nested), "--save-path", str(tmp_path / "o")],
        "no_file": ["build", "--input", str(tmp_path / "nope.csv"), "--save-path", str(tmp_path / "o")],
        "judge_without_column": ["build", "--input", str(missing), "--setting", "judge", "--save-path", str(tmp_path / "o")],
    }


@pytest.mark.parametrize("case", ["k0", "kneg", "save_is_file", "empty", "header_only", "missing_columns",
                                  "wrong_types", "nested", "no_file", "judge_without_column"])
def test_bad_input_exits_2_and_writes_nothing(log, tmp_path, log_helpers, capsys, case):
    argv = _bad_cases(tmp_path, log, log_helpers)[case]
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o").exists()
