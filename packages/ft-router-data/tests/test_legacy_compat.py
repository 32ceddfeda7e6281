"""--legacy-blocks: byte-for-byte the reference's output (checked against reference-style runs)."""

from __future__ import annotations

import pytest

from ft_router_data import build_sft, generate_test_set
from ft_testing.routing_logs import write_routing_log


@pytest.fixture(scope="module")
def fusion_log(tmp_path_factory):
    # 30 queries of all 14 tasks, missing values, code dicts, non-ASCII, a trailing partial block.
    path = tmp_path_factory.mktemp("log") / "router_data.csv"
    write_routing_log(path, n_queries=30, seed=3, missing_rate=0.05)
    with path.open("a", encoding="utf-8") as fh:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        fh.writelines(lines[1:8])  # 7 more rows: a partial block the reference ignores
    return path


CASES = [(s, k, small) for s in ("perf", "judge", "hybrid", "baseline") for k, small in ((1, False), (5, False), (3, True))]


@pytest.mark.parametrize(("setting", "k", "small"), CASES)
def test_same_bytes_as_reference_python(fusion_log, tmp_path, reference_impl, setting, k, small):
    expected = reference_impl.reference_python(str(fusion_log), setting, k, small).encode("utf-8")
    for low_memory in (False, True):
        ours = build_sft(fusion_log, tmp_path, setting=setting, k=k, small=small, legacy_blocks=True,
                         low_memory=low_memory).path.read_bytes()
        assert ours == expected


@pytest.mark.parametrize(("setting", "k", "small"), [("perf", 5, False), ("judge", 3, True), ("hybrid", 2, False),
                                                     ("baseline", 4, False)])
def test_same_bytes_as_reference_pandas(fusion_log, tmp_path, reference_impl, setting, k, small):
    pytest.importorskip("pandas")
    ours = build_sft(fusion_log, tmp_path, setting=setting, k=k, small=small, legacy_blocks=True).path.read_bytes()
    assert ours == reference_impl.reference_pandas(str(fusion_log), setting, k, small).encode("utf-8")


def _typed_log(tmp_path, log_helpers, gts, responses):
    rows = []
    for i, (gt, response) in enumerate(zip(gts, responses)):
        rows += log_helpers["block"]("natural_qa", f"Q{i}?", gt, {"gemma-7b": ("1", "1", "9", response)})
    return log_helpers["write_csv"](tmp_path / "typed.csv", rows)


@pytest.mark.parametrize(("gts", "responses"), [
    (["1945", "007"], ["42", "3.50"]),  # whole columns of numbers: pandas types them
    (["1945", ""], ["1e3", "None"]),  # ints with a missing cell become floats; NA markers become nan
    (["true", "False"], ["TRUE", "x"]),  # booleans
    (["NA", "Paris"], ["null", "-nan"]),
])
def test_pandas_cell_typing(tmp_path, log_helpers, reference_impl, gts, responses):
    pytest.importorskip("pandas")
    path = _typed_log(tmp_path, log_helpers, gts, responses)
    ours = build_sft(path, tmp_path / "o", setting="perf", k=2, legacy_blocks=True).path.read_text(encoding="utf-8")
    assert ours == reference_impl.reference_pandas(str(path), "perf", 2, False)


def test_test_gen_legacy_matches_reference(fusion_log, tmp_path):
    pd = pytest.importorskip("pandas")
    import json

    result = generate_test_set(fusion_log, tmp_path, legacy_blocks=True)
    df = pd.read_csv(fusion_log)
    expected = [{"instruction": "Answer the following questions as required.", "input": str(df.iloc[i * 40]["query"]),
                 "output": str(df.iloc[i * 40]["ground_truth"])} for i in range(len(df) // 40)]
    assert result.path.read_text(encoding="utf-8") == json.dumps(expected, ensure_ascii=False, indent=2)


def test_random_blocks_match_reference(tmp_path_factory, log_helpers, reference_impl):
    """Ties, missing and odd values in random 40-row blocks: legacy output == the reference's."""
    pytest.importorskip("pandas")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    perf = st.sampled_from(["0.0", "1.0", "1", "", "0.5", "nan", "{'pass@1': np.float64(1.0)}", "{'pass@1': 0.0}",
                            "oops"])
    judge = st.sampled_from(["", "0.3", "0.8", "1.0", "0", "None"])
    tokens = st.sampled_from(["", "5", "10", "10.0", "x"])
    response = st.sampled_from(["r", "", "None", "é ✓", "NA"])
    cell = st.tuples(perf, judge, tokens, response)
    block = st.tuples(st.sampled_from(["natural_qa", "mmlu", "mbpp"]), st.lists(cell, min_size=40, max_size=40))

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(blocks=st.lists(block, min_size=1, max_size=3), setting=st.sampled_from(["perf", "judge", "hybrid", "baseline"]),
           k=st.integers(1, 4), small=st.booleans())
    def check(blocks, setting, k, small):
        tmp = tmp_path_factory.mktemp("h")
        rows = []
        for i, (task, cells) in enumerate(blocks):
            llms = [r["llm"] for r in log_helpers["block"](task, "q", "a")]
            rows += log_helpers["block"](task, f"Q{i}? Let's think step by step.", "B" if task == "mmlu" else "gt",
                                         dict(zip(llms, cells)))
        path = log_helpers["write_csv"](tmp / "log.csv", rows)
        ours = build_sft(path, tmp / "o", setting=setting, k=k, small=small, legacy_blocks=True).path.read_text(
            encoding="utf-8")
        assert ours == reference_impl.reference_pandas(str(path), setting, k, small)

    check()
