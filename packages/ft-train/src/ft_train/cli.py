"""Command line of ft-train: ``ft-train <verb> ...`` and ``ft train <verb> ...``."""

from __future__ import annotations

from collections.abc import Sequence

from ft_core import Group

from . import __version__

cli = Group("ft-train", "Training stages (pt, sft, ...), checkpoints and resume, export and evaluation for the ft toolkit.", version=__version__)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
