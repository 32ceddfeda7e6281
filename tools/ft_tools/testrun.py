"""``test``: each library's tests in an environment holding only that library, its declared
dependencies and its ``test`` dependency group.

Each library gets its own virtual environment under ``.venvs/<dist>[-py<X.Y>]`` (gitignored),
synced exactly from ``uv.lock``::

    UV_PROJECT_ENVIRONMENT=.venvs/ft-data uv run --frozen --package ft-data --exact \\
        --no-default-groups --group test -- pytest packages/ft-data/tests

``--exact`` removes anything else, so an import of an undeclared library fails there. The
environments share uv's cache (hard links), so creating one costs about a second. The shared
``.venv`` is never touched.

A passing result is recorded in ``.ft-cache/test/`` under a hash of: the files of the library
and of every member in its test environment (transitively), ``uv.lock``, the root
``pyproject.toml`` (pytest configuration) and the Python version asked for. The next run with the
same hash skips the library (``--no-cache`` runs it anyway).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .graph import closure, topo_order
from .workspace import Workspace, member_files

CACHE_VERSION = "1"  # bump when the command below changes meaning
GLOBAL_INPUTS = ("uv.lock", "pyproject.toml", ".python-version")
NO_TESTS_COLLECTED = 5  # pytest's exit code


@dataclass
class Result:
    lib: str
    status: str  # "passed", "cached", "failed", "no tests"
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "cached")


def testable(ws: Workspace) -> list[str]:
    """Members that must have tests: published libraries and any member with a tests folder."""
    return [n for n in topo_order(ws) if ws.members[n].published or ws.members[n].tests.is_dir()]


def cache_key(ws: Workspace, lib: str, python: str | None) -> str:
    """Content hash of everything a library's test result depends on."""
    h = hashlib.sha256(f"v{CACHE_VERSION} python={python or 'default'}\n".encode())
    files: list[Path] = []
    for name in sorted(closure(ws, {lib}, with_tests=True)):
        files += member_files(ws.root, ws.members[name].path)
    files += [ws.root / f for f in GLOBAL_INPUTS if (ws.root / f).is_file()]
    for f in files:
        h.update(ws.rel(f).encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _tag(lib: str, python: str | None) -> str:
    # --python may be a version ("3.12") or an interpreter path: keep one safe path component.
    return f"{lib}-py{re.sub(r'[^A-Za-z0-9.]+', '_', python).strip('_')}" if python else lib


def _marker(ws: Workspace, lib: str, python: str | None, key: str) -> Path:
    return ws.root / ".ft-cache" / "test" / _tag(lib, python) / f"{key[:32]}.json"


def env_dir(ws: Workspace, lib: str, python: str | None) -> Path:
    return ws.root / ".venvs" / _tag(lib, python)


def isolated_command(ws: Workspace, lib: str, python: str | None, pytest_args: list[str]) -> list[str]:
    cmd = ["uv", "run", "--frozen", "--package", lib, "--exact", "--no-default-groups", "--group", "test"]
    if python:
        cmd += ["--python", python]
    return [*cmd, "--", "pytest", ws.rel(ws.members[lib].tests), *pytest_args]


def run_one(ws: Workspace, lib: str, *, python: str | None = None, use_cache: bool = True,
            pytest_args: list[str] | None = None, capture: bool = False) -> tuple[Result, str]:
    """Test one library; (result, captured output or '')."""
    m = ws.members[lib]
    if not m.tests.is_dir():
        return Result(lib, "no tests"), f"{lib}: no tests folder {ws.rel(m.tests)}\n"
    key = cache_key(ws, lib, python)
    marker = _marker(ws, lib, python, key)
    if use_cache and marker.exists():
        return Result(lib, "cached"), ""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PROJECT_ENVIRONMENT"] = str(env_dir(ws, lib, python))
    cmd = isolated_command(ws, lib, python, pytest_args or [])
    start = time.monotonic()
    if not capture:
        print(f"==> {lib}: {' '.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, cwd=ws.root, env=env, text=True,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None)
    seconds = time.monotonic() - start
    out = proc.stdout or ""
    if proc.returncode == 0:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"lib": lib, "python": python, "key": key,
                                      "seconds": round(seconds, 1), "at": time.time()}) + "\n")
        return Result(lib, "passed", seconds), out
    status = "no tests" if proc.returncode == NO_TESTS_COLLECTED else "failed"
    return Result(lib, status, seconds), out


def run_tests(ws: Workspace, libs: list[str], *, python: str | None = None, use_cache: bool = True,
              jobs: int = 1, pytest_args: list[str] | None = None) -> list[Result]:
    """Test several libraries (in parallel with ``jobs`` > 1) and print a summary."""
    def one(lib: str) -> Result:
        result, out = run_one(ws, lib, python=python, use_cache=use_cache,
                              pytest_args=pytest_args, capture=jobs > 1)
        if out:
            sys.stdout.write(out)
        if result.status == "cached":
            print(f"==> {lib}: unchanged since its last pass, skipped (--no-cache to run)", flush=True)
        return result

    if jobs > 1:
        with ThreadPoolExecutor(jobs) as pool:
            results = list(pool.map(one, libs))
    else:
        results = [one(lib) for lib in libs]
    print("\nsummary:")
    for r in results:
        print(f"  {r.lib:<16} {r.status:<9} {r.seconds:6.1f}s")
    return results
