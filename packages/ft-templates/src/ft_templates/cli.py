"""Command line of ft-templates: ``ft-templates <verb> ...`` and ``ft templates <verb> ...``."""

from __future__ import annotations

from collections.abc import Sequence

from ft_core import Group

from . import __version__

cli = Group("ft-templates", "Chat-template registry, tool-call formats, reasoning policy and Jinja export for the ft toolkit.", version=__version__)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
