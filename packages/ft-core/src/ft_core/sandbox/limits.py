"""What a sandboxed run may use (``SandboxLimits``) and what came of it (``RunResult``).

Example:
    >>> SandboxLimits(timeout=2, memory_mb=256).cpu_seconds
    4
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Set to 1/true/yes by a tool whose config says allow_weak_isolation (ft eval) so that code scored
# deep inside a third-party harness (lm-eval's process_results) sees the choice too.
WEAK_ISOLATION_ENV = "FT_SANDBOX_ALLOW_WEAK_ISOLATION"

STATUSES = ("passed", "failed", "timeout", "crashed")


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandboxed run.

    ``timeout``: seconds of wall time (then the whole sandbox is killed); ``memory_mb``: MiB of
    address space per process; ``file_mb``: MiB per written file (stdout and stderr included);
    ``nproc``: processes of the sandbox user (``RLIMIT_NPROC``); ``allow_weak_isolation``: run
    with limits and the audit hook only where the machine cannot isolate (see
    docs/ft-core-sandbox.md), instead of refusing.

    Example:
        >>> SandboxLimits(timeout=5, memory_mb=512)
        SandboxLimits(timeout=5, memory_mb=512, file_mb=16, nproc=16, allow_weak_isolation=False)
    """

    timeout: float = 3.0
    memory_mb: int = 1024
    file_mb: int = 16
    nproc: int = 16
    allow_weak_isolation: bool = False

    def __post_init__(self) -> None:
        from ft_core.errors import BadInputError

        if not (self.timeout > 0 and self.memory_mb > 0 and self.file_mb > 0 and self.nproc > 0):
            raise BadInputError(f"sandbox limits must be positive: timeout={self.timeout}, memory_mb={self.memory_mb}, "
                                f"file_mb={self.file_mb}, nproc={self.nproc}")

    @property
    def cpu_seconds(self) -> int:
        """``RLIMIT_CPU``: a little above the wall timeout, so the wall clock decides first."""
        return int(self.timeout) + 2

    def weak_allowed(self) -> bool:
        """True when this run may fall back to weak isolation (the field, or the environment switch)."""
        return self.allow_weak_isolation or os.environ.get(WEAK_ISOLATION_ENV, "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class RunResult:
    """Outcome of one sandboxed run.

    ``status``: passed, failed, timeout or crashed (killed by a signal); ``returncode``: the exit
    status (None after a timeout); ``detail``: the last line of stderr or why it failed;
    ``stdout``: the first MiB of what the program printed; ``backend``: bwrap, unshare or weak.

    Example:
        >>> RunResult(False, "timeout", None, "killed after 3 s").passed
        False
    """

    passed: bool
    status: str
    returncode: int | None
    detail: str = ""
    stdout: str = ""
    backend: str = ""
