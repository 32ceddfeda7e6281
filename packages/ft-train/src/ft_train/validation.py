"""Cross-argument validation of a training or export config (LLaMA-Factory's rules, spec 4.7).

Pure functions over the resolved config as a mapping plus a description of the runtime, so
every rule is unit-tested without a model, a GPU or a process group. Each rule that fails
yields one line naming the keys and the way out; the CLI raises the first as a ``ConfigError``
(exit 2).

Example:
    >>> validate_train_args({"stage": "pt", "predict_with_generate": True, "dataset": ["c4"]})
    ["'predict_with_generate' needs stage 'sft' (got stage 'pt'); remove it or set stage: sft"]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Runtime:
    """What the machine and launcher provide; the defaults describe a plain CPU process."""

    world_size: int = 1
    launched_distributed: bool = False
    cuda: bool = False
    bf16_supported: bool = True


def deepspeed_stage(deepspeed: Any) -> int | None:
    """ZeRO stage of a DeepSpeed config given as a dict or a JSON file path (None when unset/unreadable)."""
    if not deepspeed:
        return None
    cfg = deepspeed
    if isinstance(deepspeed, (str, Path)):
        try:
            cfg = json.loads(Path(deepspeed).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
    if not isinstance(cfg, Mapping):
        return None
    stage = cfg.get("zero_optimization", {}).get("stage")
    return int(stage) if isinstance(stage, int) else None


def _on(args: Mapping[str, Any], key: str) -> bool:
    return bool(args.get(key))


def validate_train_args(args: Mapping[str, Any], runtime: Runtime = Runtime()) -> list[str]:
    """All violated training rules, one line each (empty list when the config is consistent)."""
    errors: list[str] = []
    stage = args.get("stage", "sft")
    ftype = args.get("finetuning_type", "lora")
    zero3 = deepspeed_stage(args.get("deepspeed")) == 3
    quantized = args.get("quantization_bit") is not None

    if stage != "sft":
        for key in ("predict_with_generate", "neat_packing", "train_on_prompt", "mask_history"):
            if _on(args, key):
                errors.append(f"{key!r} needs stage 'sft' (got stage {stage!r}); remove it or set stage: sft")
    if stage == "sft" and _on(args, "do_predict") and not _on(args, "predict_with_generate"):
        errors.append("'do_predict' with stage 'sft' needs 'predict_with_generate: true'")
    if stage in ("rm", "ppo") and _on(args, "load_best_model_at_end"):
        errors.append(f"stage {stage!r} cannot use 'load_best_model_at_end'; remove it")
    if runtime.world_size > 1 and not runtime.launched_distributed:
        errors.append("several devices need a distributed launch: run 'ft train' (it starts torchrun) or torchrun")
    if args.get("deepspeed") and not runtime.launched_distributed:
        errors.append("'deepspeed' needs distributed mode: set FORCE_TORCHRUN=1 (or run under torchrun)")
    if _on(args, "streaming") and (args.get("max_steps") or -1) <= 0:
        errors.append("'streaming: true' needs 'max_steps' > 0 (a stream has no length to count epochs)")
    if _on(args, "do_train") and not args.get("dataset"):
        errors.append("'do_train: true' needs 'dataset' (names from dataset_info.json, comma-separated)")
    evaluating = _on(args, "do_eval") or _on(args, "do_predict") or args.get("eval_strategy", "no") != "no"
    if evaluating and not args.get("eval_dataset") and not (args.get("val_size") or 0) > 0:
        errors.append("evaluation needs 'eval_dataset' or 'val_size' > 0")
    if _on(args, "predict_with_generate") and zero3:
        errors.append("'predict_with_generate' does not work with DeepSpeed ZeRO-3; use a ZeRO-2 config")
    if _on(args, "predict_with_generate") and _on(args, "compute_accuracy"):
        errors.append("'predict_with_generate' and 'compute_accuracy' exclude each other; keep one")
    if args.get("quantization_device_map") == "auto":
        errors.append("'quantization_device_map: auto' is for inference only; remove it to train")
    if _on(args, "pissa_init") and zero3:
        errors.append("'pissa_init' does not work with DeepSpeed ZeRO-3; initialise PiSSA first, then train")
    if _on(args, "pissa_init") and quantized:
        errors.append("'pissa_init' does not work with 'quantization_bit'; initialise PiSSA on the unquantised model first")
    if _on(args, "pure_bf16") and not runtime.bf16_supported:
        errors.append("'pure_bf16' needs hardware with bfloat16 support")
    if _on(args, "pure_bf16") and zero3:
        errors.append("'pure_bf16' does not work with DeepSpeed ZeRO-3; use 'bf16: true' instead")
    if args.get("infer_backend", "huggingface") not in ("huggingface", "hf", None):
        errors.append(f"'infer_backend: {args.get('infer_backend')}' is for inference; training needs huggingface")
    if args.get("adapter_name_or_path") and ftype != "lora":
        errors.append(f"'adapter_name_or_path' needs 'finetuning_type: lora' (got {ftype!r})")
    if quantized and ftype not in ("lora", "oft"):
        errors.append(f"'quantization_bit' (QLoRA) needs 'finetuning_type: lora' (got {ftype!r})")
    if quantized and _on(args, "resize_vocab"):
        errors.append("'resize_vocab' does not work on a quantised model; remove 'quantization_bit' or 'resize_vocab'")
    adapters = args.get("adapter_name_or_path") or []
    if quantized and isinstance(adapters, list) and len(adapters) > 1:
        errors.append("a quantised model takes a single adapter in 'adapter_name_or_path'")
    if quantized and not runtime.cuda:
        errors.append("'quantization_bit' (bitsandbytes) needs a CUDA GPU; on CPU train LoRA without it")
    for key in ("use_dora", "use_rslora", "pissa_init", "loraplus_lr_ratio"):
        if _on(args, key) and ftype != "lora":
            errors.append(f"{key!r} needs 'finetuning_type: lora' (got {ftype!r})")
    if _on(args, "use_llama_pro") and ftype == "full":
        errors.append("'use_llama_pro' needs 'finetuning_type: freeze' or 'lora', not 'full'")
    if args.get("fp16") and not runtime.cuda:
        errors.append("'fp16: true' needs a GPU; on CPU use 'bf16: true' or neither")
    return errors


def validate_export_args(args: Mapping[str, Any]) -> list[str]:
    """Violated export rules, one line each."""
    errors: list[str] = []
    if not args.get("export_dir"):
        errors.append("'export_dir' is required: where the merged model is written")
    if args.get("export_quantization_bit") is not None and args.get("adapter_name_or_path"):
        errors.append("cannot quantise while merging adapters: merge first (export without "
                      "'export_quantization_bit'), then quantise the merged model")
    if args.get("quantization_bit") is not None and args.get("adapter_name_or_path"):
        errors.append("cannot merge an adapter into a quantised model: remove 'quantization_bit' and merge into "
                      "the unquantised base, then quantise the merged model")
    if args.get("export_quantization_bit") is not None and not args.get("export_quantization_dataset"):
        errors.append("'export_quantization_bit' needs 'export_quantization_dataset' for calibration")
    return errors
