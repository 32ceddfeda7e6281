"""``python -m ft_merge ...`` = ``ft-merge ...``."""

from .cli import main

main()
