"""Sparsifiers and selection against direct implementations of the papers' formulas."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings

from ft_merge import ops
from ft_merge.ops import select

SETTINGS = settings(max_examples=40, deadline=None)


def tensors(min_n: int = 1, max_n: int = 300):
    return st.tuples(st.integers(min_n, max_n), st.integers(0, 2**31 - 1)).map(
        lambda p: torch.randn(p[0], generator=torch.Generator().manual_seed(p[1])))


def direct_trim(d: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the k largest |δ|, ties to the lowest index: a full stable sort (the reference)."""
    n = d.numel()
    k = n if density >= 1 else max(1, int(density * n))
    order = sorted(range(n), key=lambda i: (-abs(float(d[i])), i))
    keep = torch.zeros(n, dtype=torch.bool)
    keep[order[:k]] = True
    return torch.where(keep, d, 0.0)


@SETTINGS
@given(tensors(), st.floats(0.01, 1.0))
def test_trim_matches_direct_sort(d, density):
    assert torch.equal(ops.trim_magnitude(d, density), direct_trim(d, density))


@SETTINGS
@given(st.integers(1, 200), st.floats(0.01, 0.99))
def test_trim_keeps_exactly_k_with_ties(n, density):
    d = torch.ones(n)  # all tied: the lowest indices win
    out = ops.trim_magnitude(d, density)
    k = max(1, int(density * n))
    assert int((out != 0).sum()) == k
    assert bool((out[:k] == 1).all())


def test_sampled_threshold_is_exact(monkeypatch):
    monkeypatch.setattr(select, "_SAMPLE_ABOVE", 1000)
    d = torch.randn(50_000, generator=torch.Generator().manual_seed(3))
    d[::7] = 0.5  # many ties at one value
    for density in (0.01, 0.2, 0.5, 0.9):
        k = max(1, int(density * d.numel()))
        assert float(select.kth_largest(d.abs(), k)) == float(torch.sort(d.abs(), descending=True).values[k - 1])
        assert int(ops.magnitude_mask(d, density).sum()) == k


@SETTINGS
@given(st.integers(2, 40), st.integers(2, 40), st.floats(0.05, 1.0))
def test_row_selection_keeps_k_per_row(rows, cols, density):
    s = torch.randn(rows, cols).abs()
    s[0] = 1.0  # a fully tied row takes the exact path
    m = ops.topk_mask_rows(s, ops.keep_count(density, cols))
    assert (m.sum(1) == ops.keep_count(density, cols)).all()
    ref = torch.stack([direct_trim(s[r], density) != 0 for r in range(rows)])
    assert torch.equal(m, ref)


def test_dare_reproducible_and_name_dependent():
    d = torch.randn(1000)
    a = ops.dare(d, 0.3, ops.mask_generator(0, 1, "x.weight"))
    b = ops.dare(d, 0.3, ops.mask_generator(0, 1, "x.weight"))
    c = ops.dare(d, 0.3, ops.mask_generator(0, 1, "y.weight"))
    e = ops.dare(d, 0.3, ops.mask_generator(0, 2, "x.weight"))
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, e)


@SETTINGS
@given(tensors(10, 200), st.floats(0.05, 0.95), st.integers(0, 1000))
def test_dare_is_the_paper_formula(d, density, seed):
    g = ops.mask_generator(seed, 0, "t")
    m = ops.dare_mask(d.shape, density, ops.mask_generator(seed, 0, "t"))
    assert torch.allclose(ops.dare(d, density, g), torch.where(m, d / density, 0.0))
    l1 = ops.dare(d, density, ops.mask_generator(seed, 0, "t"), rescale="l1")
    if bool(m.any()) and float(torch.where(m, d, 0.0).abs().sum()) > 0:
        assert torch.allclose(l1.abs().sum(), d.abs().sum(), rtol=1e-4)


def test_dare_identity_at_density_one_and_unbiased():
    d = torch.randn(200)
    assert torch.equal(ops.dare(d, 1.0, ops.mask_generator(0, 0, "t")), d)
    mean = torch.stack([ops.dare(d, 0.5, ops.mask_generator(s, 0, "t")) for s in range(2000)]).mean(0)
    assert float((mean - d).abs().sum() / d.abs().sum()) < 0.05
    assert abs(float(mean.abs().sum() / d.abs().sum()) - 1) < 0.01


@SETTINGS
@given(tensors(5, 300), st.floats(0.05, 0.9), st.floats(0.0, 0.1))
def test_breadcrumbs_is_the_band_of_ranks(d, density, gamma):
    n = d.numel()
    order = sorted(range(n), key=lambda i: (-abs(float(d[i])), i))
    top = ops.keep_count(gamma, n) if gamma > 0 else 0
    keep_n = min(n, top + ops.keep_count(density, n))
    ref = torch.zeros(n, dtype=torch.bool)
    ref[order[top:keep_n]] = True
    assert torch.equal(ops.breadcrumbs(d, density, gamma), torch.where(ref, d, 0.0))


@SETTINGS
@given(st.integers(2, 30), st.integers(2, 30), st.floats(0.2, 0.8), st.floats(0.0, 0.15))
def test_della_probabilities_are_linear_in_rank(rows, cols, density, eps):
    d = torch.randn(rows, cols)
    p = ops.della_probabilities(d, density, eps)
    for r in range(rows):
        order = sorted(range(cols), key=lambda i: (abs(float(d[r, i])), i))
        for rank, i in enumerate(order):
            want = density - eps + 2 * eps * rank / (cols - 1)
            assert abs(float(p[r, i]) - max(1e-6, min(1.0, want))) < 1e-5


def test_della_rescales_kept_by_inverse_probability():
    d = torch.randn(64, 64)
    out = ops.della(d, 0.4, ops.mask_generator(0, 0, "t"), 0.1)
    p = ops.della_probabilities(d, 0.4, 0.1)
    kept = out != 0
    assert torch.allclose(out[kept], (d / p)[kept])
    assert abs(float(kept.float().mean()) - 0.4) < 0.05


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_trim_works_from_low_precision(dtype):
    d = torch.randn(1000).to(dtype).float()
    assert int((ops.trim_magnitude(d, 0.1) != 0).sum()) == 100


def test_dare_methods_are_the_formula_on_one_tensor():
    from ft_merge.methods import MethodParams, TensorJob, get_method

    g = torch.Generator().manual_seed(0)
    base = torch.randn(300, 1000, generator=g)  # > one chunk: masks are drawn chunk by chunk
    deltas = [torch.randn(300, 1000, generator=g) * 1e-2 for _ in range(2)]
    p = MethodParams(seed=7)
    want = [ops.dare(d, 0.3, ops.mask_generator(7, i, "w"), "exact") for i, d in enumerate(deltas)]
    job = TensorJob("w", base, deltas, [1.0, 0.5], [0.3, 0.3])
    got = get_method("dare_random").fn(job, p)
    assert torch.allclose(got, base + want[0] + 0.5 * want[1], atol=1e-5)
    ties_got = get_method("dare_ties").fn(job, p)
    assert torch.allclose(ties_got, base + ops.elect_and_merge(want, [1.0, 0.5], normalize=False), atol=1e-5)
    kept = float((want[0] != 0).float().mean())
    assert abs(kept - 0.3) < 0.01
