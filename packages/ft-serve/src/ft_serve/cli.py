"""Command line of ft-serve: ``ft-serve <verb> ...`` and ``ft serve <verb> ...``."""

from __future__ import annotations

from collections.abc import Sequence

from ft_core import Group

from . import __version__

cli = Group("ft-serve", "Inference engines, chat CLI and an OpenAI-compatible API for the ft toolkit.", version=__version__)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
