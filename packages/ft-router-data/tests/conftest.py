"""Hand-built routing logs for the ft-router-data tests."""

from __future__ import annotations

import csv
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ft_testing.routing_logs import ROUTING_LLMS, ROUTING_LOG_COLUMNS

LLMS40 = [m + s for m in ROUTING_LLMS for s in ("", "_think")]
CUE = "Let's think step by step."


def block(task: str, query: str, gt: str, rows: dict[str, tuple] | None = None, *,
          metric: str = "cem", task_id: Any = "") -> list[dict[str, Any]]:
    """40 rows of one query; ``rows[llm] = (performance, llm_judge, output_tokens_num, response)``.

    Rows not named get performance 0.0, judge 0.0, 1 token and response ``r:<llm>``.
    """
    out = []
    for llm in LLMS40:
        perf, judge, tokens, response = (rows or {}).get(llm, ("0.0", "0.0", "1", f"r:{llm}"))
        out.append({
            "task_name": task, "task_id": task_id, "task_description": f"{task} task",
            "task_description_embedding": "", "query": query + (" " + CUE if llm.endswith("_think") else ""),
            "query_embedding": "", "ground_truth": gt, "metric": metric, "llm": llm,
            "input_price": "0.2", "output_price": "0.2", "input_tokens_num": "10",
            "output_tokens_num": tokens, "performance": perf, "cost": "4.0", "response": response,
            "llm_description": "an llm", "llm_judge": judge,
        })
    return out


def write_csv(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...] = ROUTING_LOG_COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def ex(query: str, output: str) -> dict[str, str]:
    """One expected Alpaca record."""
    return {"instruction": "Answer the following questions as required.", "input": query, "output": output}


@pytest.fixture
def log_helpers() -> dict[str, Callable[..., Any]]:
    return {"block": block, "write_csv": write_csv, "read_json": read_json, "ex": ex}


@pytest.fixture(scope="session")
def reference_impl():
    """The reference-style baselines of benchmarks/reference_impl.py."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "reference_impl.py"
    spec = importlib.util.spec_from_file_location("ft_router_data_reference_impl", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
