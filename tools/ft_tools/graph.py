"""The library graph from the declared dependencies, and its rules.

Edges come from ``[project] dependencies`` and ``optional-dependencies`` (runtime edges) and
from the ``test`` dependency group (test edges). Runtime edges must be allowed by
:mod:`ft_tools.rules`, must not form a cycle, and must admit the sibling's current version;
test edges may only add edges the table allows, or ft-testing.

Example:
    >>> problems = check_graph(load_workspace(root))   # [] when the graph is sound
    >>> topo_order(ws)[:2]
    ['ft-core', 'ft-templates']
"""

from __future__ import annotations

import re

from .rules import ALLOWED_EDGES, allowed
from .workspace import Workspace, requirement_name, requirement_spec

TEST_HELPER = "ft-testing"


def _release(version: str) -> tuple[int, ...]:
    nums = re.match(r"^\s*v?(\d+(?:\.\d+)*)", version)
    return tuple(int(x) for x in nums.group(1).split(".")) if nums else ()


def _cmp(a: str, b: str) -> int:
    ra, rb = _release(a), _release(b)
    n = max(len(ra), len(rb))
    ra, rb = ra + (0,) * (n - len(ra)), rb + (0,) * (n - len(rb))
    return (ra > rb) - (ra < rb)


def spec_admits(spec: str, version: str) -> bool:
    """Whether a PEP 440 specifier (release numbers only) admits ``version``:
    ``spec_admits(">=0.1,<0.2", "0.1.3")`` is True."""
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        m = re.match(r"^(===|==|!=|~=|>=|<=|>|<)\s*(\S+)$", clause)
        if not m:
            return False
        op, v = m.groups()
        if op in ("==", "===") and v.endswith(".*"):
            prefix = _release(v[:-2])
            ok = _release(version)[: len(prefix)] == prefix
        elif op == "~=":
            rel = _release(v)
            ok = _cmp(version, v) >= 0 and _release(version)[: len(rel) - 1] == rel[:-1]
        else:
            c = _cmp(version, v)
            ok = {"==": c == 0, "===": c == 0, "!=": c != 0, ">=": c >= 0,
                  "<=": c <= 0, ">": c > 0, "<": c < 0}[op]
        if not ok:
            return False
    return True


def find_cycle(edges: dict[str, tuple[str, ...]]) -> list[str] | None:
    """One dependency cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in edges.get(n, ()):
            if state.get(d) == 1:
                return [*stack[stack.index(d):], d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state and (found := visit(n)):
            return found
    return None


def runtime_edges(ws: Workspace) -> dict[str, tuple[str, ...]]:
    return {m.name: m.runtime_deps for m in ws.members.values()}


def check_graph(ws: Workspace, table: dict[str, frozenset[str]] | None = None) -> list[str]:
    """Every problem of the declared graph, one line each (empty when sound)."""
    table = ALLOWED_EDGES if table is None else table
    problems: list[str] = []
    for m in ws.members.values():
        where = ws.rel(m.path / "pyproject.toml")
        if m.name not in table:
            problems.append(f"{where}: {m.name} is not a library of the architecture table "
                            "(add it to ARCHITECTURE.md §1 and tools/ft_tools/rules.py first)")
            continue
        for dep in m.runtime_deps:
            if not allowed(m.name, dep, table):
                problems.append(f"{where}: forbidden edge {m.name} -> {dep} "
                                f"({m.name} may depend on: {_allowed_text(m.name, table)})")
        for dep in m.test_deps:
            if dep != TEST_HELPER and dep != m.name and not allowed(m.name, dep, table):
                problems.append(f"{where}: forbidden test edge {m.name} -> {dep} in dependency "
                                f"group 'test' (only {TEST_HELPER} or allowed libraries)")
        problems += _version_problems(ws, m.name)
    cycle = find_cycle(runtime_edges(ws))
    if cycle:
        problems.append("dependency cycle: " + " -> ".join(cycle))
    return problems


def _allowed_text(name: str, table: dict[str, frozenset[str]]) -> str:
    targets = sorted(table.get(name, ()))
    return ", ".join(targets) if targets else "nothing internal"


def _version_problems(ws: Workspace, name: str) -> list[str]:
    m = ws.members[name]
    where = ws.rel(m.path / "pyproject.toml")
    out = []
    reqs = list(m.dependencies) + [r for rs in m.extras.values() for r in rs]
    for req in reqs:
        dep, _ = requirement_name(req)
        if dep not in ws.members:
            continue
        spec, have = requirement_spec(req), ws.members[dep].version
        if not spec_admits(spec, have):
            out.append(f"{where}: {req!r} does not admit {dep} {have} from the workspace "
                       f"(update the specifier)")
        elif name == "ft" and not spec.startswith("=="):
            out.append(f"{where}: the umbrella pins its libraries exactly; write {dep}=={have}")
    return out


def topo_order(ws: Workspace) -> list[str]:
    """Members with dependencies first, ties by name (assumes no cycle)."""
    edges = runtime_edges(ws)
    done: list[str] = []

    def visit(n: str, seen: set[str]) -> None:
        if n in done or n in seen:
            return
        seen.add(n)
        for d in edges.get(n, ()):
            visit(d, seen)
        done.append(n)

    for n in sorted(edges):
        visit(n, set())
    return done


def closure(ws: Workspace, names: set[str], *, with_tests: bool = False) -> set[str]:
    """``names`` plus everything they depend on, transitively. With ``with_tests``, the test
    group's members (and what they depend on) are included: that is a test environment."""
    out: set[str] = set()
    todo = list(names)
    while todo:
        n = todo.pop()
        if n in out or n not in ws.members:
            continue
        out.add(n)
        m = ws.members[n]
        todo += list(m.runtime_deps) + (list(m.test_deps) if with_tests else [])
    return out


def dependents(ws: Workspace, names: set[str]) -> set[str]:
    """``names`` plus every member whose runtime or test environment contains one of them."""
    return {m for m in ws.members if closure(ws, {m}, with_tests=True) & names}


def render(ws: Workspace) -> str:
    """The graph as text, one line per member in dependency order."""
    width = max(len(n) for n in ws.members) if ws.members else 0
    lines = []
    for n in topo_order(ws):
        m = ws.members[n]
        deps = ", ".join(m.runtime_deps) or "-"
        tests = [d for d in m.test_deps if d not in m.runtime_deps]
        extra = f"   [test: {', '.join(tests)}]" if tests else ""
        flag = "" if m.published else "  (unpublished)"
        lines.append(f"{n:<{width}}  {m.version:<8} -> {deps}{extra}{flag}")
    return "\n".join(lines)
