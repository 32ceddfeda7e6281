"""Combining per-model task vectors of one tensor: TIES election and disjoint mean, sums, SLERP.

All functions take float32 tensors and return a new float32 tensor; inputs are never modified
(one read pass feeds several methods with the same deltas).

Example (the TIES paper's rule, weights 1):
    >>> d1, d2 = torch.tensor([1.0, -2.0]), torch.tensor([-0.5, 1.0])
    >>> ties([d1, d2], [1.0, 1.0], [1.0, 1.0])
    tensor([ 1., -2.])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .sparsify import magnitude_mask


def weighted_sum(deltas: Sequence[torch.Tensor], weights: Sequence[float], normalize: bool = False) -> torch.Tensor:
    """τ = Σ wᵢδᵢ (÷ Σwᵢ when ``normalize``): task arithmetic, DARE's combination."""
    out = torch.zeros_like(deltas[0])
    for d, w in zip(deltas, weights, strict=True):
        out.add_(d, alpha=float(w))
    if normalize:
        total = float(sum(weights))
        if total != 0.0:
            out.div_(total)
    return out


def elect_and_merge(trimmed: Sequence[torch.Tensor], weights: Sequence[float], normalize: bool = True,
                    elect_on: str = "weighted", masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
    """TIES steps 2-3 on already sparsified deltas δ̂ᵢ (or δᵢ with ``masks``).

    Elected sign γ = sign(Σ wᵢδ̂ᵢ) (``elect_on="unweighted"``: Σ δ̂ᵢ), +1 where the sum is 0.
    τ = Σ_{i∈A} wᵢδ̂ᵢ / Σ_{i∈A} wᵢ over A = {i: δ̂ᵢ ≠ 0, sign δ̂ᵢ = γ}; 0 where A is empty.
    Without ``normalize`` the disjoint *sum* is returned (mergekit's dare_ties default).
    """
    if elect_on not in ("weighted", "unweighted"):
        raise ValueError(f"elect_on={elect_on!r}: expected weighted or unweighted")

    def kept(i: int) -> torch.Tensor:
        return trimmed[i] if masks is None else torch.where(masks[i], trimmed[i], 0.0)

    total = torch.zeros_like(trimmed[0])
    for i, w in enumerate(weights):
        total.add_(kept(i), alpha=float(w) if elect_on == "weighted" else 1.0)
    positive = total >= 0
    del total
    num = torch.zeros_like(trimmed[0])
    den = torch.zeros_like(trimmed[0]) if normalize else None
    for i, w in enumerate(weights):
        d = kept(i)
        agree = (d != 0) & ((d > 0) == positive)
        num.add_(torch.where(agree, d, 0.0), alpha=float(w))
        if den is not None:
            den.add_(agree.to(den.dtype), alpha=float(w))
    if den is not None:
        num.div_(torch.where(den == 0, 1.0, den))
    return num


def ties(deltas: Sequence[torch.Tensor], weights: Sequence[float], densities: Sequence[float],
         lambda_: float = 1.0, elect_on: str = "weighted", masks: Sequence[torch.Tensor] | None = None,
         normalize: bool = True) -> torch.Tensor:
    """TIES-Merging of one tensor: trim (or given ``masks``), elect, disjoint mean, times λ.

    Returns the merged task vector λτ; the merged weight is θ₀ + λτ.
    """
    if masks is None:
        masks = [magnitude_mask(d, dens) for d, dens in zip(deltas, densities, strict=True)]
    tau = elect_and_merge(deltas, weights, normalize=normalize, elect_on=elect_on, masks=masks)
    return tau.mul_(lambda_) if lambda_ != 1.0 else tau


def linear(thetas: Sequence[torch.Tensor], weights: Sequence[float], normalize: bool = True) -> torch.Tensor:
    """Weighted average of weights θ = Σwᵢθᵢ / Σwᵢ (model soup); no base needed."""
    return weighted_sum(thetas, weights, normalize=normalize)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float = 0.5, eps: float = 1e-8) -> torch.Tensor:
    """Spherical interpolation between two tensors viewed as flat vectors.

    Ω is the angle between a/‖a‖ and b/‖b‖; result = sin((1-t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b.
    Falls back to linear interpolation when the vectors are (anti)parallel within 1e-6 or a
    norm is below ``eps``, where the formula is ill-conditioned.
    """
    na, nb = torch.linalg.vector_norm(a), torch.linalg.vector_norm(b)
    if na < eps or nb < eps:
        return torch.lerp(a, b, t)
    dot = float(torch.dot(a.reshape(-1), b.reshape(-1)) / (na * nb))
    dot = max(-1.0, min(1.0, dot))
    if abs(dot) > 1.0 - 1e-6:
        return torch.lerp(a, b, t)
    omega = math.acos(dot)
    so = math.sin(omega)
    return a * (math.sin((1.0 - t) * omega) / so) + b * (math.sin(t * omega) / so)
