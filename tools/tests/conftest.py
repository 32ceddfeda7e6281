"""Fixtures of the build tool's tests: a fake workspace in a temporary directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# ft_tools is not an installed distribution (it sits beside tools/ft-build), and the fake
# workspace writers sit beside this file.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from _fake_workspace import LIBS, ROOT_PYPROJECT, git, write, write_member  # noqa: E402


@pytest.fixture
def fake_ws(tmp_path: Path) -> Path:
    """Root of a fresh fake workspace whose declared graph and imports are sound."""
    root = tmp_path / "ws"
    sources = "\n".join(f"{n} = {{ workspace = true }}" for n in LIBS)
    write(root / "pyproject.toml", ROOT_PYPROJECT.format(sources=sources))
    for name, (deps, source) in LIBS.items():
        write_member(root, name, deps, source)
    return root


@pytest.fixture
def fake_repo(fake_ws: Path) -> Path:
    """The fake workspace as a git repository with one commit on branch main."""
    git(fake_ws, "init", "-q", "-b", "main")
    git(fake_ws, "add", "-A")
    git(fake_ws, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    return fake_ws
