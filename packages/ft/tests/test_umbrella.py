"""The umbrella `ft` command mounts every library's CLI through the ft.commands entry points."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ft.cli import build_cli, discover_commands

LIBRARY_COMMANDS = {"templates", "data", "models", "moe-convert", "merge", "router-data", "serve"}


def test_every_library_is_mounted():
    names = {c.name for c in discover_commands()}
    assert LIBRARY_COMMANDS <= names
    assert {"version", "env", "train"} <= names


def test_version_lists_every_library(capsys):
    assert build_cli().main(["version"]) == 0
    out = capsys.readouterr().out
    for lib in ("ft ", "ft-core", "ft-data", "ft-moe-convert", "ft-router-data"):
        assert lib in out
    assert "0.1.0" in out and "not installed" not in out


def test_env_reports_torch_and_libraries(capsys):
    assert build_cli().main(["env"]) == 0
    out = capsys.readouterr().out
    for key in ("- Python:", "- torch:", "- CUDA:", "- transformers:", "- peft:", "- trl:", "- datasets:",
                "- accelerate:", "- vllm:", "- deepspeed:"):
        assert key in out


@pytest.mark.parametrize("lib", sorted(LIBRARY_COMMANDS))
def test_library_help_through_umbrella(lib, capsys):
    assert build_cli().main([lib, "--help"]) == 0
    assert f"ft {lib}" in capsys.readouterr().out


def test_console_script_version():
    out = subprocess.run([sys.executable, "-m", "ft", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ft 0.1.0"
