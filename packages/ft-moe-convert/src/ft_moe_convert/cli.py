"""Command line of ft-moe-convert: ``ft-moe-convert <verb> ...`` and ``ft moe-convert <verb> ...``."""

from __future__ import annotations

from collections.abc import Sequence

from ft_core import Group

from . import __version__

cli = Group("ft-moe-convert", "Streamed Mixture-of-Experts checkpoint conversion between per-expert, stacked and fused expert layouts.", version=__version__)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
