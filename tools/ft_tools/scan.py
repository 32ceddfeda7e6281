"""Static import scan: every import inside a library's ``src/`` must be declared.

For each ``import x`` / ``from x import y`` (absolute) in ``packages/<dist>/src/<module>/``:

- the library's own module and the standard library are fine;
- a workspace module (``ft_data``) must be a declared dependency of the library;
- a third-party module must be provided by a declared dependency (``[project] dependencies`` or
  an extra of ``optional-dependencies``); modules are mapped to distributions with
  :func:`importlib.metadata.packages_distributions` of the running environment (the workspace
  ``.venv``, which holds every library), falling back to the module name itself.

Exempt: imports under ``if TYPE_CHECKING:`` (not executed) and imports inside a ``try`` whose
handler catches ``ImportError``/``ModuleNotFoundError`` (optional by construction, e.g. the
umbrella's ``ft env`` probing for vllm). ft-testing may also import lazily, inside a function (a
fixture), a higher library or that library's dependencies: docs/architecture.md keeps its declared
dependencies to core and models, and such a fixture only runs in the environment of the library
it serves.

Example:
    >>> for p in scan_workspace(ws): print(p)
    packages/ft-core/src/ft_core/x.py:3: ft-core imports ft_data (ft-data) ...
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .rules import ALLOWED_EDGES, allowed
from .workspace import Member, Workspace, normalize

# Members whose function-level imports are fixtures' lazy imports (see the module docstring).
LAZY_IMPORTS_OK = {"ft-testing"}
# Import names whose distribution has another name, for packages that may not be installed in
# the scanning environment (an extra that is not synced, e.g. GPU-only ones).
KNOWN_ALIASES = {
    "yaml": "pyyaml", "PIL": "pillow", "sklearn": "scikit-learn", "cv2": "opencv-python",
    "bs4": "beautifulsoup4", "flash_attn": "flash-attn", "liger_kernel": "liger-kernel",
    "sse_starlette": "sse-starlette", "dateutil": "python-dateutil", "google": "protobuf",
}
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


@dataclass(frozen=True)
class Import:
    module: str  # top-level name
    file: Path
    line: int
    lazy: bool  # inside a function
    guarded: bool  # inside try/except ImportError
    type_checking: bool


class _Visitor(ast.NodeVisitor):
    def __init__(self, file: Path) -> None:
        self.file = file
        self.found: list[Import] = []
        self._lazy = self._guarded = self._tc = 0

    def _add(self, name: str, node: ast.AST) -> None:
        self.found.append(Import(name.split(".")[0], self.file, node.lineno,  # type: ignore[attr-defined]
                                 self._lazy > 0, self._guarded > 0, self._tc > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self._add(node.module, node)

    def _function(self, node: ast.AST) -> None:
        self._lazy += 1
        self.generic_visit(node)
        self._lazy -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Try(self, node: ast.Try) -> None:
        catches = any(_catches_import_error(h.type) for h in node.handlers)
        self._guarded += catches
        for stmt in node.body:
            self.visit(stmt)
        self._guarded -= catches
        for stmt in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(stmt)

    visit_TryStar = visit_Try

    def visit_If(self, node: ast.If) -> None:
        tc = _is_type_checking(node.test)
        self._tc += tc
        for stmt in node.body:
            self.visit(stmt)
        self._tc -= tc
        for stmt in node.orelse:
            self.visit(stmt)


def _catches_import_error(t: ast.expr | None) -> bool:
    if t is None:
        return True  # bare except
    names = t.elts if isinstance(t, ast.Tuple) else [t]
    return any((n.id if isinstance(n, ast.Name) else getattr(n, "attr", "")) in _IMPORT_ERRORS | {"Exception"}
               for n in names)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(file: Path) -> list[Import]:
    """Absolute imports of one Python file, with their context."""
    v = _Visitor(file)
    v.visit(ast.parse(file.read_bytes(), filename=str(file)))
    return v.found


@lru_cache(maxsize=1)
def _installed_map() -> dict[str, tuple[str, ...]]:
    return {k: tuple(normalize(d) for d in v) for k, v in md.packages_distributions().items()}


def distributions_for(module: str) -> set[str]:
    """Normalized distribution names that may provide a top-level module."""
    out = set(_installed_map().get(module, ()))
    out.add(normalize(KNOWN_ALIASES.get(module, module)))
    return out


def scan_member(ws: Workspace, m: Member, table: dict[str, frozenset[str]] | None = None) -> list[str]:
    """Problems of one member's imports, one line per undeclared module (with every place)."""
    table = ALLOWED_EDGES if table is None else table
    internal = ws.module_to_member()
    declared = m.declared(with_extras=True)
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad: dict[str, list[str]] = {}  # module -> places
    problems = []
    files = sorted(m.src.rglob("*.py")) if m.src.is_dir() else []
    for f in files:
        try:
            found = imports_of(f)
        except SyntaxError as e:
            problems.append(f"{ws.rel(f)}:{e.lineno}: syntax error: {e.msg}")
            continue
        for imp in found:
            if imp.type_checking or imp.module == m.module or imp.module in stdlib or imp.guarded:
                continue
            if imp.lazy and m.name in LAZY_IMPORTS_OK:
                continue
            if imp.module in internal:
                if internal[imp.module] in declared:
                    continue
            elif distributions_for(imp.module) & declared:
                continue
            bad.setdefault(imp.module, []).append(f"{ws.rel(imp.file)}:{imp.line}")
    pyproject = f"{ws.rel(m.path)}/pyproject.toml"
    for module, places in sorted(bad.items()):
        where = places[0] + (f" (and {len(places) - 1} more: {', '.join(places[1:4])}"
                             f"{', ...' if len(places) > 4 else ''})" if len(places) > 1 else "")
        dep = internal.get(module)
        if dep and m.name in table and not allowed(m.name, dep, table):
            problems.append(f"{where}: forbidden import: {m.name} imports {module}, but {m.name} may "
                            f"not depend on {dep} (ARCHITECTURE.md section 1, layers)")
        elif dep:
            problems.append(f"{where}: {m.name} imports {module} but does not declare {dep}: add it to "
                            f"[project] dependencies of {pyproject}")
        else:
            dists = "/".join(sorted(distributions_for(module)))
            problems.append(f"{where}: {m.name} imports {module}, but its distribution ({dists}) is not "
                            f"a declared dependency: add it to [project] dependencies (or an extra) of "
                            f"{pyproject}")
    return problems


def scan_workspace(ws: Workspace, table: dict[str, frozenset[str]] | None = None) -> list[str]:
    return [p for m in ws.members.values() for p in scan_member(ws, m, table)]
