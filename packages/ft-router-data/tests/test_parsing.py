"""Parsing performance / llm_judge cells: every case of the spec, and the counts."""

from __future__ import annotations

import math

import polars as pl
import pytest

from ft_router_data.parsing import is_missing_cell, parse_number_series, parse_score, parse_score_series


@pytest.mark.parametrize(("value", "expected"), [
    (1.0, 1.0), (0, 0.0), (True, 1.0), ("1", 1.0), ("0.0", 0.0), (" 0.5 ", 0.5), ("1e0", 1.0), ("-0", 0.0),
    ("{'pass@1': np.float64(1.0)}", 1.0), ("{'pass@1': np.float64(0.0)}", 0.0), ("{'pass@1': 1.0}", 1.0),
    ("{'pass@1': 0}", 0.0), ("{'pass@1': np.float64(0.5), 'pass@10': np.float64(1.0)}", 0.5),
    ({"pass@1": 1.0}, 1.0), ('{"pass@1": 1.0}', 1.0),
    ("", None), (None, None), (float("nan"), None), ("nan", None), ("NaN", None), ("None", None),
    ("{'pass@10': 1.0}", None), ("[1.0]", None), ("maybe", None), ("{'pass@1': 'x'}", None), ("{broken", None),
])
def test_parse_score(value, expected):
    assert parse_score(value) == expected


def test_missing_versus_unparseable():
    assert is_missing_cell("") and is_missing_cell("NA") and is_missing_cell(float("nan")) and is_missing_cell(None)
    assert not is_missing_cell("maybe") and not is_missing_cell("0")


def test_series_counts_and_examples():
    raw = pl.Series("performance", ["1.0", "{'pass@1': np.float64(1.0)}", "", None, "oops", "0", "NaN", "[1]",
                                    "{'pass@1': np.float64(1.0)}"])
    values, report = parse_score_series(raw)
    assert values.to_list() == [1.0, 1.0, None, None, None, 0.0, None, None, 1.0]
    assert (report.parsed, report.missing, report.unparseable) == (4, 3, 2)
    assert report.examples == [(5, "oops"), (8, "[1]")]


def test_inf_and_negative_scores_kept():
    values, report = parse_score_series(pl.Series("llm_judge", ["inf", "-1", "0.8"]))
    assert values[0] == math.inf and values.to_list()[1:] == [-1.0, 0.8] and report.unparseable == 0


def test_token_counts():
    assert parse_number_series(pl.Series(["12", " 7 ", "x", None, "3.0"])).to_list() == [12.0, 7.0, None, None, 3.0]
