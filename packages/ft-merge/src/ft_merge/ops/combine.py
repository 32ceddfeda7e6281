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

from .keep import Keep, chunk_bounds, magnitude_keep


def _as_keeps(n: int, keeps: Sequence[Keep | torch.Tensor | None] | None) -> list[Keep]:
    if keeps is None:
        return [Keep()] * n
    return [k if isinstance(k, Keep) else Keep() if k is None else Keep(mask=k.reshape(-1)) for k in keeps]


def weighted_sum(deltas: Sequence[torch.Tensor], weights: Sequence[float], normalize: bool = False,
                 keeps: Sequence[Keep | torch.Tensor | None] | None = None) -> torch.Tensor:
    """τ = Σ wᵢ·keepᵢ(δᵢ) (÷ Σwᵢ when ``normalize``): task arithmetic, DARE's combination."""
    ks = _as_keeps(len(deltas), keeps)
    out = torch.zeros_like(deltas[0])
    if all(k.keeps_all for k in ks):
        for d, w, k in zip(deltas, weights, ks, strict=True):
            out.add_(d, alpha=float(w) * k.scale)
    else:
        flat_out = out.view(-1)
        flats = [d.reshape(-1) for d in deltas]
        states = [k.state() for k in ks]
        for s, e in chunk_bounds(flat_out.numel()):
            acc = flat_out[s:e]
            for f, w, k, st in zip(flats, weights, ks, states, strict=True):
                acc.add_(k.apply(f[s:e], s, e, st), alpha=float(w))
    if normalize:
        total = float(sum(weights))
        if total != 0.0:
            out.div_(total)
    return out


def elect_and_merge(deltas: Sequence[torch.Tensor], weights: Sequence[float], normalize: bool = True,
                    elect_on: str = "weighted", keeps: Sequence[Keep | torch.Tensor | None] | None = None) -> torch.Tensor:
    """TIES steps 2-3 on the kept deltas δ̂ᵢ = keepᵢ(δᵢ) (all of δᵢ without ``keeps``).

    Elected sign γ = sign(Σ wᵢδ̂ᵢ) (``elect_on="unweighted"``: Σ δ̂ᵢ), +1 where the sum is 0.
    τ = Σ_{i∈A} wᵢδ̂ᵢ / Σ_{i∈A} wᵢ over A = {i: δ̂ᵢ ≠ 0, sign δ̂ᵢ = γ}; 0 where A is empty.
    Without ``normalize`` the disjoint *sum* is returned (mergekit's dare_ties default).

    Computed chunk by chunk (see :mod:`.keep`) with float-only operations: the positive and
    negative parts P = Σwᵢ·max(δ̂ᵢ, 0), N = Σwᵢ·min(δ̂ᵢ, 0) and the weights behind each; then
    γ picks P or N (``lerp`` with weight 0 or 1 is exact). The result does not depend on the chunk size.
    """
    if elect_on not in ("weighted", "unweighted"):
        raise ValueError(f"elect_on={elect_on!r}: expected weighted or unweighted")
    ks = _as_keeps(len(deltas), keeps)
    ws = [float(w) for w in weights]
    separate_vote = elect_on == "unweighted" and any(w != 1.0 for w in ws)
    positive_weights = all(w > 0 for w in ws)
    out = torch.empty_like(deltas[0])
    flat_out = out.view(-1)
    flats = [d.reshape(-1) for d in deltas]
    states = [k.state() for k in ks]
    for s, e in chunk_bounds(flat_out.numel()):
        P = torch.zeros(e - s, dtype=out.dtype)
        N = torch.zeros_like(P)
        cP = torch.zeros_like(P) if normalize else None
        cN = torch.zeros_like(P) if normalize else None
        vote = torch.zeros_like(P) if separate_vote else None
        for f, k, st, w in zip(flats, ks, states, ws, strict=True):
            kept = k.apply(f[s:e], s, e, st)
            if vote is not None:
                vote.add_(kept)
            if cP is not None and cN is not None:
                sg = torch.sign(kept)
                cP.add_(sg.clamp(min=0), alpha=w)
                cN.sub_(sg.clamp_(max=0), alpha=w)
            pos = kept.clamp(min=0)
            P.add_(pos, alpha=w)
            N.add_(kept.sub_(pos), alpha=w)
        t = vote if vote is not None else P + N
        h = torch.sign(t).add_(1.0).clamp_(max=1.0)  # 1 where the elected sign is + (sum >= 0), else 0
        num = torch.lerp(N, P, h, out=flat_out[s:e])
        if cP is not None and cN is not None:
            den = torch.lerp(cN, cP, h)
            num.div_(den.clamp_(min=1e-30) if positive_weights else torch.where(den == 0, 1.0, den))
    return out


def ties(deltas: Sequence[torch.Tensor], weights: Sequence[float], densities: Sequence[float],
         lambda_: float = 1.0, elect_on: str = "weighted", masks: Sequence[torch.Tensor] | None = None,
         normalize: bool = True, keeps: Sequence[Keep] | None = None) -> torch.Tensor:
    """TIES-Merging of one tensor: trim (or given ``masks``/``keeps``), elect, disjoint mean, times λ.

    Returns the merged task vector λτ; the merged weight is θ₀ + λτ.
    """
    if keeps is None:
        keeps = ([Keep(mask=m.reshape(-1)) for m in masks] if masks is not None else
                 [magnitude_keep(d, dens) for d, dens in zip(deltas, densities, strict=True)])
    tau = elect_and_merge(deltas, weights, normalize=normalize, elect_on=elect_on, keeps=keeps)
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
