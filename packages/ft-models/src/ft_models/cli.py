"""Command line of ft-models: ``ft-models <verb> ...`` and ``ft models <verb> ...``."""

from __future__ import annotations

from collections.abc import Sequence

from ft_core import Group

from . import __version__

cli = Group("ft-models", "Model and tokenizer loading (hub, local, GGUF, built-in aliases), adapters and LoRA merging for the ft toolkit.", version=__version__)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
