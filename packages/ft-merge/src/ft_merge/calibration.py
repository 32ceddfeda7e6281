"""Calibration Hessians: one forward pass per sample per model, hooks on every decoder Linear.

For each model, :func:`hessians_for_input` loads the model (a LoRA input: the base with B·A·s
added in place; nothing is written), registers a forward pre-hook on every ``nn.Linear`` inside
the decoder blocks, runs the calibration windows once, and accumulates H = 2XᵀX/T over non-pad
tokens. Linears fed the very same input tensor (q/k/v, gate/up) share one accumulator.

The result is cached under ``cache_dir/hessians/hessian_{i}/`` (``stats.safetensors`` +
``meta.json``) with a fingerprint of model files, dataset, sample count, sequence length, seed,
tokenizer, damping and source; a changed input recomputes instead of reusing a stale cache.

Example:
    >>> store = hessians_for_input(plan, 0, tokenizer)   # HessianStore (cached)
    >>> store.get("model.layers.0.self_attn.q_proj.weight").hinv_diag.shape
    torch.Size([576])
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from ft_core import BadInputError, TensorInfo, atomic_output_dir, progress, read_header

from . import __version__
from ._log import log, quiet_transformers
from .calib_data import DatasetUnavailable, dummy_windows, load_texts, pack_windows
from .ops.sparsegpt import HessianAccumulator, HessianStats, hessian_stats
from .plan import MergePlan
from .tensor_io import TensorReader


def decoder_blocks(model: torch.nn.Module) -> tuple[str, torch.nn.ModuleList]:
    """The ModuleList of decoder blocks (length ``config.num_hidden_layers``) and its qualified name."""
    n_layers = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    best: tuple[str, torch.nn.ModuleList] | None = None
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.ModuleList) and len(mod) > 0 and (n_layers is None or len(mod) == n_layers):
            best = (name, mod)
            break
    if best is None:
        raise BadInputError(f"{type(model).__name__}: no list of {n_layers} decoder blocks found for calibration")
    return best


class HessianCollector:
    """Forward pre-hooks on every Linear in the decoder blocks; leaders accumulate, sharers skip."""

    def __init__(self, model: torch.nn.Module) -> None:
        prefix, blocks = decoder_blocks(model)
        self.linears: dict[str, torch.nn.Linear] = {}
        for name, mod in blocks.named_modules():
            if isinstance(mod, torch.nn.Linear):
                self.linears[f"{prefix}.{name}.weight"] = mod
        self.acc: dict[str, HessianAccumulator] = {}
        self.group: dict[str, str] = {}  # weight name -> leader weight name
        self._seen: dict[tuple[int, tuple[int, ...]], str] = {}
        self.mask: torch.Tensor | None = None
        self._handles = [m.register_forward_pre_hook(self._hook(n)) for n, m in self.linears.items()]

    def _hook(self, name: str) -> Any:
        def hook(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0]
            if name not in self.group:
                key = (x.data_ptr(), tuple(x.shape))
                self.group[name] = self._seen.setdefault(key, name)
            if self.group[name] != name:
                return
            acc = self.acc.get(name)
            if acc is None:
                acc = self.acc[name] = HessianAccumulator(x.shape[-1])
            mask = self.mask if self.mask is not None and x.dim() == 3 and x.shape[:2] == self.mask.shape else None
            acc.add(x.detach().to("cpu", torch.float32), mask)

        return hook

    def new_batch(self, mask: torch.Tensor) -> None:
        self.mask = mask.cpu()
        self._seen.clear()

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def _file_sig(paths: list[Path]) -> list[list[Any]]:
    return [[str(p.resolve()), p.stat().st_size, int(p.stat().st_mtime)] for p in sorted(paths) if p.is_file()]


def fingerprint(plan: MergePlan, i: int, source: str) -> dict[str, Any]:
    """Everything a cached Hessian depends on (a changed field means recompute)."""
    cfg = plan.config
    inp = plan.inputs[i]
    files = [p for p in inp.path.iterdir() if p.suffix in (".safetensors", ".json")]
    base_files = [p for p in plan.base.path.iterdir() if p.suffix in (".safetensors", ".json", ".model", ".txt")]
    return {"model": str(inp.path.resolve()), "model_files": _file_sig(files),
            "base_files": _file_sig(base_files), "dataset": cfg.models[i].calibration,
            "split": cfg.calibration_split, "text_field": cfg.text_field,
            "num_samples": cfg.num_calibration_samples, "seq_len": cfg.calibration_seq_length, "seed": cfg.seed,
            "percdamp": cfg.percdamp, "hessian_source": cfg.hessian_source, "source": source,
            "ft_merge": __version__}


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


class HessianStore:
    """Cached statistics of one input: ``get(weight_name) -> HessianStats | None`` (lazy reads)."""

    def __init__(self, directory: Path, meta: dict[str, Any]) -> None:
        self.directory = directory
        self.meta = meta
        self.groups: dict[str, str] = meta["groups"]
        header = read_header(directory / "stats.safetensors")
        self._infos: dict[str, TensorInfo] = header.tensors
        self._reader = TensorReader()
        self._last: tuple[str, HessianStats] | None = None

    def get(self, name: str) -> HessianStats | None:
        leader = self.groups.get(name)
        if leader is None:
            return None
        if self._last is not None and self._last[0] == leader:
            return self._last[1]
        full = self._infos.get(f"{leader}::H")
        stats = HessianStats(hinv_diag=self._reader.read_f32(self._infos[f"{leader}::hinv_diag"]),
                             diag=self._reader.read_f32(self._infos[f"{leader}::diag"]),
                             H=self._reader.read_f32(full) if full is not None else None,
                             tokens=int(self.meta.get("tokens", 0)), percdamp=float(self.meta["percdamp"]))
        self._last = (leader, stats)
        return stats

    def close(self) -> None:
        self._reader.close()


def _load_cached(directory: Path, fp: dict[str, Any], need_full: bool) -> HessianStore | None:
    meta_path = directory / "meta.json"
    if not meta_path.is_file() or not (directory / "stats.safetensors").is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError:
        return None
    if meta.get("fingerprint") != _digest(fp) or (need_full and not meta.get("full")):
        log.info("%s: calibration cache is stale (inputs changed); recomputing", directory)
        return None
    return HessianStore(directory, meta)


def calibration_windows(plan: MergePlan, i: int, tokenizer: Any) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Token windows for input ``i`` and their source ("dataset" or "dummy")."""
    cfg = plan.config
    spec = cfg.models[i].calibration
    try:
        if not spec:
            raise DatasetUnavailable(f"model {i + 1}: no calibration dataset")
        texts = load_texts(spec, cfg.calibration_split, cfg.text_field, tokenizer,
                           limit=max(cfg.num_calibration_samples * 4, 64))
        if not texts:
            raise DatasetUnavailable(f"dataset {spec}: no text")
        ids, mask = pack_windows(tokenizer, texts, cfg.num_calibration_samples, cfg.calibration_seq_length)
        return ids, mask, "dataset"
    except DatasetUnavailable as exc:
        if cfg.calibration_fallback != "dummy":
            raise
        log.warning("CALIBRATION FALLBACK: %s; using %d random-token windows for model %d (recorded as "
                    "calibration_source=dummy)", exc, cfg.num_calibration_samples, i + 1)
        vocab = int(plan.base.config.get("vocab_size") or len(tokenizer))
        ids, mask = dummy_windows(vocab, cfg.num_calibration_samples, cfg.calibration_seq_length, cfg.seed + i)
        return ids, mask, "dummy"


def load_calibration_model(plan: MergePlan, i: int, device: str, finetuned: bool | None = None) -> torch.nn.Module:
    """Model i in float32 on ``device``: a full fine-tune from its directory, a LoRA input as the
    base with its deltas added in place (no merged model is written); the base for
    ``hessian_source: base``."""
    from transformers import AutoModelForCausalLM

    quiet_transformers()
    inp = plan.inputs[i]
    own = plan.config.hessian_source == "finetuned" if finetuned is None else finetuned
    path = inp.path if (own and inp.kind == "full") else plan.base.path
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    if inp.kind == "lora" and own:
        params = dict(model.named_parameters())
        with torch.no_grad(), TensorReader() as reader:
            for name in inp.report["matched"]:
                p = params.get(name)
                if p is not None:
                    d = inp.delta(name, p.data.float(), reader)
                    if d is not None:
                        p.data.add_(d.to(p.dtype))
    return model.to(device).eval()


def hessians_for_input(plan: MergePlan, i: int, tokenizer: Any, device: str = "cpu") -> tuple[HessianStore | None, dict[str, Any]]:
    """The (cached) HessianStore of input ``i`` and a manifest entry describing it."""
    cfg = plan.config
    if cfg.calibration_fallback == "identity" and not cfg.models[i].calibration:
        return None, {"calibration_source": "identity", "cache_hit": False}
    need_full = plan.needs == "full"
    directory = Path(cfg.cache_dir) / "hessians" / f"hessian_{i}"
    # Windows first (tokenizing is cheap next to the forward passes): their digest makes the
    # fingerprint cover dataset content, split, sample count, sequence length and tokenizer at once.
    ids, mask, source = calibration_windows(plan, i, tokenizer)
    fp = fingerprint(plan, i, source)
    fp["windows"] = hashlib.sha256(ids.numpy().tobytes() + mask.numpy().tobytes()).hexdigest()[:16]
    store = _load_cached(directory, fp, need_full)
    if store is not None:
        log.info("model %d: calibration cache hit (%s)", i + 1, directory)
        return store, {"calibration_source": source, "cache_hit": True, "tokens": store.meta.get("tokens"),
                       "fingerprint": store.meta["fingerprint"]}
    model = load_calibration_model(plan, i, device)
    collector = HessianCollector(model)
    bs = max(1, cfg.calibration_batch_size)
    batches = range(0, ids.shape[0], bs)
    with torch.inference_mode():
        for b in progress(batches, total=len(batches), description=f"calibrating model {i + 1}"):
            m = mask[b:b + bs]
            collector.new_batch(m)
            model(input_ids=ids[b:b + bs].to(device), attention_mask=m.to(device).long(), use_cache=False)
    collector.remove()
    del model
    tensors: dict[str, torch.Tensor] = {}
    tokens = 0
    for leader, acc in collector.acc.items():
        stats = hessian_stats(acc.hessian(), cfg.percdamp, keep_full=need_full, tokens=acc.tokens)
        tokens = max(tokens, acc.tokens)
        tensors[f"{leader}::hinv_diag"] = stats.hinv_diag.contiguous()
        tensors[f"{leader}::diag"] = stats.diag.contiguous()
        if need_full:
            tensors[f"{leader}::H"] = acc.hessian().contiguous()
    groups = {n: g for n, g in collector.group.items() if g in collector.acc}
    meta = {"fingerprint": _digest(fp), "fingerprint_fields": fp, "groups": groups, "tokens": tokens,
            "percdamp": cfg.percdamp, "full": need_full, "calibration_source": source}
    from safetensors.torch import save_file

    directory.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output_dir(directory, overwrite=True) as tmp:
        save_file(tensors, str(tmp / "stats.safetensors"))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    return HessianStore(directory, meta), {"calibration_source": source, "cache_hit": False, "tokens": tokens,
                                           "fingerprint": meta["fingerprint"]}
