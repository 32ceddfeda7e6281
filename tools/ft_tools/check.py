"""``check``: the declared graph, import-linter's layers contract, and the import scan.

import-linter reads ``[tool.importlinter]`` of the root ``pyproject.toml``. It only needs the
packages to be findable, not installed, so it runs with every member's ``src/`` on
``PYTHONPATH``: the check does not depend on what the current environment has synced.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .graph import check_graph
from .scan import scan_workspace
from .workspace import Workspace


def lint_imports_command() -> list[str]:
    """``lint-imports`` of the running environment (the workspace dev group provides it)."""
    here = Path(sys.executable).parent / "lint-imports"
    exe = str(here) if here.exists() else shutil.which("lint-imports")
    if exe is None:
        raise FileNotFoundError("lint-imports not found: run through `uv run` (dev group has import-linter)")
    return [exe]


def run_lint_imports(ws: Workspace) -> tuple[bool, str]:
    """Run import-linter on the workspace; (passed, its output)."""
    paths = [str(m.path / "src") for m in ws.members.values() if (m.path / "src").is_dir()]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    proc = subprocess.run([*lint_imports_command(), "--config", str(ws.root / "pyproject.toml"),
                           "--no-cache"], cwd=ws.root, env=env, capture_output=True, text=True)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def run_check(ws: Workspace, table: dict[str, frozenset[str]] | None = None,
              *, lint: bool = True) -> list[str]:
    """Every problem found, one line each, printed per stage; [] when the workspace is sound."""
    problems: list[str] = []
    graph = check_graph(ws, table)
    _report("graph", graph)
    problems += graph
    scan = scan_workspace(ws, table)
    _report("import scan", scan)
    problems += scan
    if lint:
        ok, out = run_lint_imports(ws)
        if ok:
            print("lint-imports: ok")
        else:
            print(f"lint-imports: FAILED\n{out}")
            problems.append("lint-imports: the layers contract is broken (details above)")
    return problems


def _report(stage: str, problems: list[str]) -> None:
    if not problems:
        print(f"{stage}: ok")
        return
    print(f"{stage}: {len(problems)} problem(s)")
    for p in problems:
        print(f"  {p}")
