"""``build``: sdists and wheels of every member, then each published wheel installed outside the
workspace, imported, and its CLIs asked for ``--help``.

1. ``uv build --all-packages --no-sources -o dist/``: workspace sources are off, so a wheel that
   only works thanks to the workspace fails here.
2. For each published library (not ft-testing), a fresh venv in a temporary directory outside
   the workspace gets that wheel and the wheels of its declared siblings, by path (so a
   same-named project on PyPI can never stand in), and third-party packages from the index,
   constrained to the versions of ``uv.lock`` (``uv export``): the versions the tests passed with.
   The root's ``[[tool.uv.dependency-metadata]]`` entries are passed on as a uv config file (the
   embedded model's wheel declares dependencies it does not need; see docs/tools.md).
3. In that venv: ``uv pip check``, then ``<script> --help`` for every ``[project.scripts]`` entry
   (which imports the package), or ``python -I -c "import <module>"`` for a library without one.

One fresh venv per library proves each installs and imports alone. Installing is cheap (uv's
cache hard-links the files); importing torch/transformers in a new venv is not, because Python
compiles every module it imports. So each worker ("slot") recreates its venv at one fixed path and
keeps bytecode in a slot-wide ``PYTHONPYCACHEPREFIX``: the venv is new for every library, but a
module whose source is the same hard-linked file (same path, size and mtime) is compiled once per
slot. ``jobs`` slots run side by side.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .graph import closure, topo_order
from .workspace import Member, Workspace


class BuildError(Exception):
    pass


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def _env() -> dict[str, str]:
    # Outside the workspace nothing of its environment may leak in.
    drop = {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def build_dists(ws: Workspace, out: Path) -> None:
    """Build every member's sdist and wheel into ``out`` (emptied first)."""
    shutil.rmtree(out, ignore_errors=True)
    code, log = _run(["uv", "build", "--all-packages", "--no-sources", "-o", str(out)], cwd=ws.root,
                     env=_env())
    if code != 0:
        raise BuildError(f"uv build failed:\n{log}")


def wheel_of(m: Member, out: Path) -> Path:
    found = sorted(out.glob(f"{m.module}-{m.version}-*.whl"))
    if not found:
        raise BuildError(f"no wheel for {m.name} {m.version} in {out}")
    return found[0]


def _uv_config(ws: Workspace, path: Path) -> None:
    lines = []
    for entry in ws.dependency_metadata:
        lines.append("[[dependency-metadata]]")
        for k, v in entry.items():
            value = "[" + ", ".join(f'"{x}"' for x in v) + "]" if isinstance(v, list) else f'"{v}"'
            lines.append(f"{k} = {value}")
    path.write_text("\n".join(lines) + "\n")


def smoke(ws: Workspace, lib: str, dist: Path, slot: Path, constraints: Path, config: Path,
          python: str) -> tuple[bool, str]:
    """Install one library's wheel alone into a fresh venv (``slot/venv``) and exercise it; (ok, log)."""
    m = ws.members[lib]
    venv = slot / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    env = dict(_env(), PYTHONPYCACHEPREFIX=str(slot / "pycache"))
    wheels = [str(wheel_of(ws.members[n], dist)) for n in sorted(closure(ws, {lib}))]
    steps = [
        ["uv", "venv", "-q", "--python", python, str(venv)],
        ["uv", "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--config-file",
         str(config), "-c", str(constraints), *wheels],
        ["uv", "pip", "check", "-q", "--python", str(venv / "bin" / "python")],
        # A console script imports its package first (``ft_train.cli`` imports ``ft_train``), so
        # `<script> --help` is also the import check; importing torch twice would double the time.
        *([[str(venv / "bin" / script), "--help"] for script in sorted(m.scripts)]
          or [[str(venv / "bin" / "python"), "-I", "-c", f"import {m.module}"]]),
    ]
    log = []
    for cmd in steps:
        code, out = _run(cmd, cwd=slot, env=env)
        shown = " ".join(Path(c).name if c.startswith(str(slot)) else c for c in cmd[:6])
        if code != 0:
            return False, "\n".join([*log, f"FAILED: {shown} ...", out])
        log.append(f"ok: {shown}")
    return True, "\n".join(log)


def run_build(ws: Workspace, *, jobs: int = 2, keep: bool = False, python: str | None = None) -> bool:
    """The whole build verb; prints one line per library, returns whether everything passed."""
    dist = ws.root / "dist"
    start = time.monotonic()
    build_dists(ws, dist)
    print(f"built {len(list(dist.glob('*.whl')))} wheels and {len(list(dist.glob('*.tar.gz')))} "
          f"sdists into {ws.rel(dist)}/ ({time.monotonic() - start:.0f}s)", flush=True)
    libs = [n for n in topo_order(ws) if ws.members[n].published]
    tmp = Path(tempfile.mkdtemp(prefix="ft-build-"))
    try:
        constraints, config = tmp / "constraints.txt", tmp / "uv.toml"
        # Extras in a declared conflict (vLLM pins its own torch) cannot be exported with the dev
        # group; the smoke installs never install extras, so they need no constraints.
        no_extras = [arg for extra in ws.conflicting_extras() for arg in ("--no-extra", extra)]
        code, log = _run(["uv", "export", "--frozen", "--all-packages", "--all-extras", *no_extras, "--no-hashes",
                          "--no-emit-workspace", "--no-header", "--no-annotate", "-q", "-o",
                          str(constraints)], cwd=ws.root, env=_env())
        if code != 0:
            raise BuildError(f"uv export failed:\n{log}")
        _uv_config(ws, config)
        slots: queue.Queue[Path] = queue.Queue()
        for i in range(max(1, jobs)):
            (tmp / f"slot{i}").mkdir()
            slots.put(tmp / f"slot{i}")

        def one(lib: str) -> bool:
            t = time.monotonic()
            slot = slots.get()
            try:
                ok, log = smoke(ws, lib, dist, slot, constraints, config, python or sys.executable)
            finally:
                slots.put(slot)
            print(f"{'ok' if ok else 'FAILED':<6} {lib:<16} {time.monotonic() - t:5.1f}s", flush=True)
            if not ok:
                print("  " + log.replace("\n", "\n  "), flush=True)
            return ok

        with ThreadPoolExecutor(max(1, jobs)) as pool:
            results = list(pool.map(one, libs))
    finally:
        if keep:
            print(f"the last venv of each slot is kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"build: {sum(results)}/{len(results)} libraries install alone and answer --help "
          f"({time.monotonic() - start:.0f}s)")
    return all(results)
