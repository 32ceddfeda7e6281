"""run.json and plain progress lines."""

from __future__ import annotations

import json
import logging

import pytest

from ft_core import RunRecorder, ft_home, library_versions, progress


def test_run_json_contents(tmp_path):
    with RunRecorder(tmp_path, config={"stage": "sft", "lora_rank": 8}) as rec:
        rec.metrics["train_loss"] = 1.25
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["config"] == {"stage": "sft", "lora_rank": 8}
    assert info["status"] == "ok"
    assert info["metrics"] == {"train_loss": 1.25}
    assert info["versions"]["ft-core"] == "0.1.0"
    assert "pydantic" not in info["versions"]
    assert info["host"]["cpu_count"] >= 1
    assert info["elapsed_s"] >= 0
    assert info["started_at"] <= info["ended_at"]


def test_run_json_marks_failure(tmp_path):
    with pytest.raises(KeyError), RunRecorder(tmp_path, config={}):
        raise KeyError("x")
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "failed"


def test_library_versions_include_torch_when_installed():
    versions = library_versions()
    assert "ft-core" in versions


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_progress_plain_lines(monkeypatch):
    monkeypatch.setenv("FT_PLAIN_PROGRESS", "1")
    collect = _Collect()
    logger = logging.getLogger("ft.progress")
    logger.addHandler(collect)
    try:
        assert list(progress(range(5), description="shards", log_every_s=0.0)) == [0, 1, 2, 3, 4]
    finally:
        logger.removeHandler(collect)
    assert len(collect.lines) == 5
    assert collect.lines[-1].startswith("shards: 5/5 (")


def test_ft_home(monkeypatch, tmp_path):
    monkeypatch.setenv("FT_HOME", str(tmp_path / "h"))
    assert ft_home() == tmp_path / "h"
    monkeypatch.delenv("FT_HOME")
    assert ft_home().name == "ft"
