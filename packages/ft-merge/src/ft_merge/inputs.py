"""Merge inputs: full checkpoints or PEFT LoRA adapters, matched to the base's tensor names.

Nothing here loads tensor data: headers, configs and key maps only, so every check runs before
any heavy work. :meth:`ModelInput.delta` then produces one task vector at a time.

Key matching (no substring matching, ever): exact name; then known wrapper prefixes removed
(``base_model.model.``, ``module.``, ``_orig_mod.``); then the tied alias
``lm_head.weight`` ↔ ``model.embed_tokens.weight``; then the user's ``key_map`` regexes.

Example:
    >>> base = load_base("path/to/base")
    >>> ft = load_input("path/to/lora", base, index=0)
    >>> ft.kind, len(ft.report["matched"])
    ('lora', 60)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ft_core import BadInputError, Checkpoint, DataError, TensorInfo, UnsupportedError, read_checkpoint

from ._log import log
from .ops.lora import lora_delta
from .tensor_io import FLOAT_ST, TensorReader

WRAPPER_PREFIXES = ("base_model.model.", "module.", "_orig_mod.")
TIED = {"lm_head.weight": "model.embed_tokens.weight", "model.embed_tokens.weight": "lm_head.weight"}
ADAPTER_CONFIG = "adapter_config.json"


def resolve_dir(spec: str, what: str) -> Path:
    """A local directory for ``spec`` (a path, ``ft_models`` alias or cached hub id ``org/name[@rev]``)."""
    p = Path(spec).expanduser()
    if p.is_dir():
        return _nested(p)
    if p.exists():
        raise BadInputError(f"{what} {spec}: is a file; give the model directory")
    try:
        import ft_models

        resolver = getattr(ft_models, "resolve_model_path", None)
        if resolver is not None:
            return _nested(Path(resolver(spec)))
    except BadInputError:
        raise
    except Exception:  # fall through to the hub cache
        pass
    if spec.startswith((".", "/", "~")) or spec.count("/") != 1:
        raise BadInputError(f"{what} {spec}: directory not found (give a local model directory or a hub id org/name)")
    repo, _, rev = spec.partition("@")
    try:
        from huggingface_hub import snapshot_download

        return _nested(Path(snapshot_download(repo, revision=rev or None)))
    except Exception as exc:
        raise BadInputError(f"{what} {spec}: not a local directory and not downloadable ({type(exc).__name__})") from exc


def _nested(p: Path) -> Path:
    # Kaggle-style layouts put the model one directory down (the seed accepts that; so do we).
    if (p / "config.json").is_file() or (p / ADAPTER_CONFIG).is_file():
        return p
    subs = [c for c in p.iterdir() if c.is_dir() and not c.name.startswith(".")]
    if len(subs) == 1 and ((subs[0] / "config.json").is_file() or (subs[0] / ADAPTER_CONFIG).is_file()):
        log.info("%s: using the single nested model directory %s", p, subs[0].name)
        return subs[0]
    return p


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise BadInputError(f"{path}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}: not valid JSON ({exc})") from exc


@dataclass
class BaseModel:
    """The base checkpoint: directory, config.json and tensor headers (canonical names)."""

    path: Path
    config: dict[str, Any]
    ckpt: Checkpoint

    @property
    def tensors(self) -> dict[str, TensorInfo]:
        return self.ckpt.tensors


def load_base(spec: str) -> BaseModel:
    """Resolve and index the base model (headers only)."""
    path = resolve_dir(spec, "base model")
    if not (path / "config.json").is_file():
        raise BadInputError(f"base model {spec}: {path}/config.json not found (a full Hugging Face model directory is needed)")
    return BaseModel(path, _read_json(path / "config.json"), _checkpoint(path, spec))


def _checkpoint(path: Path, spec: str) -> Checkpoint:
    if not any(path.glob("*.safetensors")) and any(path.glob("*.bin")):
        raise UnsupportedError(f"{spec}: only pickled .bin weights; convert to safetensors first "
                               "(model.save_pretrained(dir, safe_serialization=True))")
    try:
        return read_checkpoint(path)
    except DataError as exc:
        raise BadInputError(f"{spec}: {exc}") from exc


def _canonical(key: str, key_map: Sequence[tuple[re.Pattern[str], str]]) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    for pattern, repl in key_map:
        key = pattern.sub(repl, key)
    return key


def _vocab_rows(base: BaseModel, name: str, a: Sequence[int], b: Sequence[int]) -> bool:
    """A shape difference only in dim 0 of an embedding or output head (a vocabulary difference)."""
    return len(a) == len(b) >= 1 and list(a[1:]) == list(b[1:]) and (
        "embed" in name or "lm_head" in name or "wte" in name or a[0] == base.config.get("vocab_size"))


@dataclass
class LoraModule:
    A: TensorInfo
    B: TensorInfo
    alpha: float
    r: int
    rslora: bool
    fan_in_fan_out: bool
    embedding: bool


@dataclass
class ModelInput:
    """One fine-tune: ``kind`` is "full" or "lora"; ``matched`` maps base names to input tensors."""

    spec: str
    index: int
    path: Path
    kind: str
    config: dict[str, Any]
    matched: dict[str, TensorInfo] = field(default_factory=dict)
    lora: dict[str, LoraModule] = field(default_factory=dict)
    report: dict[str, list[str]] = field(default_factory=dict)
    vocab_policy: str = "base"

    def touches(self, name: str) -> bool:
        """Whether this input can have a non-zero delta for ``name`` (LoRA: only targeted tensors)."""
        return name in self.matched or name in self.lora

    def delta(self, name: str, base: torch.Tensor, reader: TensorReader) -> torch.Tensor | None:
        """δ = θᵢ − θ₀ for ``name`` in float32, or None when it is identically zero."""
        out: torch.Tensor | None = None
        info = self.matched.get(name)
        if info is not None:
            t = reader.read_f32(info)
            if t.shape != base.shape:
                t = _fit_rows(t, base)
            out = t.sub_(base)
        mod = self.lora.get(name)
        if mod is not None:
            d = lora_delta(reader.read(mod.A), reader.read(mod.B), mod.alpha, mod.r, mod.rslora,
                           mod.fan_in_fan_out, mod.embedding)
            if d.shape != base.shape:
                d = _fit_rows(d + base, base).sub_(base)
            out = d if out is None else out.add_(d)
        return out


def _fit_rows(t: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    # Vocabulary policy "base": rows beyond the base's vocabulary are dropped; rows the input lacks
    # take the base's values (δ = 0 there).
    rows = base.shape[0]
    if t.shape[0] >= rows:
        return t[:rows].contiguous()
    return torch.cat([t, base[t.shape[0]:]], dim=0)


def load_input(spec: str, base: BaseModel, index: int, *, key_map: Mapping[str, str] | None = None,
               allow_missing: bool = False, vocab: str = "base", strict: bool = False) -> ModelInput:
    """Resolve, classify and key-match one fine-tune against the base (headers only).

    Raises ``BadInputError`` for missing files, other architectures, shape mismatches and (unless
    ``allow_missing``) base tensors the input lacks.
    """
    spec_path, _, adapter = spec.partition("+")
    path = resolve_dir(spec_path, f"model {index + 1}")
    if adapter:
        path = resolve_dir(str(path / adapter) if (path / adapter).is_dir() else adapter, f"adapter of model {index + 1}")
    kmap = [(re.compile(k), v) for k, v in (key_map or {}).items()]
    if (path / ADAPTER_CONFIG).is_file():
        return _load_lora(spec, path, base, index, kmap)
    if not (path / "config.json").is_file():
        raise BadInputError(f"model {index + 1} {spec}: {path} has neither config.json (full model) nor "
                            f"{ADAPTER_CONFIG} (LoRA adapter)")
    config = _read_json(path / "config.json")
    _check_architecture(base, config, spec)
    ckpt = _checkpoint(path, spec)
    inp = ModelInput(spec, index, path, "full", config, vocab_policy=vocab)
    canon: dict[str, TensorInfo] = {}
    for key, info in ckpt.tensors.items():
        canon.setdefault(_canonical(key, kmap), info)
    missing, aliased, vocab_rows = [], [], []
    for name, binfo in base.tensors.items():
        info = canon.get(name)
        if info is None and name in TIED and TIED[name] in canon:
            info = canon[TIED[name]]
            aliased.append(name)
        if info is None:
            missing.append(name)
            continue
        if list(info.shape) != list(binfo.shape):
            if _vocab_rows(base, name, binfo.shape, info.shape):
                if vocab == "error":
                    raise BadInputError(f"model {index + 1} {spec}: {name} has {info.shape[0]} rows, the base "
                                        f"{binfo.shape[0]} (different vocabulary); use vocab: base")
                vocab_rows.append(f"{name}: {info.shape[0]} -> {binfo.shape[0]} rows")
            else:
                raise BadInputError(f"model {index + 1} {spec}: tensor {name} has shape {info.shape}, the base "
                                    f"{binfo.shape}; models must share the base's architecture")
        if binfo.dtype in FLOAT_ST:
            inp.matched[name] = info
    extra = sorted(k for k in canon if k not in base.tensors and not (k in TIED and TIED[k] in base.tensors))
    ignored_heads = sorted(k for k in canon if k not in base.tensors and k in TIED and TIED[k] in base.tensors)
    if ignored_heads:
        msg = f"model {index + 1} {spec}: {ignored_heads[0]} is not in the tied base and is ignored"
        if strict:
            raise BadInputError(msg + " (strict)")
        log.warning(msg)
    if missing and not allow_missing:
        raise BadInputError(f"model {index + 1} {spec}: {len(missing)} base tensor(s) missing, e.g. {missing[0]}; "
                            "pass allow_missing to treat them as unchanged, or a key_map")
    for k in extra[:3]:
        log.warning("model %d %s: tensor %s is not in the base and is ignored", index + 1, spec, k)
    inp.report = {"missing": missing, "extra": extra, "aliased": aliased, "ignored": ignored_heads,
                  "vocab_rows": vocab_rows, "matched": sorted(inp.matched)}
    return inp


def _check_architecture(base: BaseModel, config: dict[str, Any], spec: str) -> None:
    for key in ("model_type", "num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads"):
        if key in base.config and key in config and base.config[key] != config[key]:
            raise BadInputError(f"{spec}: config.json {key} = {config[key]!r} but the base has "
                                f"{base.config[key]!r}; only fine-tunes of the same base can be merged")


_LORA_RE = re.compile(r"^(?P<mod>.+?)\.(?P<kind>lora_A|lora_B|lora_embedding_A|lora_embedding_B)(?:\.[^.]+)?(?:\.weight)?$")


def _pattern_value(patterns: Mapping[str, Any], module: str, default: Any) -> Any:
    # PEFT's rule: a pattern matches a module name when it matches a dotted suffix of it.
    for pattern, value in patterns.items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return value
    return default


def _load_lora(spec: str, path: Path, base: BaseModel, index: int,
               kmap: Sequence[tuple[re.Pattern[str], str]]) -> ModelInput:
    cfg = _read_json(path / ADAPTER_CONFIG)
    if cfg.get("use_dora"):
        raise UnsupportedError(f"model {index + 1} {spec}: DoRA adapters are not B·A deltas; merge it with "
                               "peft's merge_and_unload and pass the merged model")
    files = sorted(path.glob("adapter_model*.safetensors"))
    if not files:
        raise BadInputError(f"model {index + 1} {spec}: {path}/adapter_model.safetensors not found")
    ckpt = _checkpoint(path, spec) if len(files) > 1 else read_checkpoint(files[0])
    r0, alpha0 = int(cfg.get("r", 8)), float(cfg.get("lora_alpha", 8))
    rslora, fifo = bool(cfg.get("use_rslora")), bool(cfg.get("fan_in_fan_out"))
    inp = ModelInput(spec, index, path, "lora", cfg)
    parts: dict[str, dict[str, TensorInfo]] = {}
    for key, info in ckpt.tensors.items():
        m = _LORA_RE.match(key)
        if m:
            parts.setdefault(m["mod"], {})[m["kind"]] = info
            continue
        # modules_to_save copies and saved embedding base layers are full tensors (Δ = saved − base).
        name = _canonical(re.sub(r"\.(modules_to_save\.[^.]+|base_layer)\.", ".", key), kmap)
        if name not in base.tensors and name in TIED and TIED[name] in base.tensors:
            log.warning("model %d %s: %s is not in the tied base and is ignored", index + 1, spec, key)
            continue
        if name not in base.tensors:
            raise BadInputError(f"model {index + 1} {spec}: adapter tensor {key} has no base tensor {name}")
        if list(info.shape) != list(base.tensors[name].shape):
            raise BadInputError(f"model {index + 1} {spec}: {key} has shape {info.shape}, base {name} "
                                f"{base.tensors[name].shape}")
        inp.matched[name] = info  # modules_to_save / trained biases: full replacements
    for mod, ab in parts.items():
        module = _canonical(mod, kmap)
        name = f"{module}.weight"
        emb = "lora_embedding_A" in ab
        A, B = (ab.get("lora_embedding_A"), ab.get("lora_embedding_B")) if emb else (ab.get("lora_A"), ab.get("lora_B"))
        if A is None or B is None:
            raise BadInputError(f"model {index + 1} {spec}: {mod} has only one of lora_A/lora_B")
        if name not in base.tensors:
            raise BadInputError(f"model {index + 1} {spec}: LoRA module {mod} targets {name}, not in the base")
        r = int(_pattern_value(cfg.get("rank_pattern") or {}, module, r0))
        alpha = float(_pattern_value(cfg.get("alpha_pattern") or {}, module, alpha0))
        out_shape = [B.shape[0], A.shape[1]]
        if emb or fifo:
            out_shape = out_shape[::-1]
        bshape = list(base.tensors[name].shape)
        if out_shape[1:] != bshape[1:] or (out_shape[0] != bshape[0] and not _vocab_rows(base, name, bshape, out_shape)):
            raise BadInputError(f"model {index + 1} {spec}: LoRA {mod} gives a {out_shape} delta, base {name} is {bshape}")
        inp.lora[name] = LoraModule(A, B, alpha, r, rslora, fifo, emb)
    inp.report = {"missing": [], "extra": [], "aliased": [], "ignored": [], "vocab_rows": [],
                  "matched": sorted(set(inp.matched) | set(inp.lora))}
    return inp
