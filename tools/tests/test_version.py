"""`version LIB --bump`: the library's version, its CHANGELOG, and the pins on it move together."""

from __future__ import annotations

import pytest
from _fake_workspace import write

from ft_tools.cli import main
from ft_tools.graph import check_graph
from ft_tools.version import bumped, series_spec, update_changelog
from ft_tools.workspace import load_workspace


def test_bumped():
    assert bumped("0.1.3", "patch") == "0.1.4"
    assert bumped("0.1.3", "minor") == "0.2.0"
    assert bumped("0.1.3", "major") == "1.0.0"
    with pytest.raises(ValueError, match="not MAJOR.MINOR.PATCH"):
        bumped("0.1", "patch")


def test_series_spec():
    assert series_spec("0.2.0") == ">=0.2,<0.3"
    assert series_spec("1.4.0") == ">=1.4,<2"


def test_minor_bump_moves_version_changelog_and_pins(fake_ws, capsys):
    assert main(["--root", str(fake_ws), "version", "ft-core", "--bump", "minor", "--no-lock"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ft-core 0.1.0 -> 0.2.0")
    ws = load_workspace(fake_ws)
    assert ws.members["ft-core"].version == "0.2.0"
    assert "ft-core>=0.2,<0.3" in ws.members["ft-data"].dependencies
    assert "ft-core==0.2.0" in ws.members["ft"].dependencies
    assert "packages/ft-templates/pyproject.toml: ft-core>=0.1,<0.2 -> ft-core>=0.2,<0.3" in out
    assert check_graph(ws) == []
    changelog = (fake_ws / "packages/ft-core/CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog of ft-core\n\n## Unreleased\n\n## 0.2.0 (")
    assert "- First version." in changelog and "(unreleased)" not in changelog


def test_patch_bump_keeps_ranges(fake_ws, capsys):
    assert main(["--root", str(fake_ws), "version", "ft-templates", "--bump", "patch", "--no-lock"]) == 0
    ws = load_workspace(fake_ws)
    assert ws.members["ft-templates"].version == "0.1.1"
    assert "ft-templates>=0.1,<0.2" in ws.members["ft-data"].dependencies
    assert "ft-templates==0.1.1" in ws.members["ft"].dependencies


def test_changelog_without_unreleased_section(tmp_path):
    path = write(tmp_path / "CHANGELOG.md", "# Changelog of x\n\n## 0.1.0 (2026-01-01)\n\n- First.\n")
    update_changelog(path, "0.1.1", "2026-02-02")
    assert path.read_text() == ("# Changelog of x\n\n## Unreleased\n\n## 0.1.1 (2026-02-02)\n\n"
                                "- No changes recorded.\n\n## 0.1.0 (2026-01-01)\n\n- First.\n")


def test_changelog_unreleased_heading(tmp_path):
    path = write(tmp_path / "CHANGELOG.md", "# C\n\n## Unreleased\n\n- Fix.\n\n## 0.1.0 (2026-01-01)\n")
    update_changelog(path, "0.1.1", "2026-02-02")
    assert path.read_text() == "# C\n\n## Unreleased\n\n## 0.1.1 (2026-02-02)\n\n- Fix.\n\n## 0.1.0 (2026-01-01)\n"


def test_unknown_library(fake_ws, capsys):
    assert main(["--root", str(fake_ws), "version", "ft-nope", "--bump", "patch"]) == 2
    assert "unknown library 'ft-nope'" in capsys.readouterr().err
