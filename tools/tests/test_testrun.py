"""`test`: each library runs in an exact environment of its own (an undeclared import fails there),
and a passing result is skipped next time until an input changes."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from _fake_workspace import write, write_member

from ft_tools.cli import main
from ft_tools.testrun import cache_key, isolated_command
from ft_tools.workspace import load_workspace


def test_cache_key_follows_the_test_environment(fake_ws):
    key = lambda: cache_key(load_workspace(fake_ws), "ft-data", None)  # noqa: E731
    first = key()
    write(fake_ws / "packages/ft-models/src/ft_models/x.py", "X = 1\n")  # not in ft-data's env
    assert key() == first
    write(fake_ws / "packages/ft-templates/src/ft_templates/x.py", "X = 1\n")  # a dependency
    second = key()
    assert second != first
    write(fake_ws / "uv.lock", "version = 1\n")
    assert key() != second
    assert cache_key(load_workspace(fake_ws), "ft-data", "3.12") != key()


def test_command_is_exact_and_per_package(fake_ws):
    cmd = isolated_command(load_workspace(fake_ws), "ft-data", "3.12", ["-x"])
    assert cmd == ["uv", "run", "--frozen", "--package", "ft-data", "--exact", "--no-default-groups",
                   "--group", "test", "--python", "3.12", "--", "pytest", "packages/ft-data/tests", "-x"]


@pytest.fixture
def lockable_ws(fake_ws):
    """The fake workspace with tests in ft-templates and ft-data, locked offline from uv's cache."""
    for name, deps, src in [("ft-templates", ["ft-core>=0.1,<0.2"], "import ft_core\n"),
                            ("ft-data", ["ft-core>=0.1,<0.2", "ft-templates>=0.1,<0.2"],
                             "import ft_core\nimport ft_templates\n")]:
        write_member(fake_ws, name, deps, src, test_group=True)
    write(fake_ws / "packages/ft-templates/tests/test_ok.py", "import ft_templates\n\ndef test_ok():\n    pass\n")
    # ft-models is in the workspace (and in the shared .venv) but not declared by ft-data
    write(fake_ws / "packages/ft-data/tests/test_undeclared.py",
          "def test_undeclared():\n    import ft_models  # noqa: F401\n")
    proc = subprocess.run(["uv", "lock", "--offline", "-q"], cwd=fake_ws, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"uv cannot lock offline here: {proc.stderr.strip()[:200]}")
    yield fake_ws
    shutil.rmtree(fake_ws / ".venvs", ignore_errors=True)


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv")
def test_isolated_run_catches_undeclared_import_and_caches_passes(lockable_ws, capfd, monkeypatch):
    monkeypatch.setenv("UV_OFFLINE", "1")
    assert main(["--root", str(lockable_ws), "test", "ft-templates", "ft-data"]) == 1
    out = capfd.readouterr().out
    assert "ModuleNotFoundError: No module named 'ft_models'" in out
    assert "ft-templates     passed" in out and "ft-data          failed" in out
    assert main(["--root", str(lockable_ws), "test", "ft-templates"]) == 0
    assert "ft-templates     cached" in capfd.readouterr().out
    assert main(["--root", str(lockable_ws), "test", "ft-templates", "--no-cache"]) == 0
    assert "ft-templates     passed" in capfd.readouterr().out
