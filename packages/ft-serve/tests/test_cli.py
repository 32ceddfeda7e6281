"""ft-serve holds only its command line until the serving issue lands: it must answer
``--help`` and ``--version`` and offer no verb that pretends to work."""

from __future__ import annotations

from ft_serve import __version__
from ft_serve.cli import cli


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ft-serve {__version__}"


def test_help_lists_no_verbs(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ft-serve")
    assert cli.commands == []


def test_no_verb_is_bad_input(capsys):
    assert cli.main([]) == 2
