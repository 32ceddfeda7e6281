"""`affected` and `matrix`: changed libraries plus their dependents, as text and as CI JSON."""

from __future__ import annotations

import json

from _fake_workspace import git, write

from ft_tools.cli import main


def run(root, capsys, *args) -> tuple[int, str]:
    code = main(["--root", str(root), *args])
    return code, capsys.readouterr().out


def test_nothing_changed(fake_repo, capsys):
    assert run(fake_repo, capsys, "affected", "--base", "main") == (0, "\n")


def test_change_reaches_dependents_in_order(fake_repo, capsys):
    write(fake_repo / "packages/ft-templates/src/ft_templates/__init__.py", "import ft_core\nX = 1\n")
    code, out = run(fake_repo, capsys, "affected", "--base", "main")
    assert code == 0 and out.split() == ["ft-templates", "ft-data", "ft"]


def test_committed_and_untracked_changes_count(fake_repo, capsys):
    git(fake_repo, "checkout", "-q", "-b", "feature")
    write(fake_repo / "packages/ft-models/src/ft_models/new.py", "X = 1\n")  # untracked
    _, out = run(fake_repo, capsys, "affected", "--base", "main", "--json")
    assert json.loads(out) == ["ft-models", "ft"]
    git(fake_repo, "add", "-A")
    git(fake_repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "models")
    assert json.loads(run(fake_repo, capsys, "affected", "--base", "main", "--json")[1]) == ["ft-models", "ft"]


def test_lock_change_affects_everything(fake_repo, capsys):
    write(fake_repo / "uv.lock", "version = 1\n")
    out = run(fake_repo, capsys, "affected", "--base", "main")[1]
    assert out.split() == ["ft-core", "ft-templates", "ft-data", "ft-models", "ft"]


def test_docs_change_affects_nothing(fake_repo, capsys):
    write(fake_repo / "docs/guide.md", "# guide\n")
    assert run(fake_repo, capsys, "affected", "--base", "main")[1].split() == []


def test_unknown_base_is_bad_input(fake_repo, capsys):
    assert main(["--root", str(fake_repo), "affected", "--base", "nope"]) == 2
    assert "error: git merge-base nope HEAD" in capsys.readouterr().err


def test_matrix_lists_every_library(fake_repo, capsys):
    code, out = run(fake_repo, capsys, "matrix")
    assert code == 0
    assert json.loads(out) == {"lib": ["ft-core", "ft-templates", "ft-data", "ft-models", "ft"],
                               "python": ["3.10", "3.11", "3.12", "3.13"]}


def test_matrix_of_affected_libraries(fake_repo, capsys):
    write(fake_repo / "packages/ft-data/src/ft_data/x.py", "X = 1\n")
    out = run(fake_repo, capsys, "matrix", "--affected", "--base", "main", "--python", "3.12")[1]
    assert json.loads(out) == {"lib": ["ft-data", "ft"], "python": ["3.12"]}


def test_matrix_affected_needs_base(fake_repo, capsys):
    assert main(["--root", str(fake_repo), "matrix", "--affected"]) == 2
    assert "--affected needs --base" in capsys.readouterr().err
