"""Sampling, mixing and splitting of aligned rows (plain lists, seeded numpy RNG).

* ``resample(n, num_samples, rng)``: LLaMA-Factory's ``num_samples`` (a permutation cut to N; more
  than the rows available draws the extra rows with replacement), but with the run's seed.
* ``mix(sizes, strategy, probs, rng)``: ``concat`` or interleave (``interleave_under`` stops when
  one dataset is exhausted, ``interleave_over`` when all are, oversampling the others,
  ``interleave_once`` when all are, without repeating a row).
* ``split(n, val_size, rng)``: a fraction in (0, 1) or a count of evaluation rows.

All return index lists, so rows keep their origin (file, row) for the validation report.

Example:
    >>> mix([3, 2], "concat", None, np.random.default_rng(0))
    [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
"""

from __future__ import annotations

import numpy as np

from ft_core import ConfigError


def resample(n: int, num_samples: int, rng: np.random.Generator) -> list[int]:
    """Indices of exactly ``num_samples`` rows drawn from ``n``."""
    order = rng.permutation(n)[:num_samples].tolist()
    if num_samples > n:
        order += rng.choice(n, num_samples - n).tolist()
    return order


def mix(sizes: list[int], strategy: str, probs: list[float] | None,
        rng: np.random.Generator) -> list[tuple[int, int]]:
    """(dataset index, row index) pairs in the mixed order."""
    if strategy == "concat" or len(sizes) == 1:
        return [(d, i) for d, n in enumerate(sizes) for i in range(n)]
    p = np.full(len(sizes), 1.0 / len(sizes)) if probs is None else np.asarray(probs, dtype=float)
    if (p < 0).any() or p.sum() <= 0:
        raise ConfigError(f"interleave_probs must be non-negative with a positive sum, got {probs}")
    p = p / p.sum()
    cursor = [0] * len(sizes)
    seen = [False] * len(sizes)
    active = [n > 0 and p[d] > 0 for d, n in enumerate(sizes)]
    out: list[tuple[int, int]] = []
    while any(active):
        weights = p * np.asarray(active)
        d = int(rng.choice(len(sizes), p=weights / weights.sum()))
        out.append((d, cursor[d] % sizes[d]))
        cursor[d] += 1
        if cursor[d] % sizes[d] == 0:
            seen[d] = True
            if strategy == "interleave_under":
                break
            if strategy == "interleave_once":
                active[d] = False
            elif all(s or not a for s, a in zip(seen, active)):  # interleave_over: every dataset seen once
                break
    return out


def split(n: int, val_size: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """(train indices, eval indices): ``val_size`` < 1 is a fraction, >= 1 a number of rows."""
    if not val_size:
        return list(range(n)), []
    count = int(val_size) if val_size >= 1 else max(1, round(n * val_size))
    if count >= n:
        raise ConfigError(f"val_size {val_size} leaves no training rows out of {n}; lower it")
    order = rng.permutation(n).tolist()
    return sorted(order[count:]), sorted(order[:count])
