"""``run.json``: what produced an output directory (config, versions, git commit, host, timings).

Example:
    >>> with RunRecorder("out/run1", config={"stage": "sft"}) as rec:
    ...     rec.metrics["train_loss"] = 1.23
    >>> json.load(open("out/run1/run.json"))["config"]["stage"]
    'sft'
"""

from __future__ import annotations

import datetime as _dt
import getpass
import importlib.metadata as md
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json

FT_LIBRARIES = (
    "ft", "ft-core", "ft-templates", "ft-data", "ft-models", "ft-moe-convert",
    "ft-train", "ft-merge", "ft-serve", "ft-router-data",
)
THIRD_PARTY = ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "safetensors", "tokenizers")


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or ``None`` when it is not installed."""
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def library_versions(names: tuple[str, ...] = FT_LIBRARIES + THIRD_PARTY) -> dict[str, str]:
    """Versions of the installed ft libraries and of the main third-party libraries."""
    return {n: v for n in names if (v := package_version(n)) is not None}


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The commit of the git checkout at ``cwd`` (with ``-dirty`` when it has changes), if any."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return f"{sha}-dirty" if dirty else sha
    except (OSError, subprocess.SubprocessError):
        return None


def host_info() -> dict[str, Any]:
    """Hostname, platform, Python and CPU count."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return {
        "hostname": socket.gethostname(),
        "user": user,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def build_run_info(config: Mapping[str, Any] | None, started_at: str, ended_at: str,
                   elapsed_s: float, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``run.json`` document as a dict."""
    info: dict[str, Any] = {
        "config": dict(config or {}),
        "versions": library_versions(),
        "git_commit": git_commit(),
        "host": host_info(),
        "command": sys.argv,
        "started_at": started_at,
        "ended_at": ended_at,
        "elapsed_s": round(elapsed_s, 3),
    }
    if extra:
        info.update(extra)
    return info


def write_run_json(directory: str | Path, config: Mapping[str, Any] | None, started_at: str,
                   ended_at: str | None = None, elapsed_s: float = 0.0,
                   extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``run.json`` atomically into ``directory``."""
    info = build_run_info(config, started_at, ended_at or _now(), elapsed_s, extra)
    return atomic_write_json(Path(directory) / "run.json", info)


class RunRecorder:
    """Context manager timing a run and writing ``run.json`` (status ``ok`` or ``failed``) at exit."""

    def __init__(self, directory: str | Path, config: Mapping[str, Any] | None = None) -> None:
        self.directory = Path(directory)
        self.config = dict(config or {})
        self.metrics: dict[str, Any] = {}
        self.started_at = _now()
        self._t0 = time.perf_counter()

    def __enter__(self) -> RunRecorder:
        self.started_at = _now()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self.directory.is_dir():
            return
        extra = {"status": "ok" if exc_type is None else "failed", "metrics": self.metrics}
        write_run_json(self.directory, self.config, self.started_at, _now(),
                       time.perf_counter() - self._t0, extra)
