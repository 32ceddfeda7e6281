"""LoRA+ optimizer parameter groups: the B matrices learn ``loraplus_lr_ratio`` times faster.

LoRA+ (Hayou et al., 2024) sets the learning rate of ``lora_B`` to ``lr * ratio`` and of LoRA
weights on embedding layers to ``loraplus_lr_embedding``; everything else keeps ``lr``. Weight
decay goes to matrices only (not to biases and norms), as the HF Trainer does. The groups plug
into any torch optimizer, so ft-train keeps its own optimizer choice.

Example:
    >>> groups = loraplus_param_groups(model, lr=2e-4, loraplus_lr_ratio=16.0)
    >>> optimizer = torch.optim.AdamW(groups)
"""

from __future__ import annotations

from typing import Any


def _no_decay(name: str, param: Any) -> bool:
    return param.ndim < 2 or "bias" in name or "norm" in name.lower()


def loraplus_param_groups(model: Any, *, lr: float, loraplus_lr_ratio: float, loraplus_lr_embedding: float = 1e-6,
                          weight_decay: float = 0.0) -> list[dict[str, Any]]:
    """Optimizer parameter groups (``params``, ``lr``, ``weight_decay``) for LoRA+; empty groups are left out.

    Only parameters with ``requires_grad`` are included. ``lr`` is the base (A-matrix) learning rate.
    """
    buckets: dict[tuple[float, float], list[Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if "lora_embedding_" in name:
            rate = loraplus_lr_embedding
        elif "lora_B" in name:
            rate = lr * loraplus_lr_ratio
        else:
            rate = lr
        decay = 0.0 if _no_decay(name, param) else weight_decay
        buckets.setdefault((rate, decay), []).append(param)
    return [{"params": params, "lr": rate, "weight_decay": decay} for (rate, decay), params in buckets.items()]
