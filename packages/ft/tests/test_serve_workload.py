"""The umbrella picks ft-serve's torch defaults for ft-serve's commands, without importing them."""

from __future__ import annotations

from ft.cli import _workload


def test_serve_commands_get_the_serve_workload():
    assert _workload(["api", "cfg.yaml"]) == "serve"
    assert _workload(["--debug", "chat"]) == "serve"
    assert _workload(["serve", "api"]) == "serve"
    assert _workload(["train", "cfg.yaml"]) == "train"
    assert _workload([]) == "train"
