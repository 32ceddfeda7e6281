"""Running untrusted generated code, isolated by the operating system.

``run_untrusted(program, timeout=…, memory_mb=…, files=…, stdin=…)`` runs Python source as the
unprivileged user nobody, in new mount, PID, IPC, UTS and network namespaces, seeing only the
Python installation (read-only), its own empty directory, a private ``/proc`` and a minimal
``/dev``; with a seccomp filter where libseccomp's binding is installed; under limits on wall
time, CPU seconds, address space, file size and processes; with an audit hook as a second layer.
Backends: bubblewrap, else util-linux ``unshare`` + ``pivot_root`` (``backends``). Where neither
works it refuses (``SandboxUnavailableError``, exit code 2) unless weak isolation is allowed.
Threat model and set-up: docs/ft-core-sandbox.md.

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
from collections.abc import Iterator

from .backends import BACKENDS, IsolationReport, forget_probes, probe_isolation
from .limits import WEAK_ISOLATION_ENV, RunResult, SandboxLimits
from .run import choose_backend, execute, run_untrusted

__all__ = ["BACKENDS", "WEAK_ISOLATION_ENV", "IsolationReport", "RunResult", "SandboxLimits", "choose_backend",
           "execute", "forget_probes", "network_isolated", "probe_isolation", "run_untrusted",
           "weak_isolation_allowed"]


def network_isolated() -> bool:
    """True when sandboxed programs get a private network namespace (checked by running one)."""
    try:
        own = os.readlink("/proc/self/ns/net")
    except OSError:
        return False
    probe = f"import os\nassert os.readlink('/proc/self/ns/net') != {own!r}\n"
    return run_untrusted(probe, timeout=10, allow_weak_isolation=True).passed


@contextlib.contextmanager
def weak_isolation_allowed(allowed: bool = True) -> Iterator[None]:
    """Within the block, every run may fall back to weak isolation (for code run deep inside another
    library, e.g. lm-eval's ``process_results``); the environment is restored afterwards.

    Example:
        >>> with weak_isolation_allowed(cfg.allow_weak_isolation):
        ...     evaluate()
    """
    if not allowed:
        yield
        return
    before = os.environ.get(WEAK_ISOLATION_ENV)
    os.environ[WEAK_ISOLATION_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(WEAK_ISOLATION_ENV, None)
        else:
            os.environ[WEAK_ISOLATION_ENV] = before
