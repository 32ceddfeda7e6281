"""Command line of ft-router-data: ``ft-router-data <verb> ...`` and ``ft router-data <verb> ...``."""

from __future__ import annotations

from collections.abc import Sequence

from ft_core import Group

from . import __version__

cli = Group("ft-router-data", "Multi-LLM routing logs to router SFT data, test sets and scores (model-level fusion).", version=__version__)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
