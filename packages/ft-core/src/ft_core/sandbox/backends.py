"""The isolation backends: how the sandboxed interpreter is started, and which one this machine can run.

* ``bwrap`` (bubblewrap, Debian package ``bubblewrap``): new mount, PID, IPC, UTS, network and
  (where possible) cgroup namespaces; the view of ``view.filesystem_view`` built by bwrap; the
  seccomp filter loaded by bwrap; ``--die-with-parent`` and ``--new-session``. Run as root, bwrap
  keeps only CAP_SETUID/CAP_SETGID for the guard, which drops to the sandbox user before the
  program starts. Run by another user, bwrap adds a user namespace (uid 65534 inside, the caller's
  own uid outside, no capabilities, no further user namespaces).
* ``unshare`` (util-linux): the same namespaces by ``unshare --mount --pid --fork --kill-child
  --ipc --uts --net``; the guard mounts the same view and ``pivot_root``\\ s into it, then drops
  root and loads the filter. Root only (it mounts as root, then stops being root).
* ``weak`` (only with ``allow_weak_isolation``): the former sandbox: the caller's user and the
  host's filesystem, limits, a private network namespace where root allows one, the audit hook;
  the seccomp filter is loaded where available.

Example:
    >>> probe_isolation().backend in ("bwrap", "unshare", None)
    True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from dataclasses import dataclass

from .view import Mount, filesystem_view, interpreter, parent_dirs

BACKENDS = ("bwrap", "unshare")
SANDBOX_UID = SANDBOX_GID = 65534  # nobody / nogroup on Debian; any unprivileged id would do
PYTHON_FLAGS = ("-I", "-S", "-B")  # isolated mode, no site-packages, no bytecode files


def bwrap_command(guard: str, config: str, workdir: str, seccomp_fd: int | None) -> list[str]:
    """The bwrap command line that runs ``guard`` with ``config`` over the program dir ``workdir``."""
    mounts = filesystem_view(workdir)
    argv = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if os.geteuid() == 0:
        # Real root keeps every capability in bwrap unless told otherwise; the guard needs these two
        # to become nobody, and loses them when it does.
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID), "--disable-userns"]
    for path in parent_dirs(mounts):
        argv += ["--perms", "0755", "--dir", path]  # bwrap would create them 0700: unreadable for nobody
    for mount in mounts:
        argv += _bwrap_mount(mount)
    argv += ["--remount-ro", "/", "--chdir", "/"]  # the guard enters /sandbox once it is nobody
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    return [*argv, "--", interpreter(), *PYTHON_FLAGS, "-c", guard, config]


def _bwrap_mount(mount: Mount) -> list[str]:
    if mount.kind == "symlink":
        return ["--symlink", str(mount.source), mount.dest]
    if mount.kind == "ro":
        return ["--ro-bind", str(mount.source), mount.dest]
    if mount.kind == "rw":
        return ["--bind", str(mount.source), mount.dest]
    if mount.kind == "proc":
        return ["--proc", mount.dest]
    if mount.kind == "dev":
        return ["--dev", mount.dest]
    raise ValueError(f"unknown mount kind {mount.kind!r}")


def unshare_setup(workdir: str, root: str) -> dict:
    """The guard's set-up for the unshare backend: mount the view under ``root`` (an empty dir)."""
    return {"root": root, "mounts": [[m.kind, m.source, m.dest] for m in filesystem_view(workdir)]}


def unshare_command(guard: str, config: str) -> list[str]:
    """The util-linux unshare command line; the guard does the mounting (see ``guard.build_root``)."""
    return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--ipc", "--uts", "--net",
            "--propagation", "private", "--", interpreter(), *PYTHON_FLAGS, "-c", guard, config]


def weak_command(guard: str, config: str) -> list[str]:
    """The weak backend: the interpreter itself, on the host's filesystem."""
    return [interpreter(), *PYTHON_FLAGS, "-c", guard, config]


@dataclass(frozen=True)
class IsolationReport:
    """What this machine can do: the backend ``run_untrusted`` uses (None: none works), one line on
    why the others do not (``missing``), and whether the seccomp filter is loaded.

    Example:
        >>> IsolationReport("bwrap", "", True, "").backend
        'bwrap'
    """

    backend: str | None
    missing: str
    seccomp: bool
    seccomp_missing: str


_lock = threading.Lock()
_probed: dict[str, str] = {}


def backend_unavailable(name: str) -> str:
    """Why backend ``name`` cannot isolate here, in a few words ('' when it can: a trial run passed)."""
    with _lock:
        if name not in _probed:
            _probed[name] = _probe(name)
        return _probed[name]


def _probe(name: str) -> str:
    if name == "bwrap" and shutil.which("bwrap") is None:
        return "bwrap not found (Debian package bubblewrap)"
    if name == "unshare":
        if shutil.which("unshare") is None:
            return "unshare not found (util-linux)"
        if os.geteuid() != 0:
            return "unshare needs root (it mounts the view as root, then drops to nobody)"
    from .limits import SandboxLimits
    from .run import execute

    result = execute(_trial_program(), SandboxLimits(timeout=30), name, audit_hook=True)
    return "" if result.passed else f"{name}: {result.detail or result.status}"


def _trial_program() -> str:
    """A program that passes only inside working isolation: another user, network, PID and mount
    namespaces, and the host's working directory out of sight."""
    checks = [f"assert os.getuid() == {SANDBOX_UID}, os.getuid()"]
    for ns in ("net", "pid", "mnt"):
        with contextlib.suppress(OSError):
            checks.append(f"assert os.readlink('/proc/self/ns/{ns}') != {os.readlink(f'/proc/self/ns/{ns}')!r}, '{ns}'")
    cwd = os.path.realpath(os.getcwd())
    if cwd not in ("/", "/sandbox"):
        checks.append(f"assert not os.path.exists({cwd!r}), 'the host is visible'")
    return "import os\n" + "\n".join(checks) + "\n"


def probe_isolation() -> IsolationReport:
    """The isolation this machine offers (each backend tried once per process, then remembered)."""
    from .seccomp import seccomp_filter, seccomp_missing

    reasons = []
    chosen = None
    for name in BACKENDS:
        reason = backend_unavailable(name)
        if not reason:
            chosen = name
            break
        reasons.append(reason)
    return IsolationReport(chosen, "; ".join(reasons), seccomp_filter() is not None, seccomp_missing())


def forget_probes() -> None:
    """Probe again on the next run (after installing bwrap, say)."""
    with _lock:
        _probed.clear()
