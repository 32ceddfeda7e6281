"""A faster output head for inference: the vocabulary projection computed in slices of rows.

A decode step multiplies a few hidden states by the whole output matrix (49k x 576 for
SmolLM2). MKL runs that one very wide, very short matmul at a fraction of its speed: 19.5 ms
for 8 rows on 2 CPU cores, against 13.6 ms as 24 slices of 2048 rows; the whole 8-row decode
step got ~8% faster (median of 4 runs, 70.7 -> 76.4 tokens/s). Each logit is the same dot
product either way; only the blocking of the matmul changes.

Example:
    >>> chunk_output_head(model)   # in an inference engine, after loading
    True
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["chunk_output_head"]


def chunk_output_head(model: Any, rows: int = 2048) -> bool:
    """Make ``model``'s output head (a plain ``nn.Linear``) compute its output ``rows`` vocabulary
    rows at a time; returns whether it did. Heads of another type (LoRA-wrapped, quantized) are
    left alone. The weight is read at each call, so tied or replaced weights are honoured.
    """
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if type(head) is not torch.nn.Linear or head.out_features <= rows:
        return False

    def forward(hidden: torch.Tensor) -> torch.Tensor:
        out = torch.cat([F.linear(hidden, w) for w in head.weight.split(rows)], dim=-1)
        return out if head.bias is None else out + head.bias

    head.forward = forward
    return True
