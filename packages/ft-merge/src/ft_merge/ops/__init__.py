"""The functional core of ft-merge: pure float32 tensor operations on one tensor at a time.

Usable without any model: ``from ft_merge import ops; ops.ties([d1, d2], [1, 1], [0.2, 0.2])``.
"""

from .combine import elect_and_merge, linear, slerp, ties, weighted_sum
from .keep import CHUNK, Keep, magnitude_keep
from .lora import lora_delta, lora_scale
from .regmean import reduce_off_diagonal, regmean
from .rng import MaskStream, mask_generator
from .select import keep_count, kth_largest, topk_mask, topk_mask_blocks, topk_mask_rows
from .sparsegpt import (
    SALIENCIES,
    SELECTIONS,
    HessianAccumulator,
    HessianStats,
    damped,
    hessian_stats,
    inverse,
    obs_factor,
    obs_update,
    saliency,
    saliency_keep,
    saliency_mask,
)
from .sparsify import (
    breadcrumbs,
    dare,
    dare_keep,
    dare_mask,
    della,
    della_probabilities,
    magnitude_mask,
    trim_magnitude,
    uniform16,
)

__all__ = [
    "CHUNK",
    "SALIENCIES",
    "SELECTIONS",
    "HessianAccumulator",
    "HessianStats",
    "Keep",
    "MaskStream",
    "breadcrumbs",
    "damped",
    "dare",
    "dare_keep",
    "dare_mask",
    "della",
    "della_probabilities",
    "elect_and_merge",
    "hessian_stats",
    "inverse",
    "keep_count",
    "kth_largest",
    "linear",
    "lora_delta",
    "lora_scale",
    "magnitude_keep",
    "magnitude_mask",
    "mask_generator",
    "obs_factor",
    "obs_update",
    "reduce_off_diagonal",
    "regmean",
    "saliency",
    "saliency_keep",
    "saliency_mask",
    "slerp",
    "ties",
    "topk_mask",
    "topk_mask_blocks",
    "topk_mask_rows",
    "trim_magnitude",
    "uniform16",
    "weighted_sum",
]
