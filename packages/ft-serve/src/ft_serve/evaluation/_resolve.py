"""The models of an ``ft eval`` run, resolved and checked before anything loads.

Every path must exist (or be an alias / reachable hub id), every adapter must be a saved LoRA
adapter, and its LoRA matrices must fit the base: each ``lora_A`` [r, in] and ``lora_B`` [out, r]
is compared with the base weight it adapts, read from the safetensors headers (no weights are
loaded), so an adapter trained on another base is refused in a second, not after the models
before it were evaluated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ft_core import BadInputError, ConfigError, read_checkpoint

from .config import EvalConfig

__all__ = ["ModelRun", "check_adapter_fits", "resolve_models"]

_FLOAT_DTYPES = {"F32", "F16", "BF16", "F64"}


@dataclass(frozen=True)
class ModelRun:
    """One model of the comparison: its column name, base, optional adapter and template."""

    name: str
    base: str
    base_path: Path
    adapter: str | None
    adapter_path: Path | None
    template: str | None

    def describe(self) -> dict[str, str | None]:
        return {"model_name_or_path": self.base, "adapter_name_or_path": self.adapter, "template": self.template}


def _resolve(name: str, what: str) -> Path:
    from ft_models import resolve_model_path

    try:
        return Path(resolve_model_path(name))
    except BadInputError as exc:
        raise BadInputError(f"{what}: {exc}") from exc


def _lora_module(key: str) -> tuple[str, str] | None:
    for part in (".lora_A.", ".lora_B."):
        if part in key:
            module = key.split(part)[0]
            return module.removeprefix("base_model.model."), part.strip(".")
    return None


def check_adapter_fits(adapter_path: Path, base_path: Path, adapter: str) -> None:
    """ConfigError unless every LoRA pair of the adapter fits the base's weight shapes."""
    files = sorted(adapter_path.glob("adapter_model*.safetensors"))
    if not files:
        return  # a .bin adapter: peft checks the shapes when it loads
    try:
        base = read_checkpoint(base_path, strict_index=False).tensors
    except BadInputError:
        return  # no safetensors in the base (e.g. .bin weights): peft checks when it loads
    config = json.loads((adapter_path / "adapter_config.json").read_text(encoding="utf-8"))
    transposed = bool(config.get("fan_in_fan_out"))
    for file in files:
        for key, info in read_checkpoint(file).tensors.items():
            found = _lora_module(key)
            if found is None or len(info.shape) != 2:
                continue
            module, kind = found
            weight = base.get(f"{module}.weight")
            if weight is None:
                raise ConfigError(f"adapter {adapter}: it adapts {module}, which the base model {base_path} does not "
                                  "have (trained on another base?); give the adapter trained on this base")
            if weight.dtype not in _FLOAT_DTYPES or len(weight.shape) != 2:
                continue  # quantized or fused layouts: peft checks when it loads
            out_f, in_f = reversed(weight.shape) if transposed else weight.shape
            want, got = (in_f, info.shape[1]) if kind == "lora_A" else (out_f, info.shape[0])
            if want != got:
                raise ConfigError(f"adapter {adapter}: {module} is {got} wide in the adapter but {want} in the base "
                                  f"model {base_path} (trained on another base?); give the adapter trained on this base")


def resolve_models(cfg: EvalConfig) -> list[ModelRun]:
    """The runs ``cfg`` asks for, every path resolved and every adapter checked against its base."""
    runs = []
    for i, spec in enumerate(cfg.model_specs()):
        where = f"models[{i}]" if cfg.models else "model_name_or_path"
        base = spec.model_name_or_path or cfg.model_name_or_path
        adapter = spec.adapter_name_or_path
        if spec.path:
            path = _resolve(spec.path, where)
            if (path / "adapter_config.json").is_file():
                adapter = spec.path
            else:
                base = spec.path
        base_path = _resolve(base, where)
        if (base_path / "adapter_config.json").is_file() and not (base_path / "config.json").is_file():
            raise ConfigError(f"{where}: {base} is a LoRA adapter, not a model; give the base as model_name_or_path "
                              "and the adapter in models or adapter_name_or_path")
        adapter_path = None
        if adapter:
            adapter_path = _resolve(adapter, f"{where}: adapter")
            if not (adapter_path / "adapter_config.json").is_file():
                raise ConfigError(f"{where}: adapter {adapter}: no adapter_config.json there; give the directory of "
                                  "a saved LoRA adapter")
            check_adapter_fits(adapter_path, base_path, adapter)
        runs.append(ModelRun(spec.display_name(), base, base_path, adapter, adapter_path, spec.template or cfg.template))
    return runs
