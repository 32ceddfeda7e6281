"""RegMean (Jin et al. 2023) for one Linear weight, from the same Gram matrices as SparseGPT.

Gᵢ = XᵢᵀXᵢ/Tᵢ = Hᵢ/2 with off-diagonal entries scaled by α; in [d_in, d_out] orientation
W* = (Σ Gᵢ)⁻¹ Σ Gᵢ Wᵢ, i.e. for PyTorch's [d_out, d_in] weights W* = (Σ Wᵢ Gᵢ)(Σ Gᵢ)⁻¹.

Example:
    >>> W = [torch.randn(3, 4), torch.randn(3, 4)]
    >>> G = [torch.eye(4), torch.eye(4)]
    >>> torch.allclose(regmean(W, G, alpha=1.0), (W[0] + W[1]) / 2, atol=1e-6)
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def reduce_off_diagonal(G: torch.Tensor, alpha: float) -> torch.Tensor:
    """α·G + (1-α)·diag(G): MergeLM's ``reduce_non_diagonal_ratio``."""
    if alpha == 1.0:
        return G
    out = G * alpha
    torch.diagonal(out).copy_(torch.diagonal(G))
    return out


def regmean(weights: Sequence[torch.Tensor], grams: Sequence[torch.Tensor], alpha: float = 0.5) -> torch.Tensor:
    """Merged weight [d_out, d_in] minimising Σᵢ‖W Xᵢᵀ − Wᵢ Xᵢᵀ‖² (with α-regularised Grams)."""
    total = torch.zeros_like(grams[0])
    rhs = torch.zeros_like(weights[0])
    for W, G in zip(weights, grams, strict=True):
        Gr = reduce_off_diagonal(G, alpha)
        total.add_(Gr)
        rhs.addmm_(W, Gr)
    # W* Σ G = Σ W G  →  (Σ G) W*ᵀ = (Σ W G)ᵀ, Σ G symmetric; lstsq guards a singular sum.
    sol = torch.linalg.solve_ex(total, rhs.T)
    if int(sol.info) != 0:
        return torch.linalg.lstsq(total, rhs.T).solution.T.contiguous()
    return sol.result.T.contiguous()
