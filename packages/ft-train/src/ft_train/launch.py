"""Start ``ft train`` under torchrun when more than one process is asked for.

Like ``llamafactory-cli train``: with ``NPROC_PER_NODE`` > 1 (default: the number of CUDA
devices), or ``FORCE_TORCHRUN=1``, the command re-runs itself through
``torch.distributed.run`` (torchrun's module; no home-made launcher). ``NNODES``,
``NODE_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` (default: a free port) are passed on.
Inside the workers ``LOCAL_RANK`` is set, so they do not relaunch.

Example:
    $ NPROC_PER_NODE=2 FORCE_TORCHRUN=1 ft train docs/examples/lora_sft.yaml
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "y")


def under_torchrun(env: Mapping[str, str] = os.environ) -> bool:
    """True inside a process started by torchrun (it sets LOCAL_RANK and WORLD_SIZE)."""
    return "LOCAL_RANK" in env and "WORLD_SIZE" in env


def requested_processes(env: Mapping[str, str] = os.environ) -> int:
    """Processes per node: ``NPROC_PER_NODE`` or the CUDA device count (at least 1)."""
    if env.get("NPROC_PER_NODE"):
        return max(int(env["NPROC_PER_NODE"]), 1)
    try:
        import torch
        return max(torch.cuda.device_count(), 1)
    except ImportError:
        return 1


def should_launch(env: Mapping[str, str] = os.environ) -> bool:
    """Whether ``ft train`` must relaunch itself through torchrun."""
    if under_torchrun(env):
        return False
    return _truthy(env.get("FORCE_TORCHRUN")) or requested_processes(env) > 1 or int(env.get("NNODES", "1")) > 1


def free_port() -> int:
    """A TCP port free on this host right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun_command(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> list[str]:
    """The torchrun command line re-running ``ft-train train`` with ``argv`` (config and overrides)."""
    return [
        sys.executable, "-m", "torch.distributed.run",
        "--nnodes", env.get("NNODES", "1"),
        "--node_rank", env.get("NODE_RANK", "0"),
        "--nproc_per_node", str(requested_processes(env)),
        "--master_addr", env.get("MASTER_ADDR", "127.0.0.1"),
        "--master_port", env.get("MASTER_PORT") or str(free_port()),
        "-m", "ft_train.cli", "train", *argv,
    ]


def launch(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> int:
    """Run the training under torchrun and return its exit code."""
    child_env = dict(env)
    child_env.setdefault("OMP_NUM_THREADS", str(max((os.cpu_count() or 1) // requested_processes(env), 1)))
    if _truthy(env.get("OPTIM_TORCH", "1")):
        child_env.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
        child_env.setdefault("TORCH_NCCL_AVOID_RECORD_STREAMS", "1")
    return subprocess.run(torchrun_command(argv, env), env=child_env).returncode
