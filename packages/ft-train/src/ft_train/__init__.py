"""ft-train: training stages (pt, sft) on the Hugging Face Trainer, configured by LLaMA-Factory YAML keys;
checkpoints and resume, evaluation and generation metrics, loss plots, export of merged models,
distributed launch through torchrun, and the quickstart.

Example:
    >>> from ft_train import load_train_config, run_train
    >>> metrics = run_train(load_train_config("docs/examples/lora_sft.yaml", ["max_steps=10"]))
"""

# ruff: noqa: E402 -- the environment defaults below must be set before the submodules import torch
from __future__ import annotations

from ft_core.torchenv import apply_torch_env_defaults as _apply_torch_env_defaults

# Before anything below loads torch: passive OpenMP waiting and torch's huge-page allocator for
# big CPU tensors (why, with figures: ft_core.torchenv). Values the user set win.
_apply_torch_env_defaults()

__version__ = "0.1.0"

from ft_data.scorers import text_scores

from .config import ExportConfig, TrainConfig, config_dict, load_export_config, load_train_config
from .export import run_export
from .stages import STAGES, Stage, get_stage, register_stage
from .validation import Runtime, validate_export_args, validate_train_args
from .workflow import check_train_config, run_train

__all__ = [
    "STAGES", "ExportConfig", "Runtime", "Stage", "TrainConfig", "__version__", "check_train_config", "config_dict",
    "get_stage", "load_export_config", "load_train_config", "register_stage", "run_export", "run_train",
    "text_scores", "validate_export_args", "validate_train_args",
]
