"""Which entries of a task vector survive sparsification, described without a full-size copy.

A :class:`Keep` is either a magnitude threshold (keep |δ| > v, plus the lowest-index entries with
|δ| = v needed for exactly k survivors), a boolean mask, a float multiplier (DARE: 0 or 1/d), or
"everything". Combiners walk the flattened tensors in chunks of
:data:`CHUNK` elements and ask the Keep for the surviving values of each chunk, so every
temporary of TIES' trim/elect/merge fits in cache and none is tensor-sized.

Example:
    >>> keep = magnitude_keep(torch.tensor([1.0, -2.0, 0.5, 0.0]), 0.5)
    >>> keep.to_mask(4)
    tensor([ True,  True, False, False])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from . import select
from .select import keep_count

CHUNK = 1 << 18  # 256 Ki elements = 1 MiB of float32: a pass over a chunk stays in L2/L3


def chunk_bounds(n: int, chunk: int = CHUNK) -> Iterator[tuple[int, int]]:
    for s in range(0, n, chunk):
        yield s, min(n, s + chunk)


@dataclass(frozen=True)
class Keep:
    """Survivors of one flattened δ, one of: threshold ``v`` (|δ| > v) plus the flat indices
    ``ties`` (entries with |δ| = v that are kept); a bool ``mask``; a float ``mult`` (0 or the
    survivor factor); a random ``stream`` drawn per chunk (DARE); or everything. ``scale``
    multiplies the survivors."""

    v: float | None = None
    ties: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    mult: torch.Tensor | None = None
    scale: float = 1.0
    stream: Any = None  # a rng.MaskStream: Bernoulli(density) drawn per chunk (DARE)
    density: float = 1.0

    @property
    def keeps_all(self) -> bool:
        """True when every entry survives (the Keep only scales)."""
        return self.stream is None and self.mult is None and self.mask is None and self.v is None

    def state(self) -> list[int]:
        """Per-pass state (kept for API stability; chunks may come in any order)."""
        return [0]

    def apply(self, chunk: torch.Tensor, s: int, e: int, state: list[int] | None = None) -> torch.Tensor:
        """The kept (and scaled) values of ``chunk`` = flat[s:e], +0 elsewhere (a new tensor)."""
        if self.stream is not None:
            return chunk * self.stream.multiplier(s, e, self.density, self.scale)
        if self.mult is not None:
            return chunk * self.mult[s:e]
        if self.mask is not None:
            out = torch.where(self.mask[s:e], chunk, 0.0)
        elif self.v is None:
            out = chunk.clone()
        else:
            # Hard threshold with float ops only (bool tensors are several times slower on CPU):
            # thr(x) − thr(−x) is x where |x| > v and +0 elsewhere, exactly.
            out = F.threshold(chunk, self.v, 0.0).sub_(F.threshold(chunk.neg(), self.v, 0.0))
            if self.ties is not None and self.ties.numel():
                local = self.ties[(self.ties >= s) & (self.ties < e)] - s
                if local.numel():
                    out[local] = chunk[local]
        return out.mul_(self.scale) if self.scale != 1.0 else out

    def to_mask(self, n: int, flat: torch.Tensor | None = None) -> torch.Tensor:
        """The full flat bool mask (needs ``flat`` for a threshold Keep)."""
        if self.stream is not None:
            return self.stream.multiplier(0, n, self.density, 1.0) != 0
        if self.mult is not None:
            return self.mult.view(-1) != 0
        if self.mask is not None:
            return self.mask.view(-1)
        if self.v is None:
            return torch.ones(n, dtype=torch.bool)
        assert flat is not None
        m = flat.abs() > self.v
        if self.ties is not None:
            m[self.ties] = True
        return m


def _small_keep(flat: torch.Tensor, k: int) -> Keep:
    n = flat.numel()
    a = flat.abs()
    v = torch.kthvalue(a, n - k + 1).values
    need = k - int(torch.count_nonzero(a > v))
    return Keep(v=float(v), ties=torch.nonzero(a == v).view(-1)[:need])


def magnitude_keep(delta: torch.Tensor, density: float) -> Keep:
    """Keep of the k = max(1, ⌊d·n⌋) largest |δ| (ties: lowest flat index), found in chunks."""
    flat = delta.reshape(-1)
    n = flat.numel()
    k = keep_count(density, n)
    if k >= n:
        return Keep()
    if k == 0:
        return Keep(mask=torch.zeros(n, dtype=torch.bool))
    if n <= select._SAMPLE_ABOVE:
        return _small_keep(flat, k)
    found = _sampled_abs_threshold(flat, k)
    # None: the bracket missed (adversarial data); exact selection on a full copy instead.
    return found if found is not None else _small_keep(flat, k)


def _sampled_abs_threshold(flat: torch.Tensor, k: int) -> Keep | None:
    n = flat.numel()
    m = min(select._SAMPLE_MAX, max(1024, n // 16))
    gen = torch.Generator().manual_seed(n)
    sample = torch.sort(flat[torch.randint(0, n, (m,), generator=gen)].abs(), descending=True).values
    q = k / n
    pos = q * m
    margin = 6.0 * (m * q * (1 - q)) ** 0.5 + 8
    hi = float(sample[max(0, int(pos - margin))])
    lo = float(sample[min(m - 1, int(pos + margin))])
    above = 0
    idxs, vals = [], []
    for s, e in chunk_bounds(n):
        a = flat[s:e].abs()
        above += int(torch.count_nonzero(a > hi))
        idx = torch.nonzero((a >= lo) & (a <= hi)).view(-1)
        idxs.append(idx + s)
        vals.append(a[idx])
    cand, cidx = torch.cat(vals), torch.cat(idxs)
    if above >= k or above + cand.numel() < k:
        return None
    v = torch.kthvalue(cand, cand.numel() - (k - above) + 1).values
    need = k - above - int(torch.count_nonzero(cand > v))
    return Keep(v=float(v), ties=cidx[cand == v][:need])
