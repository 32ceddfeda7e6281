"""``TrainConfig`` and ``ExportConfig``: one flat pydantic model per command, LLaMA-Factory's keys.

A LLaMA-Factory YAML is flat (model, method, dataset, output and train keys side by side), so
the config is flat too: it inherits the sections (model, adapter, data, generation, stage,
Hugging Face Trainer, export) and forbids anything else. ``load_train_config`` reads the YAML
plus ``key=value`` overrides; an unknown key is one line with the closest valid key, and keys
LLaMA-Factory has but ft does not implement say so instead of "unknown".

Example:
    >>> cfg = load_train_config("docs/examples/quickstart.yaml", ["max_steps=5"])
    >>> cfg.stage, cfg.finetuning_type, cfg.max_steps
    ('sft', 'lora', 5)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pydantic

from ft_core import ConfigError, load_config, parse_overrides, read_config_file
from ft_data import DataArgs
from ft_models import FinetuningArgs, ModelArgs
from ft_models.generation import GeneratingArgs

from .args import StageArgs, TrainingArgs
from .preference import PreferenceArgs
from .sections import ExportArgs

# LLaMA-Factory keys ft does not implement: named as such instead of "unknown key".
NOT_IMPLEMENTED = {
    "use_galore", "galore_target", "galore_rank", "galore_update_interval", "galore_scale", "galore_proj_type",
    "galore_layerwise", "use_apollo", "use_badam", "badam_mode", "use_adam_mini", "use_muon", "use_unsloth",
    "use_unsloth_gc", "shift_attn", "mixture_of_depths", "use_mca", "use_megatron_bridge", "use_swanlab",
    "oft_rank", "oft_block_size", "oft_target", "module_dropout", "use_dft_loss", "use_asft_loss",
    "use_eaft_loss", "enable_torch_profiler", "fp8", "fp8_backend", "ray_num_workers", "ray_init_kwargs",
    "use_kt", "reward_model", "ppo_epochs",
    "image_max_pixels", "video_max_pixels", "freeze_vision_tower", "vllm_maxlen", "sglang_maxlen",
}


class TrainConfig(PreferenceArgs, StageArgs, GeneratingArgs, TrainingArgs, DataArgs, FinetuningArgs, ModelArgs):  # type: ignore[misc, valid-type]
    """Everything ``ft train`` reads: model, adapter, data, generation, stage and Trainer keys."""

    model_config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True, use_enum_values=True,
                                       protected_namespaces=(), validate_assignment=False)


class ExportConfig(ExportArgs, GeneratingArgs, FinetuningArgs, ModelArgs):
    """Everything ``ft export`` reads: the model, its adapters, the template and the export keys."""

    model_config = pydantic.ConfigDict(extra="forbid", protected_namespaces=())
    template: str | None = None
    # LLaMA-Factory export YAMLs sometimes carry these; harmless here.
    stage: str = "sft"
    do_train: bool = False
    output_dir: str | None = None
    overwrite_output_dir: bool = False


def _refuse_not_implemented(path: str | Path | None, overrides: list[str]) -> None:
    sources = [("command line", parse_overrides(overrides))]
    if path is not None:
        sources.insert(0, (str(path), read_config_file(path)))
    for source, data in sources:
        for key in data:
            if key in NOT_IMPLEMENTED:
                raise ConfigError(f"{source}: LLaMA-Factory key {key!r} is not implemented in ft; remove it "
                                  "(docs/ft-train.md lists what ft-train supports)")


def load_train_config(path: str | Path | None, overrides: Iterable[str] = ()) -> TrainConfig:
    """Read a training YAML/JSON plus overrides into a ``TrainConfig`` (one-line ``ConfigError`` on failure)."""
    overrides = list(overrides)
    _refuse_not_implemented(path, overrides)
    return load_config(TrainConfig, path, overrides)


def load_export_config(path: str | Path | None, overrides: Iterable[str] = ()) -> ExportConfig:
    """Read an export YAML/JSON plus overrides into an ``ExportConfig``."""
    overrides = list(overrides)
    _refuse_not_implemented(path, overrides)
    return load_config(ExportConfig, path, overrides)


def config_dict(cfg: pydantic.BaseModel) -> dict[str, Any]:
    """The config as plain JSON-able data (for ``run.json``), tokens redacted."""
    data = cfg.model_dump(mode="json")
    for key in ("hf_hub_token", "hub_token"):
        if data.get(key):
            data[key] = "***"
    return data


__all__ = ["ConfigError", "ExportConfig", "TrainConfig", "config_dict", "load_export_config", "load_train_config"]
