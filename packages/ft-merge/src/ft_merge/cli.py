"""Command line of ft-merge: ``ft-merge <verb> ...`` and ``ft merge <verb> ...``."""

from __future__ import annotations

from collections.abc import Sequence

from ft_core import Group

from . import __version__

cli = Group("ft-merge", "Model merging (task arithmetic, TIES, DARE, SparseGPT-guided TIES, ...) in one streaming pass, with evaluation.", version=__version__)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
