"""Merge a LoRA adapter into its base model and save a plain Hugging Face directory.

A quantized base is refused: merging into rounded weights bakes the rounding error into the
result and bitsandbytes layers cannot be saved as plain weights. The way out is to merge into the
unquantised base, then quantise the merged model.

Example:
    >>> merge_lora("smollm2-135m-instruct", "runs/sft/adapter", "runs/sft/merged")
    PosixPath('runs/sft/merged')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ft_core import BadInputError, ConfigError, atomic_output_dir, check_output_dir, get_logger

from .quantization import is_quantized

log = get_logger(__name__)

_REFUSE_QUANTIZED = ("cannot merge a LoRA into a quantized base model ({what}); merge into the unquantised base "
                     "model (drop quantization_bit / use the original checkpoint), then quantise the merged model")


def merge_lora_into(model: Any, adapter: str | Path):
    """Merge the adapter at ``adapter`` into a loaded base ``model``; returns the merged plain model."""
    from peft import PeftModel

    from .resolve import resolve_model_path

    if is_quantized(model):
        raise ConfigError(_REFUSE_QUANTIZED.format(what=type(model).__name__))
    path = resolve_model_path(str(adapter))
    if not (path / "adapter_config.json").is_file():
        raise BadInputError(f"{adapter}: no adapter_config.json (not a peft adapter directory)")
    return PeftModel.from_pretrained(model, str(path)).merge_and_unload()


def merge_lora(base: str, adapter: str | Path, out: str | Path, *, dtype: Any = "auto",
               max_shard_size: str | int = "5GB", overwrite: bool = False) -> Path:
    """Merge ``adapter`` into ``base`` and write ``out`` atomically (weights, tokenizer, generation config).

    ``dtype`` ``auto`` keeps the base's saved dtype. The tokenizer is taken from the adapter
    directory when it has one (it may carry added tokens and the training chat template), else from
    the base.

    Example:
        >>> merge_lora("smollm2-135m-instruct", "out/adapter", "out/merged", max_shard_size="200MB")
    """
    from .loading import load_config, load_model, load_tokenizer
    from .patches import resolve_dtype
    from .resolve import resolve_model_path

    check_output_dir(out, overwrite)
    config = load_config(base)
    if is_quantized(config):
        method = (getattr(config, "quantization_config", None) or {})
        method = method.get("quant_method", "quantized") if isinstance(method, dict) else type(method).__name__
        raise ConfigError(_REFUSE_QUANTIZED.format(what=f"{base}: {method}"))
    if dtype == "auto":
        import torch

        saved = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
        torch_dtype = saved if isinstance(saved, torch.dtype) else getattr(torch, str(saved or "float32"), torch.float32)
    else:
        torch_dtype = resolve_dtype(dtype)
    adapter_dir = resolve_model_path(str(adapter))
    tokenizer_src = str(adapter_dir) if (adapter_dir / "tokenizer_config.json").is_file() else base
    tokenizer = load_tokenizer(tokenizer_src)
    model = load_model(base, dtype=torch_dtype)
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)
    merged = merge_lora_into(model, adapter_dir)
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        merged.save_pretrained(tmp, max_shard_size=max_shard_size)
        tokenizer.save_pretrained(tmp)
    log.info("merged %s into %s → %s", adapter, base, out)
    return Path(out)
