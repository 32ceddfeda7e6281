"""The allowed dependency edges: ARCHITECTURE.md §1, column "may import (internal)".

A new edge is a design change: change the table in ARCHITECTURE.md first, then this dict.
Keys and values are distribution names. ``ALL`` means any library of the table except the
entry itself and the unpublished test helpers.
"""

from __future__ import annotations

ALL = "*"

ALLOWED_EDGES: dict[str, frozenset[str]] = {
    "ft-core": frozenset(),
    "ft-templates": frozenset({"ft-core"}),
    "ft-data": frozenset({"ft-core", "ft-templates"}),
    "ft-models": frozenset({"ft-core"}),
    "ft-moe-convert": frozenset({"ft-core"}),
    "ft-train": frozenset({"ft-core", "ft-templates", "ft-data", "ft-models"}),
    "ft-merge": frozenset({"ft-core", "ft-data", "ft-models"}),
    "ft-serve": frozenset({"ft-core", "ft-templates", "ft-data", "ft-models"}),
    "ft-router-data": frozenset({"ft-core", "ft-data"}),
    "ft": frozenset({ALL}),
    # ARCHITECTURE.md allows ft-testing to import all libraries; docs/architecture.md narrows
    # its declared dependencies to core and models so that every library's isolated test
    # environment stays small (fixtures needing a higher library import it lazily).
    "ft-testing": frozenset({"ft-core", "ft-models"}),
}


def allowed(src: str, dst: str, table: dict[str, frozenset[str]] | None = None) -> bool:
    """Whether ``src`` may declare a dependency on ``dst``."""
    table = ALLOWED_EDGES if table is None else table
    targets = table.get(src, frozenset())
    if ALL in targets:
        return dst != src and dst in table and ALL not in table[dst] and dst != "ft-testing"
    return dst in targets
