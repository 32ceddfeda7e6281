"""LoRA task vectors built tensor by tensor: Δ = s·B·A (never a merged model on disk).

s = α/r, or α/√r with rsLoRA. ``fan_in_fan_out`` (GPT-2 Conv1D) stores W transposed, so Δ is too.
An embedding LoRA stores A [r, vocab] and B [dim, r]; its Δ is s·(B·A)ᵀ [vocab, dim].

Example:
    >>> A, B = torch.randn(4, 16), torch.randn(8, 4)
    >>> lora_delta(A, B, alpha=8, r=4).shape
    torch.Size([8, 16])
"""

from __future__ import annotations

import math

import torch


def lora_scale(alpha: float, r: int, rslora: bool = False) -> float:
    """α/r, or α/√r for rsLoRA."""
    return alpha / math.sqrt(r) if rslora else alpha / r


def lora_delta(A: torch.Tensor, B: torch.Tensor, alpha: float, r: int, rslora: bool = False,
               fan_in_fan_out: bool = False, embedding: bool = False) -> torch.Tensor:
    """Δ in the base weight's layout, float32."""
    delta = (B.to(torch.float32) @ A.to(torch.float32)).mul_(lora_scale(alpha, r, rslora))
    if fan_in_fan_out or embedding:
        delta = delta.T.contiguous()
    return delta
