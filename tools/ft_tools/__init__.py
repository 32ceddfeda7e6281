"""The ft workspace build tool: graph, check, affected, test, matrix, build, version.

Run it as ``uv run tools/ft-build <verb>``; see docs/tools.md. Only the standard library is
used, so the tool also runs as ``python3 tools/ft-build graph`` before anything is synced
(``check`` needs ``lint-imports`` from the dev group).
"""

from .cli import main

__all__ = ["main"]
