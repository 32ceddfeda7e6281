"""The streaming merge: one read pass over the inputs writes every requested method.

For each base tensor name, in file order: read θ₀ and each input's δᵢ (float32; a LoRA input
builds B·A·s), run every method on that tensor, hand each result to its method's shard writer,
free everything. At most the tensors of one name across all inputs are in memory, plus the
methods' temporaries for that name.

Example:
    >>> result = stream_merge(plan, stores, Path("out"))
    >>> result["ties"]["merge_time"]
    3.1
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from ft_core import FtError, parse_size, progress

from . import __version__
from .calibration import HessianStore
from .methods import TensorJob
from .plan import MergePlan
from .tensor_io import ShardedWriter, TensorReader

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
SKIP_FILES = {"config.json", "model.safetensors.index.json", "pytorch_model.bin.index.json", "adapter_config.json"}


def stream_merge(plan: MergePlan, stores: list[HessianStore | None] | None, out_root: Path) -> dict[str, dict[str, Any]]:
    """Write ``out_root/<method>/`` weights for every method of ``plan``; returns timings and fallbacks."""
    cfg = plan.config
    shard_bytes = parse_size(cfg.out_shard_size)
    writers = {name: ShardedWriter(out_root / name, plan.specs, shard_bytes) for name in plan.method_names}
    spent = dict.fromkeys(plan.method_names, 0.0)
    fallbacks: dict[str, set[str]] = {name: set() for name in plan.method_names}
    weights = [e.weight for e in cfg.models]
    densities = [cfg.density_of(i) for i in range(len(cfg.models))]
    use_h = plan.needs != "none" and stores is not None
    t_all = time.perf_counter()
    # The pass is memory-bound on cache-sized chunks: one thread avoids OpenMP hand-offs that cost
    # more than they save (badly so on a shared machine); ``threads`` overrides.
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads or 1)
    try:
        _pass(plan, stores, writers, spent, fallbacks, weights, densities, use_h)
    finally:
        torch.set_num_threads(prev_threads)
    for w in writers.values():
        w.close()
    total = time.perf_counter() - t_all
    share = (total - sum(spent.values())) / max(len(writers), 1)
    return {m: {"merge_time": round(spent[m] + share, 3), "compute_time": round(spent[m], 3),
                "fallback_tensors": sorted(fallbacks[m]), "pass_time": round(total, 3)} for m in plan.method_names}


def _pass(plan: MergePlan, stores: list[HessianStore | None] | None, writers: dict[str, ShardedWriter],
          spent: dict[str, float], fallbacks: dict[str, set[str]], weights: list[float], densities: list[float],
          use_h: bool) -> None:
    with TensorReader() as reader:
        for name in progress(plan.names, description="merging"):
            info = plan.base.tensors[name]
            touched = plan.in_scope(name) and any(inp.touches(name) for inp in plan.inputs)
            if not touched:
                raw = reader.read(info)
                for w in writers.values():
                    w.write(name, raw)
                continue
            base = reader.read_f32(info)
            deltas = [inp.delta(name, base, reader) if inp.touches(name) else None for inp in plan.inputs]
            hess = [s.get(name) if s is not None else None for s in stores] if use_h else None  # type: ignore[union-attr]
            # One job per tensor: the methods share its memo (magnitude thresholds, DARE masks).
            job = TensorJob(name, base, deltas, weights, densities, hess)
            for mname, method in plan.methods:
                t1 = time.perf_counter()
                job.fallbacks = set()
                out = method.fn(job, plan.params)
                if not math.isfinite(float(out.sum())):  # a sum is NaN/Inf iff an entry is (or it overflows)
                    raise FtError(f"method {mname}: tensor {name} has NaN/Inf after merging (check the inputs)")
                writers[mname].write(name, out)
                fallbacks[mname] |= job.fallbacks
                del out
                spent[mname] += time.perf_counter() - t1
            del base, deltas, hess, job


def finish_output_dir(plan: MergePlan, method: str, directory: Path) -> None:
    """Config, generation config, tokenizer files, ft_merge_config.yml and a model card."""
    import json

    cfg = plan.config
    config = dict(plan.base.config)
    if cfg.dtype:
        config["dtype"] = cfg.dtype
        config.pop("torch_dtype", None)
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    tok_dir = plan.base.path
    if cfg.tokenizer_source.isdigit():
        tok_dir = plan.inputs[int(cfg.tokenizer_source)].path
    elif cfg.tokenizer_source != "base":
        tok_dir = Path(cfg.tokenizer_source)
    for src_dir, only_gen in ((plan.base.path, True), (tok_dir, False)):
        for f in src_dir.iterdir():
            if not f.is_file() or f.name in SKIP_FILES or f.name.endswith(WEIGHT_SUFFIXES) or f.name.startswith("."):
                continue
            if only_gen != (f.name == "generation_config.json"):
                continue
            if f.name.startswith(("adapter_", "README")):
                continue
            shutil.copy2(f, directory / f.name)
    dump = cfg.model_dump(by_alias=True, exclude={"output_dir", "cache_dir", "overwrite_output_dir"})
    dump["methods"] = [method]
    (directory / "ft_merge_config.yml").write_text(yaml.safe_dump(dump, sort_keys=False))
    models = "\n".join(f"- `{e.model}` (weight {e.weight}, density {cfg.density_of(i)})" for i, e in enumerate(cfg.models))
    (directory / "README.md").write_text(
        f"---\nlibrary_name: transformers\ntags: [merge, ft-merge, {method}]\n---\n\n# {method} merge\n\n"
        f"Merged with ft-merge {__version__} (method `{method}`) over the base `{cfg.base_model}`:\n\n{models}\n\n"
        "The full configuration is in `ft_merge_config.yml`.\n")
