"""Data-parallel ``ft infer`` with Ray Data: one engine replica per worker (per GPU on a GPU cluster).

The driver tokenizes the dataset and keeps the predictions file; the rows still to generate go
to Ray Data as ``{"index", "prompt_ids"}`` items, ``map_batches`` runs them through a pool of
``ray_num_workers`` actors, each holding its own engine (``EngineReplica``: the transformers
engine on CPU, vLLM on a GPU), and the results come back **in dataset order**
(``preserve_order``), so the driver writes them exactly as a single-process run does — the same
file, resumable the same way. Ray is the ``ray`` extra of ft-serve.

One node with N GPUs:   ``ft infer cfg.yaml ray_num_workers=N`` (a local Ray instance, 1 GPU each)
A Ray cluster:          ``ray start --head`` on one node, ``ray start --address=HEAD:6379`` on the
                        others, then on the head ``ft infer cfg.yaml ray_num_workers=<GPUs in all>
                        ray_address=auto``

Example:
    >>> run_infer(load_infer_config("infer.yaml", ["ray_num_workers=2"]))
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

from ft_core import ConfigError, get_logger

from .config import InferConfig

log = get_logger("ft.serve.infer")

__all__ = ["EngineReplica", "generate_with_ray"]


class EngineReplica:
    """A Ray Data actor: loads the engine once, then generates every batch of rows it is given."""

    def __init__(self, config: dict[str, Any]) -> None:
        import ray

        cpus = int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1) or 1)
        if "OMP_NUM_THREADS" not in os.environ:  # replicas share a node's cores: each uses its own share
            import torch

            torch.set_num_threads(max(1, cpus))
        from .engine import build_infer_engine

        self.cfg = InferConfig(**config)
        self.engine = build_infer_engine(self.cfg)

    def __call__(self, batch: dict[str, Any], prefix_len: int = 0) -> dict[str, Any]:
        from .run import generate_in_order

        indices = [int(i) for i in batch["index"]]
        prompts = [[int(t) for t in ids] for ids in batch["prompt_ids"]]
        texts: dict[int, str] = {}
        tokens: dict[int, int] = {}

        def keep(index: int, text: str, completion_tokens: int) -> None:
            texts[index], tokens[index] = text, completion_tokens

        asyncio.run(generate_in_order(self.engine, prompts, indices, self.cfg, keep, prefix_len=prefix_len))
        return {"index": indices, "predict": [texts[i] for i in indices],
                "completion_tokens": [tokens[i] for i in indices]}


def _connect(cfg: InferConfig) -> Any:
    # Under `uv run`, Ray packages the working directory (the whole checkout, its .venv included:
    # gigabytes) for every worker; workers of a local or shared-filesystem cluster run the same
    # interpreter and need none of it. Read when ray is imported, so set before.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("ray_num_workers needs Ray: pip install 'ft-serve[ray]'") from exc
    if not ray.is_initialized():
        if cfg.ray_address:
            ray.init(address=cfg.ray_address, log_to_driver=False)
        else:
            ray.init(log_to_driver=False)
    return ray


def generate_with_ray(cfg: InferConfig, prompt_ids: Sequence[Sequence[int]], indices: Sequence[int],
                      sink: Any, prefix_len: int = 0) -> None:
    """Generate rows ``indices`` on ``ray_num_workers`` replicas; ``sink(index, text, tokens)`` in dataset order."""
    _connect(cfg)
    import ray
    import ray.data

    workers = int(cfg.ray_num_workers or 1)
    cluster = ray.cluster_resources()
    gpus = cfg.ray_gpus_per_worker
    if gpus is None:
        gpus = 1.0 if cluster.get("GPU", 0) >= workers else 0.0
    cpus_per_worker = max(1.0, float(int(cluster.get("CPU", 1)) // workers)) if not gpus else 1.0
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # results in dataset order, whatever finishes first
    # Each worker gets whole chunks; a chunk is the worker's in-flight window.
    chunk = max(1, min(cfg.batch_size, -(-len(indices) // workers)))
    items = [{"index": int(i), "prompt_ids": list(prompt_ids[i])} for i in indices]
    log.info("generating %d rows on %d Ray workers (%s GPU, %s CPU each), chunks of %d",
             len(items), workers, gpus, cpus_per_worker, chunk)
    dataset = ray.data.from_items(items, override_num_blocks=max(workers, -(-len(items) // chunk)))
    results = dataset.map_batches(
        EngineReplica, fn_constructor_kwargs={"config": cfg.model_dump()}, fn_kwargs={"prefix_len": prefix_len},
        batch_size=chunk,
        concurrency=workers, num_gpus=gpus, num_cpus=cpus_per_worker, batch_format="numpy")
    expected = iter(indices)
    for row in results.iter_rows():
        index = int(row["index"])
        if index != next(expected):
            raise RuntimeError(f"Ray returned row {index} out of order")
        sink(index, str(row["predict"]), int(row["completion_tokens"]))
