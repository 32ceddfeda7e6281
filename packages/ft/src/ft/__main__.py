"""``python -m ft`` runs the ``ft`` command."""

from ft.cli import main

main()
