"""The filesystem the sandboxed program sees: what is mounted where, for both OS backends.

Only what the interpreter needs, read-only: ``/usr`` (and ``/bin``, ``/lib``, ``/lib64``, ``/sbin``
as the host has them: symlinks on a merged-/usr system, directories otherwise) and the Python
installation the sandbox runs (``sys.base_prefix``, resolved, so a uv venv's symlinked interpreter
works without exposing the venv or the project around it). Then the program's own directory,
writable, at ``/sandbox``; a ``/proc`` of the sandbox's PID namespace; a minimal ``/dev`` (null,
zero, full, random, urandom). No ``/etc``, no home, no ``/tmp``, no project checkout.

Example:
    >>> [m.dest for m in filesystem_view("/tmp/ft-sandbox-x/work")][-3:]
    ['/proc', '/dev', '/sandbox']
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

SANDBOX_DIR = "/sandbox"
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@dataclass(frozen=True)
class Mount:
    """One entry of the view: ``kind`` ro, rw, symlink (``source`` is the link text), proc or dev."""

    kind: str
    source: str | None
    dest: str


def interpreter() -> str:
    """The real path of the running interpreter (a venv's ``bin/python`` resolves to its base)."""
    return os.path.realpath(sys.executable)


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def python_roots() -> list[str]:
    """The directories of the Python installation the sandbox needs (resolved, outermost only)."""
    candidates = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    candidates.add(os.path.dirname(os.path.dirname(interpreter())))  # <prefix>/bin/python3.x
    system = [os.path.realpath(d) for d in _SYSTEM_DIRS if os.path.isdir(d)]
    roots = sorted(c for c in candidates if os.path.isdir(c) and not any(_under(c, s) for s in system))
    return [r for r in roots if not any(r != o and _under(r, o) for o in roots)]


def filesystem_view(workdir: str) -> list[Mount]:
    """The mounts of a sandbox whose program directory is the host's ``workdir``."""
    mounts = []
    for top in _SYSTEM_DIRS:
        if os.path.islink(top):
            mounts.append(Mount("symlink", os.readlink(top), top))
        elif os.path.isdir(top):
            mounts.append(Mount("ro", top, top))
    mounts += [Mount("ro", root, root) for root in python_roots()]
    mounts += [Mount("proc", None, "/proc"), Mount("dev", None, "/dev"), Mount("rw", workdir, SANDBOX_DIR)]
    return mounts


def parent_dirs(mounts: list[Mount]) -> list[str]:
    """Directories to create (mode 0755) so that every mount point's parents exist, outermost first."""
    dests = {m.dest for m in mounts}
    out: list[str] = []
    for mount in mounts:
        parts = mount.dest.strip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            path = "/" + "/".join(parts[:depth])
            if path not in dests and path not in out:
                out.append(path)
    return out
