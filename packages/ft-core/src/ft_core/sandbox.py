"""Running untrusted generated code: a separate process with limits, no network, a throwaway dir.

Each program runs as ``python -I`` in a fresh temporary directory (deleted afterwards), in its
own session (the whole process group is killed at the end, so forked children die too), with:

* a wall-clock ``timeout`` (then SIGKILL to the group) and an ``RLIMIT_CPU`` just above it;
* ``RLIMIT_AS`` (address space, default 1 GiB), ``RLIMIT_FSIZE`` (files up to 16 MiB),
  ``RLIMIT_NPROC`` (effective for non-root users), no core dumps;
* no network: the child moves into a new, empty network namespace (``unshare(CLONE_NEWNET)``,
  possible as root or with user namespaces); in every case an audit hook installed before the
  program runs refuses socket creation/connection, process creation (fork, exec, spawn,
  subprocess, os.system), ctypes, signals to other processes, and writes, renames or deletions
  outside the throwaway directory.

A crash, a timeout, any exception or an early exit (even with status 0) is a failure
(``passed=False``) with a status saying which.

Example:
    >>> run_untrusted("assert 1 + 1 == 2").passed
    True
    >>> run_untrusted("while True: pass", timeout=1).status
    'timeout'
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_GUARD = r'''
import os, resource, sys
_ROOT = os.path.realpath(os.getcwd())
_mem, _cpu, _fsize = (int(x) for x in sys.argv[1:4])
_nonce = sys.argv[4]
sys.argv[:] = ["program.py"]
for _limit, _value in ((resource.RLIMIT_AS, _mem), (resource.RLIMIT_CPU, _cpu), (resource.RLIMIT_FSIZE, _fsize),
                       (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, 64)):
    try:
        resource.setrlimit(_limit, (_value, _value))
    except (ValueError, OSError):
        pass
try:  # a private, empty network namespace (root or user namespaces); the hook below guards anyway
    import ctypes
    _isolated = ctypes.CDLL(None, use_errno=True).unshare(0x40000000) == 0
except Exception:
    _isolated = False
_BLOCKED_PREFIXES = ("socket.", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "ctypes.", "subprocess.",
                     "pty.", "http.client.", "urllib.", "ftplib.", "smtplib.", "nntplib.", "poplib.", "imaplib.",
                     "telnetlib.", "webbrowser.")
_BLOCKED = {"os.system", "os.kill", "os.killpg", "signal.pthread_kill", "os.chroot", "sys.addaudithook"}
_PATH_EVENTS = {"os.remove", "os.rmdir", "os.rename", "os.truncate", "os.chmod", "os.chown", "os.link",
                "os.symlink", "os.mkdir", "shutil.rmtree", "shutil.copyfile", "shutil.move", "os.utime"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

def _inside(path):
    if isinstance(path, int):
        return True
    try:
        real = os.path.realpath(os.fsdecode(path))
    except Exception:
        return False
    return real == _ROOT or real.startswith(_ROOT + os.sep)

def _hook(event, args):
    if event in _BLOCKED or event.startswith(_BLOCKED_PREFIXES):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event in _PATH_EVENTS:
        paths = [a for a in args if isinstance(a, (str, bytes, os.PathLike))]
        if not all(_inside(p) for p in paths):
            raise PermissionError(f"sandbox: {event} outside the sandbox directory")
    elif event == "open":
        path, mode, flags = (list(args) + [None, None])[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writing and path is not None and not _inside(path):
            raise PermissionError("sandbox: writing outside the sandbox directory")

with open("program.py", encoding="utf-8") as _fh:
    _source = _fh.read()
_code = compile(_source, "program.py", "exec")
sys.addaudithook(_hook)
exec(_code, {"__name__": "__main__", "__builtins__": __builtins__})
# Reached only when the whole program ran: an early exit (os._exit(0), SystemExit) is no pass.
with open("status", "w") as _fh:
    _fh.write(_nonce)
'''


@dataclass(frozen=True)
class RunResult:
    """Outcome of one sandboxed run: ``status`` is passed, failed, timeout or crashed."""

    passed: bool
    status: str
    returncode: int | None
    detail: str = ""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of a sandboxed run: seconds of wall time, MiB of address space, MiB of files."""

    timeout: float = 3.0
    memory_mb: int = 1024
    file_mb: int = 16


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_untrusted(program: str, timeout: float = 3.0, limits: SandboxLimits | None = None) -> RunResult:
    """Run ``program`` (Python source) in the sandbox; passed = exit code 0 within the limits."""
    limits = limits or SandboxLimits(timeout=timeout)
    workdir = Path(tempfile.mkdtemp(prefix="ft-router-sandbox-"))
    try:
        (workdir / "program.py").write_text(program, encoding="utf-8")
        cpu = int(limits.timeout) + 2
        nonce = secrets.token_hex(16)
        args = [sys.executable, "-I", "-c", _GUARD, str(limits.memory_mb << 20), str(cpu), str(limits.file_mb << 20),
                nonce]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
        with open(workdir / "stderr.txt", "wb") as err:
            proc = subprocess.Popen(args, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
            try:
                code = proc.wait(timeout=limits.timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
                return RunResult(False, "timeout", None, f"killed after {limits.timeout:g} s")
            finally:
                _kill_group(proc)  # children left behind (forks) die with the group
        detail = (workdir / "stderr.txt").read_bytes()[-600:].decode("utf-8", "replace").strip()
        status_file = workdir / "status"
        finished = status_file.is_file() and status_file.read_text(errors="replace") == nonce
        if code == 0 and finished:
            return RunResult(True, "passed", 0)
        if code == 0:
            return RunResult(False, "failed", 0, "exited before the tests finished")
        status = "crashed" if code < 0 else "failed"
        return RunResult(False, status, code, detail.splitlines()[-1] if detail else f"exit code {code}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def network_isolated() -> bool:
    """True when sandboxed programs get a private network namespace (checked by running one)."""
    probe = "import os\nassert os.readlink('/proc/self/ns/net') != " + repr(_own_netns()) + "\n"
    return _own_netns() != "" and run_untrusted(probe, timeout=10).passed


def _own_netns() -> str:
    try:
        return os.readlink("/proc/self/ns/net")
    except OSError:
        return ""
