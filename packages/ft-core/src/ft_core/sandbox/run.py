"""Running one program in the sandbox: ``run_untrusted`` (chooses the backend, refuses without one)
and ``execute`` (one backend, given; the tests call it with the audit hook off).

Per run, a private host directory (mode 0700, root's) holds the program's directory ``work/``
(owned by the sandbox user, the only host path the program sees, at ``/sandbox``), the
stdout/stderr files (outside the program's reach, so it cannot swap them for links to host files)
and the seccomp program. All of it is deleted afterwards. Everything read back from ``work/`` is
opened without following links.

Example:
    >>> run_untrusted("print(input())", stdin="hi").stdout
    'hi\\n'
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from ft_core.errors import BadInputError, SandboxUnavailableError

from .backends import (
    BACKENDS,
    SANDBOX_GID,
    SANDBOX_UID,
    backend_unavailable,
    bwrap_command,
    probe_isolation,
    unshare_command,
    unshare_setup,
    weak_command,
)
from .guard import guard_source
from .limits import WEAK_ISOLATION_ENV, RunResult, SandboxLimits
from .seccomp import seccomp_filter
from .view import SANDBOX_DIR

_STATUS_FILE = ".ft-status"
_STDOUT_KEEP = 1 << 20  # bytes of stdout kept in RunResult.stdout
_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def run_untrusted(program: str, *, timeout: float | None = None, memory_mb: int | None = None,
                  limits: SandboxLimits | None = None, files: Mapping[str, str | bytes] | None = None,
                  stdin: str | bytes | None = None, allow_weak_isolation: bool | None = None,
                  backend: str | None = None) -> RunResult:
    """Run ``program`` (Python source) in the sandbox; passed = it ran to its end and exited 0.

    ``timeout`` (s) and ``memory_mb`` (MiB) override those of ``limits``; ``files`` (relative
    path -> content) are written beside the program first; ``stdin`` is its standard input.
    ``backend``: bwrap, unshare or weak (default: the first of bwrap, unshare that works here).
    Without a working OS backend this raises ``SandboxUnavailableError`` (exit code 2), unless
    ``allow_weak_isolation`` (or ``limits.allow_weak_isolation``, or the environment variable
    FT_SANDBOX_ALLOW_WEAK_ISOLATION=1) says to run with the weak backend.

    Example:
        >>> run_untrusted("assert 1 + 1 == 2").passed
        True
        >>> run_untrusted("while True: pass", timeout=1).status
        'timeout'
    """
    limits = limits or SandboxLimits()
    changes = {k: v for k, v in (("timeout", timeout), ("memory_mb", memory_mb),
                                 ("allow_weak_isolation", allow_weak_isolation)) if v is not None}
    limits = dataclasses.replace(limits, **changes) if changes else limits
    return execute(program, limits, choose_backend(limits, backend), files=files, stdin=stdin)


def choose_backend(limits: SandboxLimits, backend: str | None = None) -> str:
    """The backend a run with ``limits`` uses: ``backend`` when given and usable, else the first that
    works; 'weak' only where allowed (``SandboxUnavailableError`` naming what is missing otherwise)."""
    if backend not in (None, "weak", *BACKENDS):
        raise BadInputError(f"sandbox backend {backend!r} is unknown; valid: bwrap, unshare, weak")
    if backend == "weak" and not limits.weak_allowed():
        raise SandboxUnavailableError("the weak sandbox backend needs allow_weak_isolation=true")
    if backend in BACKENDS:
        reason = backend_unavailable(backend)
        if reason:
            raise SandboxUnavailableError(f"sandbox backend {backend} cannot run here: {reason}")
        return backend
    if backend == "weak":
        return "weak"
    report = probe_isolation()
    if report.backend:
        return report.backend
    if limits.weak_allowed():
        return "weak"
    raise SandboxUnavailableError(
        f"no OS sandbox for generated code on this machine ({report.missing}); install bubblewrap, or set "
        f"allow_weak_isolation=true (or {WEAK_ISOLATION_ENV}=1) to run it with limits and an audit hook only")


def execute(program: str, limits: SandboxLimits, backend: str, *, files: Mapping[str, str | bytes] | None = None,
            stdin: str | bytes | None = None, audit_hook: bool = True) -> RunResult:
    """Run ``program`` with ``backend`` as it is (no probing, no refusal). ``audit_hook=False`` leaves
    out the in-interpreter layer, so that a test sees what the OS layer holds on its own."""
    rundir = Path(tempfile.mkdtemp(prefix="ft-sandbox-"))
    try:
        work = rundir / "work"
        work.mkdir(mode=0o700)
        _write_files(work, program, files or {}, chown=backend != "weak")
        nonce = secrets.token_hex(16)
        bpf = seccomp_filter()
        bpf_path = None
        if bpf is not None:
            bpf_path = rundir / "seccomp.bpf"
            bpf_path.write_bytes(bpf)
        config = {"workdir": str(work) if backend == "weak" else SANDBOX_DIR, "status": _STATUS_FILE,
                  "nonce": nonce, "uid": SANDBOX_UID, "gid": SANDBOX_GID, "hook": audit_hook,
                  "limits": {"memory": limits.memory_mb << 20, "cpu": limits.cpu_seconds,
                             "fsize": limits.file_mb << 20, "nproc": limits.nproc},
                  "seccomp": str(bpf_path) if bpf_path and backend != "bwrap" else None,
                  "setup": None, "netns": backend == "weak", "drop": backend != "weak"}
        guard = guard_source()
        env = {**_ENV, "HOME": config["workdir"], "TMPDIR": config["workdir"]}
        with contextlib.ExitStack() as stack:
            pass_fds: tuple[int, ...] = ()
            if backend == "bwrap":
                seccomp_fd = None
                if bpf_path is not None:
                    seccomp_fd = stack.enter_context(open(bpf_path, "rb")).fileno()
                    pass_fds = (seccomp_fd,)
                argv = bwrap_command(guard, json.dumps(config), str(work), seccomp_fd)
            elif backend == "unshare":
                root = rundir / "root"
                root.mkdir(mode=0o700)
                config["setup"] = unshare_setup(str(work), str(root))
                argv = unshare_command(guard, json.dumps(config))
            elif backend == "weak":
                argv = weak_command(guard, json.dumps(config))
            else:
                raise BadInputError(f"sandbox backend {backend!r} is unknown; valid: bwrap, unshare, weak")
            if stdin is not None:
                (rundir / "stdin").write_bytes(stdin.encode() if isinstance(stdin, str) else stdin)
            stdin_fh = stack.enter_context(open(rundir / "stdin", "rb")) if stdin is not None else subprocess.DEVNULL
            out = stack.enter_context(open(rundir / "stdout", "wb"))
            err = stack.enter_context(open(rundir / "stderr", "wb"))
            proc = subprocess.Popen(argv, cwd=str(work) if backend == "weak" else str(rundir), env=env,
                                    stdin=stdin_fh, stdout=out, stderr=err, start_new_session=True,
                                    pass_fds=pass_fds)
            try:
                code = proc.wait(timeout=limits.timeout)
            except subprocess.TimeoutExpired:
                _kill(proc)
                return RunResult(False, "timeout", None, f"killed after {limits.timeout:g} s",
                                 _read_head(rundir / "stdout"), backend)
            finally:
                if backend == "weak":  # its forked children die with the group; the others' die with
                    _kill(proc)        # their PID namespace
        return _result(code, backend, rundir, work, nonce)
    finally:
        _remove(rundir)


def _write_files(work: Path, program: str, files: Mapping[str, str | bytes], chown: bool) -> None:
    (work / "program.py").write_text(program, encoding="utf-8")
    for name, content in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or str(rel) in ("program.py", _STATUS_FILE):
            raise BadInputError(f"sandbox file name {name!r} must be a relative path inside the program's directory "
                                "(not program.py)")
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    if os.geteuid() == 0 and chown:  # the program runs as nobody and may write in its own directory, nowhere else
        for dirpath, dirnames, filenames in os.walk(work):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.chown(name, SANDBOX_UID, SANDBOX_GID)


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _result(code: int, backend: str, rundir: Path, work: Path, nonce: str) -> RunResult:
    stdout = _read_head(rundir / "stdout")
    detail = _read_tail(rundir / "stderr")
    if code == 0 and _read_nofollow(work / _STATUS_FILE, 64) == nonce.encode():
        return RunResult(True, "passed", 0, "", stdout, backend)
    if code == 0:
        return RunResult(False, "failed", 0, "exited before the tests finished", stdout, backend)
    # bwrap reports a child killed by signal N as exit status 128 + N; the others as -N.
    signum = -code if code < 0 else (code - 128 if backend == "bwrap" and 128 < code <= 128 + 64 else 0)
    if signum:
        return RunResult(False, "crashed", code, detail or f"killed by signal {signum}", stdout, backend)
    return RunResult(False, "failed", code, detail or f"exit code {code}", stdout, backend)


def _read_nofollow(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file the program may have replaced (b'' if it is not one)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        return os.read(fd, limit) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    finally:
        os.close(fd)


def _read_head(path: Path) -> str:
    with open(path, "rb") as fh:
        return fh.read(_STDOUT_KEEP).decode("utf-8", "replace")


def _read_tail(path: Path) -> str:
    with open(path, "rb") as fh:
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - 600))
        lines = fh.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else ""


def _remove(rundir: Path) -> None:
    shutil.rmtree(rundir, ignore_errors=True)
    if rundir.exists():  # not root, and the program left a directory without search permission
        for dirpath, dirnames, _files in os.walk(rundir):
            for name in dirnames:
                path = os.path.join(dirpath, name)
                if not os.path.islink(path):  # chmod follows links: never touch what one points to
                    with contextlib.suppress(OSError):
                        os.chmod(path, 0o700)
        shutil.rmtree(rundir, ignore_errors=True)
