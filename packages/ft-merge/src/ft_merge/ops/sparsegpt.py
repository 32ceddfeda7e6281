"""SparseGPT/OBS pieces for merging: Hessian accumulation, damping and inverse, saliency,
saliency-based selection and the optional OBS weight update (Frantar & Alistarh 2023).

For a Linear weight W [d_out, d_in] with inputs X [T, d_in], H = 2XᵀX/T (T = non-pad tokens).
The damped inverse diagonal [H⁻¹]_bb scores a delta entry δ_ab (static OBS cost δ²/[H⁻¹]_bb).

Example:
    >>> acc = HessianAccumulator(4)
    >>> acc.add(torch.randn(2, 8, 4), mask=torch.ones(2, 8, dtype=torch.bool))
    >>> stats = acc.finalize(percdamp=0.01)
    >>> stats.hinv_diag.shape
    torch.Size([4])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .._log import warn_once
from .keep import Keep
from .select import keep_count, kth_largest, topk_mask_blocks, topk_mask_rows

SALIENCIES = ("obs", "seed", "wanda")
SELECTIONS = ("tensor", "row", "block128")


@dataclass
class HessianStats:
    """What a method needs from one input's calibration statistics (all float32, d_in sized).

    ``H`` is the raw (undamped) 2XᵀX/T, kept only when a method needs the full matrix (regmean,
    OBS update); ``diag`` is diag(H) raw; ``hinv_diag`` is diag((H + λ_d I)⁻¹).
    """

    hinv_diag: torch.Tensor
    diag: torch.Tensor
    H: torch.Tensor | None = None
    tokens: int = 0
    percdamp: float = 0.01

    @staticmethod
    def identity(d_in: int, percdamp: float = 0.01) -> HessianStats:
        """Stats of H = I (no calibration): every saliency then ranks as |δ|."""
        one = torch.ones(d_in)
        return HessianStats(hinv_diag=one / (1.0 + percdamp), diag=one.clone(), H=None, percdamp=percdamp)


class HessianAccumulator:
    """Running H = 2XᵀX/T over non-pad tokens, accumulated in float32."""

    def __init__(self, d_in: int) -> None:
        self.d_in = d_in
        self.xtx = torch.zeros(d_in, d_in, dtype=torch.float32)
        self.tokens = 0

    def add(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Add inputs ``x`` [..., d_in]; ``mask`` [...] (True = real token) excludes padding."""
        x = x.reshape(-1, self.d_in)
        if mask is not None:
            x = x[mask.reshape(-1).to(torch.bool)]
        if x.numel() == 0:
            return
        x = x.to(torch.float32)
        self.xtx.addmm_(x.T, x)
        self.tokens += x.shape[0]

    def hessian(self) -> torch.Tensor:
        """H = 2XᵀX/T (zeros when nothing was added)."""
        return self.xtx * (2.0 / max(self.tokens, 1))

    def finalize(self, percdamp: float = 0.01, keep_full: bool = False) -> HessianStats:
        """Damp and invert: see :func:`hessian_stats`."""
        return hessian_stats(self.hessian(), percdamp=percdamp, keep_full=keep_full, tokens=self.tokens)


def damped(H: torch.Tensor, percdamp: float) -> torch.Tensor:
    """H with dead columns (H_jj = 0) set to 1 on the diagonal and λ_d = percdamp·mean(diag H) added."""
    H = H.clone()
    diag = torch.diagonal(H)
    dead = diag == 0
    diag[dead] = 1.0
    diag.add_(percdamp * float(diag.mean()))
    return H


def inverse(H: torch.Tensor, percdamp: float = 0.01, tries: int = 3) -> tuple[torch.Tensor, str]:
    """(H + λ_d I)⁻¹ through Cholesky; retries with damping ×10 up to ``tries`` times, then the
    diagonal approximation 1/H_jj. Returns (inverse, how) with how in {"cholesky", "diagonal"}."""
    damp = percdamp
    for _ in range(tries + 1):
        L, info = torch.linalg.cholesky_ex(damped(H, damp))
        if int(info) == 0:
            return torch.cholesky_inverse(L), "cholesky"
        damp *= 10.0
    warn_once("Cholesky of a calibration Hessian failed after damping x1000; using 1/diag(H)")
    return torch.diag(1.0 / torch.diagonal(damped(H, percdamp))), "diagonal"


def hessian_stats(H: torch.Tensor, percdamp: float = 0.01, keep_full: bool = False, tokens: int = 0) -> HessianStats:
    """HessianStats of a raw H: diag, damped inverse diagonal and (optionally) H itself."""
    hinv, _ = inverse(H, percdamp)
    return HessianStats(hinv_diag=torch.diagonal(hinv).clone(), diag=torch.diagonal(H).clone(),
                        H=H if keep_full else None, tokens=tokens, percdamp=percdamp)


def obs_factor(H: torch.Tensor, percdamp: float = 0.01) -> torch.Tensor:
    """U = upper Cholesky factor of (H + λ_d I)⁻¹ (H⁻¹ = UᵀU); U_jj² = [(H_{F_j})⁻¹]_jj."""
    hinv, _ = inverse(H, percdamp)
    return torch.linalg.cholesky(hinv, upper=True)


def saliency(delta: torch.Tensor, stats: HessianStats, kind: str = "obs") -> torch.Tensor:
    """Per-entry importance of δ [d_out, d_in] given the input's Hessian statistics.

    obs: δ²/[H⁻¹]_bb; seed: δ²/([H⁻¹]_bb)² (the seed script's formula); wanda: |δ|·sqrt(H_bb).
    Dead input columns (H_bb = 0) score 0, so they are trimmed first.
    """
    dead = stats.diag == 0
    if kind == "obs":
        scale = 1.0 / stats.hinv_diag
        s = delta.square().mul_(scale)
    elif kind == "seed":
        scale = 1.0 / stats.hinv_diag.square()
        s = delta.square().mul_(scale)
    elif kind == "wanda":
        s = delta.abs().mul_(stats.diag.clamp(min=0).sqrt())
    else:
        raise ValueError(f"saliency={kind!r}: expected one of {', '.join(SALIENCIES)}")
    if bool(dead.any()):
        s[:, dead] = 0.0
    return s


def saliency_mask(delta: torch.Tensor, stats: HessianStats, density: float, kind: str = "obs",
                  selection: str = "tensor") -> torch.Tensor:
    """Keep mask of δ by saliency: top ⌊d·n⌋ per tensor, top ⌊d·d_in⌋ per row, or per 128-column block.

    Saliency ties go to the larger |δ|, then the lowest index, so H = I reproduces magnitude trim.
    """
    return saliency_keep(delta, stats, density, kind, selection).to_mask(delta.numel()).view(delta.shape)


def saliency_keep(delta: torch.Tensor, stats: HessianStats, density: float, kind: str = "obs",
                  selection: str = "tensor") -> Keep:
    """:func:`saliency_mask` as a float-multiplier :class:`Keep` (the fast path of the combiners)."""
    s = saliency(delta, stats, kind)
    mag = delta.abs()
    if selection == "tensor":
        flat = s.view(-1)
        n = flat.numel()
        k = keep_count(density, n)
        if k >= n:
            return Keep()
        v = kth_largest(flat, k)
        mult = torch.sign(F.threshold(flat, float(v), 0.0))  # 1 where s > v (s >= 0), else 0
        need = k - int(mult.sum())
        if need > 0:
            cand = torch.nonzero(flat == v).view(-1)
            if cand.numel() > need:
                cand = cand[torch.argsort(mag.view(-1)[cand], descending=True, stable=True)]
            mult[cand[:need]] = 1.0
        return Keep(mult=mult)
    if selection == "row":
        return Keep(mult=topk_mask_rows(s, keep_count(density, s.shape[1]), secondary=mag).view(-1).float())
    if selection == "block128":
        return Keep(mult=topk_mask_blocks(s, density, 128, secondary=mag).view(-1).float())
    raise ValueError(f"selection={selection!r}: expected one of {', '.join(SELECTIONS)}")


def obs_update(delta: torch.Tensor, mask: torch.Tensor, U: torch.Tensor, blocksize: int = 128) -> torch.Tensor:
    """SparseGPT's sequential OBS update of δ under a fixed keep ``mask``: zeroed entries' error is
    pushed onto later columns so that δ̂X ≈ δX on the calibration inputs. Returns a new δ̂."""
    W = delta.clone()
    cols = W.shape[1]
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        W1 = W[:, i1:i2].clone()
        Err1 = torch.zeros_like(W1)
        U1 = U[i1:i2, i1:i2]
        M1 = mask[:, i1:i2]
        for j in range(i2 - i1):
            w = W1[:, j]
            d = U1[j, j]
            q = torch.where(M1[:, j], w, 0.0)
            err = (w - q) / d
            W1[:, j:].sub_(err.unsqueeze(1) * U1[j, j:].unsqueeze(0))
            W1[:, j] = q
            Err1[:, j] = err
        W[:, i1:i2] = W1
        if i2 < cols:
            W[:, i2:].sub_(Err1 @ U[i1:i2, i2:])
    return W.masked_fill_(~mask, 0.0)
