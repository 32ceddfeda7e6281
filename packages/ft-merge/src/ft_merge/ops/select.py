"""Exact top-k selection masks on flattened tensors, rows or column blocks.

Everything here keeps *exactly* k entries: ties at the threshold are broken by a secondary key
(larger first) and then by the lowest flat index, so the same input always gives the same mask.
That is what makes ``ties_sparsegpt`` with an identity Hessian equal ``ties`` bit for bit.

Example:
    >>> topk_mask(torch.tensor([0.1, 3.0, -2.0, 3.0]).abs(), 2)
    tensor([False,  True, False,  True])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Above this many elements a sampled bracket finds the threshold with one pass of comparisons
# instead of kthvalue's full copy and quickselect (~10x slower on CPU).
_SAMPLE_ABOVE = 1 << 15
_SAMPLE_MAX = 1 << 16


def keep_count(density: float, n: int) -> int:
    """k = max(1, floor(density * n)) entries kept; n when density >= 1, 0 when density <= 0."""
    if density >= 1.0:
        return n
    if density <= 0.0 or n == 0:
        return 0
    return max(1, int(density * n))


def kth_largest(score: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th largest value of a 1-D float tensor (exact), as a 0-d tensor."""
    n = score.numel()
    if n > _SAMPLE_ABOVE:
        found = _kth_largest_sampled(score, k)
        if found is not None:
            return found
    return torch.kthvalue(score, n - k + 1).values


def _kth_largest_sampled(score: torch.Tensor, k: int) -> torch.Tensor | None:
    # Bracket the answer with quantiles of a fixed pseudo-random sample, then select exactly among
    # the few candidates inside the bracket. The sample only affects speed, never the result.
    # Scores are non-negative (|δ|, saliencies), so counting and bracketing use float thresholds:
    # bool-producing comparisons are several times slower on CPU.
    n = score.numel()
    m = min(_SAMPLE_MAX, max(1024, n // 16))
    gen = torch.Generator().manual_seed(n)
    sample = torch.sort(score[torch.randint(0, n, (m,), generator=gen)], descending=True).values
    q = k / n
    pos = q * m
    margin = 6.0 * (m * q * (1 - q)) ** 0.5 + 8
    hi = float(sample[max(0, int(pos - margin))])
    lo = float(sample[min(m - 1, int(pos + margin))])
    if lo <= 0.0 or float(sample[-1]) < 0.0:
        return _kth_largest_bool(score, k, hi, lo)
    above = int(torch.count_nonzero(F.threshold(score, hi, 0.0)))
    if above >= k:
        return None
    # entries in [lo, hi]: keep x > lo' (lo' just below lo), then zero those above hi
    band = F.threshold(score, math.nextafter(lo, -math.inf), 0.0)
    band.sub_(F.threshold(band, hi, 0.0))
    cand = band[torch.nonzero(band).view(-1)]
    if above + cand.numel() < k:
        return None
    return torch.kthvalue(cand, cand.numel() - (k - above) + 1).values


def _kth_largest_bool(score: torch.Tensor, k: int, hi: float, lo: float) -> torch.Tensor | None:
    above = int(torch.count_nonzero(score > hi))
    if above >= k:
        return None
    cand = score[(score >= lo) & (score <= hi)]
    if above + cand.numel() < k:
        return None
    return torch.kthvalue(cand, cand.numel() - (k - above) + 1).values


def topk_mask(score: torch.Tensor, k: int, secondary: torch.Tensor | None = None) -> torch.Tensor:
    """Boolean mask (same shape) of the k largest ``score`` entries, exactly k of them.

    Ties at the threshold go to the larger ``secondary`` value, then to the lowest flat index.
    """
    flat = score.reshape(-1)
    n = flat.numel()
    if k >= n:
        return torch.ones_like(score, dtype=torch.bool)
    if k <= 0:
        return torch.zeros_like(score, dtype=torch.bool)
    v = kth_largest(flat, k)
    mask = flat > v
    need = k - int(torch.count_nonzero(mask))
    if need > 0:
        cand = torch.nonzero(flat == v).reshape(-1)  # ascending flat index
        if cand.numel() > need and secondary is not None:
            order = torch.argsort(secondary.reshape(-1)[cand], descending=True, stable=True)
            cand = cand[order]
        mask[cand[:need]] = True
    return mask.view(score.shape)


def topk_mask_rows(score: torch.Tensor, k: int, secondary: torch.Tensor | None = None) -> torch.Tensor:
    """Per-row version of :func:`topk_mask` for a 2-D ``score``: k entries kept in every row."""
    cols = score.shape[1]
    if k >= cols:
        return torch.ones_like(score, dtype=torch.bool)
    if k <= 0:
        return torch.zeros_like(score, dtype=torch.bool)
    v = torch.kthvalue(score, cols - k + 1, dim=1, keepdim=True).values
    mask = score > v
    need = k - mask.sum(dim=1)
    eq = score == v
    n_eq = eq.sum(dim=1)
    simple = n_eq == need
    mask |= eq & simple.unsqueeze(1)
    # Rows with more tied entries than slots are rare; fix them one by one with the exact rule.
    for r in torch.nonzero(~simple).reshape(-1).tolist():
        sec = None if secondary is None else secondary[r]
        mask[r] = topk_mask(score[r], k, sec)
    return mask


def topk_mask_blocks(score: torch.Tensor, density: float, block: int = 128,
                     secondary: torch.Tensor | None = None) -> torch.Tensor:
    """SparseGPT-style selection: the top ``density`` fraction of each [rows, block] column block."""
    mask = torch.empty_like(score, dtype=torch.bool)
    for c0 in range(0, score.shape[1], block):
        c1 = min(c0 + block, score.shape[1])
        sub = score[:, c0:c1]
        sec = None if secondary is None else secondary[:, c0:c1].contiguous()
        mask[:, c0:c1] = topk_mask(sub.contiguous(), keep_count(density, sub.numel()), sec)
    return mask
