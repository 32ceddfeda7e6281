"""``affected``: the libraries changed since a git revision, plus everything that depends on them.

"Changed" compares the merge base of REV and HEAD with the working tree (committed, staged and
unstaged changes, and untracked files that git does not ignore), so it answers both "what does
this branch touch" in CI and "what did I touch" locally. A change to a workspace-wide file
(``uv.lock``, the root ``pyproject.toml``) affects every library. "Depends on" includes the
test environment: a change to ft-testing affects every library whose tests use it.

Example:
    >>> affected(ws, "origin/main")
    ['ft-data', 'ft-merge', 'ft-router-data', 'ft-serve', 'ft-train', 'ft']
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .graph import dependents, topo_order
from .workspace import Workspace

# Files whose change can alter every library's environment or test configuration.
GLOBAL_FILES = ("uv.lock", "pyproject.toml", ".python-version")


class GitError(Exception):
    pass


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {proc.stderr.strip() or 'failed'}")
    return proc.stdout


def changed_files(root: Path, base: str) -> list[str]:
    """Paths (relative to ``root``) that differ between merge-base(base, HEAD) and the working tree."""
    merge_base = _git(root, "merge-base", base, "HEAD").strip()
    diff = _git(root, "diff", "--name-only", "--relative", merge_base, "--")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard")
    return sorted({p for p in (diff + untracked).splitlines() if p})


def changed_members(ws: Workspace, files: list[str]) -> set[str]:
    """Members that own one of ``files``; all of them if a workspace-wide file changed."""
    if any(f in GLOBAL_FILES for f in files):
        return set(ws.members)
    dirs = {ws.rel(m.path) + "/": m.name for m in ws.members.values()}
    return {name for f in files for d, name in dirs.items() if f.startswith(d)}


def affected(ws: Workspace, base: str) -> list[str]:
    """Affected members in dependency order."""
    hit = dependents(ws, changed_members(ws, changed_files(ws.root, base)))
    return [n for n in topo_order(ws) if n in hit]
