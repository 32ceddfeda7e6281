"""What a model is and what an adapter config would train, without loading its weights.

The model is built on PyTorch's ``meta`` device (shapes only, no memory, no weight file read),
so ``info`` is instant even for a 70B checkpoint; the adapter is applied to that skeleton to
count the parameters it would train.

Example:
    >>> model_info("smollm2-135m-instruct", FinetuningArgs(lora_target="all"))["trainable_params"]
    4884480
"""

from __future__ import annotations

from typing import Any

from .args import FinetuningArgs


def _meta_model(config: Any, trust_remote_code: bool):
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)


def model_info(name_or_path: str, finetuning_args: FinetuningArgs | None = None, *,
               trust_remote_code: bool = False) -> dict[str, Any]:
    """Architecture, parameter count, saved dtype, layers and sizes; with ``finetuning_args`` also
    ``trainable_params``, ``trainable_percent`` and (LoRA) ``lora_targets``."""
    from .adapters import apply_adapter, find_lora_targets
    from .loading import load_config
    from .quantization import is_quantized
    from .resolve import resolve_model_path

    path = resolve_model_path(name_or_path)
    config = load_config(name_or_path, trust_remote_code=trust_remote_code)
    model = _meta_model(config, trust_remote_code)
    total = sum(p.numel() for p in model.parameters())
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    info: dict[str, Any] = {
        "model": name_or_path,
        "path": str(path),
        "architecture": (getattr(config, "architectures", None) or [type(model).__name__])[0],
        "model_type": config.model_type,
        "params": total,
        "dtype": str(dtype).replace("torch.", "") if dtype is not None else None,
        "layers": getattr(config, "num_hidden_layers", None),
        "hidden_size": getattr(config, "hidden_size", None),
        "attention_heads": getattr(config, "num_attention_heads", None),
        "kv_heads": getattr(config, "num_key_value_heads", None),
        "vocab_size": getattr(config, "vocab_size", None),
        "max_position_embeddings": getattr(config, "max_position_embeddings", None),
        "tie_word_embeddings": getattr(config, "tie_word_embeddings", None),
        "quantized": is_quantized(config),
    }
    if finetuning_args is not None:
        # PiSSA only changes the initial values (an SVD the meta device cannot run), not the count.
        counted = finetuning_args.model_copy(update={"pissa_init": False})
        if counted.finetuning_type == "lora":
            info["lora_targets"] = find_lora_targets(model, counted.lora_target)
        adapted = apply_adapter(model, counted, is_trainable=True)
        trainable = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
        all_params = sum(p.numel() for p in adapted.parameters())
        info["finetuning_type"] = counted.finetuning_type
        info["trainable_params"] = trainable
        info["trainable_percent"] = round(100.0 * trainable / max(all_params, 1), 4)
    return info
