"""Process-wide defaults for torch on CPU, which only take effect if set before torch loads.

- ``OMP_WAIT_POLICY=PASSIVE``: CPU training usually shares its cores (a laptop, CI, a busy
  server). OpenMP threads that spin while waiting stall on descheduled siblings: a 2-thread
  matmul ran 4x slower than 1 thread at load 10 on 2 cores, and 2.7x faster again with passive
  waiting.
- ``THP_MEM_ALLOC_ENABLE=1``: torch's CPU allocator then gives each tensor of 2 MiB or more its
  own 2 MiB-aligned block advised for transparent huge pages. Under glibc's default heap the
  many activation-sized blocks of a training step fragment it and stay resident: LoRA SFT of
  SmolLM2-135M on CPU peaked at ~2.7 GB RSS without it and ~2.1 GB with it, at equal or better
  tokens/s (docs/ft-train.md, "Memory"). Linux only; elsewhere torch ignores it.

Serving (``workload="serve"``) keeps OpenMP's own spin-then-sleep waiting instead: a server is
usually the machine's main work, and decoding runs ~200 small parallel matmuls per token, each
paying a wake-up under passive waiting. 8 sequences of SmolLM2-135M decoded at 58 tokens/s with
``PASSIVE`` and 77-89 tokens/s with the default on an idle 2-core machine.

A value the user already set always wins. Entry points that load torch (``ft``, ``ft_train``,
``ft_serve``) call :func:`apply_torch_env_defaults` first.

Example:
    >>> apply_torch_env_defaults()   # before ``import torch``
    ['OMP_WAIT_POLICY', 'THP_MEM_ALLOC_ENABLE']
"""

from __future__ import annotations

import os
import sys

TORCH_ENV_DEFAULTS: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE", "THP_MEM_ALLOC_ENABLE": "1"}
SERVE_ENV_DEFAULTS: dict[str, str] = {"THP_MEM_ALLOC_ENABLE": "1"}


def apply_torch_env_defaults(workload: str = "train") -> list[str]:
    """Set the unset defaults of ``workload`` (``train``: ``TORCH_ENV_DEFAULTS``, ``serve``:
    ``SERVE_ENV_DEFAULTS``) in ``os.environ``; returns the names set now.

    Does nothing once torch is imported (its OpenMP runtime and allocator have read the
    environment already), so the call is harmless from any import path.
    """
    if "torch" in sys.modules:
        return []
    defaults = SERVE_ENV_DEFAULTS if workload == "serve" else TORCH_ENV_DEFAULTS
    applied = [name for name in defaults if name not in os.environ]
    for name in applied:
        os.environ[name] = defaults[name]
    return applied
