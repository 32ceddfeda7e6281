"""Per-model sparsifiers of one task vector δ (float32): magnitude trim, DARE, breadcrumbs, DELLA.

Random masks come from :func:`~.rng.mask_generator` streams keyed by (run seed, model index,
tensor name) (see :mod:`.rng`), so a mask never depends on processing order or device.

Example:
    >>> d = torch.tensor([1.0, -2.0, 0.5, 0.0])
    >>> trim_magnitude(d, 0.5)
    tensor([ 1., -2.,  0.,  0.])
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .keep import Keep, magnitude_keep
from .rng import U16, MaskStream
from .select import keep_count, topk_mask

_U16 = U16


def uniform16(n: int, stream: MaskStream) -> np.ndarray:
    """``n`` uniform integers in [0, 2**16) (uint16) from the start of ``stream``."""
    return stream.uniform16(0, n)


def magnitude_mask(delta: torch.Tensor, density: float) -> torch.Tensor:
    """Mask of the k = max(1, floor(d·n)) largest |δ| entries (ties: lowest flat index)."""
    flat = delta.reshape(-1)
    return magnitude_keep(delta, density).to_mask(flat.numel(), flat).view(delta.shape)


def trim_magnitude(delta: torch.Tensor, density: float) -> torch.Tensor:
    """TIES trim: keep exactly k largest-magnitude entries of δ, zero the rest (new tensor)."""
    if density >= 1.0:
        return delta.clone()
    return torch.where(magnitude_mask(delta, density), delta, 0.0)


def dare_mask(shape: torch.Size | tuple[int, ...], density: float, generator: MaskStream) -> torch.Tensor:
    """Bernoulli(density) keep mask drawn from ``generator`` (resolution 2⁻¹⁶)."""
    n = math.prod(shape)
    return torch.from_numpy(uniform16(n, generator) < min(round(density * _U16), _U16)).view(shape)


def dare_keep(shape: torch.Size | tuple[int, ...], density: float, generator: MaskStream,
              rescale: str = "exact") -> Keep:
    """DARE as a :class:`Keep` whose mask is drawn chunk by chunk when applied (exact rescale only)."""
    if density >= 1.0:
        return Keep()
    if rescale != "exact":
        raise ValueError("dare_keep supports rescale='exact' only; use dare() for l1")
    return Keep(stream=generator, density=density, scale=1.0 / density)


def dare(delta: torch.Tensor, density: float, generator: MaskStream, rescale: str = "exact") -> torch.Tensor:
    """DARE: drop entries with probability p = 1 - d, rescale the kept ones (new tensor).

    ``rescale="exact"`` divides by d (the paper); ``"l1"`` restores the L1 norm (mergekit's choice).
    ``density >= 1`` returns δ unchanged.
    """
    if density >= 1.0:
        return delta.clone()
    kept = torch.where(dare_mask(delta.shape, density, generator), delta, 0.0)
    if rescale == "exact":
        return kept.mul_(1.0 / density)
    if rescale == "l1":
        before, after = delta.abs().sum(), kept.abs().sum()
        return kept.mul_(before / after) if after > 0 else kept
    if rescale == "none":
        return kept
    raise ValueError(f"rescale={rescale!r}: expected exact, l1 or none")


def breadcrumbs(delta: torch.Tensor, density: float, gamma: float = 0.01) -> torch.Tensor:
    """Model Breadcrumbs: drop the largest ``gamma`` fraction of |δ| and keep the next ``density``."""
    n = delta.numel()
    mag = delta.abs()
    top = keep_count(gamma, n) if gamma > 0 else 0
    keep = topk_mask(mag, min(n, top + keep_count(density, n)))
    if top:
        keep &= ~topk_mask(mag, top)
    return torch.where(keep, delta, 0.0)


def della_probabilities(delta: torch.Tensor, density: float, epsilon: float = 0.15) -> torch.Tensor:
    """DELLA MagPrune keep probabilities: per row, linear in magnitude rank from d-ε (smallest) to d+ε."""
    rows = delta.reshape(1, -1) if delta.dim() < 2 else delta.reshape(delta.shape[0], -1)
    cols = rows.shape[1]
    order = torch.argsort(rows.abs(), dim=1, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(cols).expand_as(order).contiguous())
    step = (2.0 * epsilon / (cols - 1)) if cols > 1 else 0.0
    p = (density - epsilon) + rank.to(torch.float32) * step
    return p.clamp_(min=1e-6, max=1.0).view(delta.shape)


def della(delta: torch.Tensor, density: float, generator: MaskStream, epsilon: float = 0.15) -> torch.Tensor:
    """DELLA MagPrune: drop each entry with probability 1 - p(rank), rescale survivors by 1/p."""
    if density >= 1.0:
        return delta.clone()
    p = della_probabilities(delta, density, epsilon)
    u = torch.from_numpy(uniform16(delta.numel(), generator).astype(np.float32)).view(delta.shape)
    keep = u.mul_(1.0 / _U16) < p
    return torch.where(keep, delta / p, 0.0)
