"""Command line of ft-data: ``ft-data <verb> ...`` and ``ft data <verb> ...``."""

from __future__ import annotations

from collections.abc import Sequence

from ft_core import Group

from . import __version__

cli = Group("ft-data", "Dataset registry (dataset_info.json), loaders, format alignment, stage processors, collators and validation reports for the ft toolkit.", version=__version__)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
