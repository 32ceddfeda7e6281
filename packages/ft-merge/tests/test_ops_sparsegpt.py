"""SparseGPT pieces: accumulation, damping, inverse, saliency, the identity-Hessian equivalence
and the OBS update."""

from __future__ import annotations

import hypothesis.strategies as st
import torch
from hypothesis import given, settings

from ft_merge import ops
from ft_merge.ops.sparsegpt import HessianStats

SETTINGS = settings(max_examples=30, deadline=None)


def test_accumulator_is_2xtx_over_real_tokens():
    x = torch.randn(3, 7, 5)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 4:] = False
    acc = ops.HessianAccumulator(5)
    acc.add(x[:2], mask[:2])
    acc.add(x[2:], mask[2:])
    real = x[mask]
    assert acc.tokens == real.shape[0]
    assert torch.allclose(acc.hessian(), 2 * real.T @ real / real.shape[0], atol=1e-5)


def test_damping_and_dead_columns():
    H = torch.diag(torch.tensor([2.0, 0.0, 4.0]))
    Hd = ops.damped(H, 0.01)
    mean = (2 + 1 + 4) / 3
    assert torch.allclose(torch.diagonal(Hd), torch.tensor([2, 1, 4]) + 0.01 * mean)
    stats = ops.hessian_stats(H, 0.01)
    s = ops.saliency(torch.ones(2, 3), stats, "obs")
    assert bool((s[:, 1] == 0).all()) and bool((s[:, 0] > 0).all())


def test_cholesky_retry_and_diagonal_fallback():
    H = torch.tensor([[1.0, 2.0], [2.0, 1.0]])  # indefinite: needs more damping
    inv, how = ops.inverse(H, 0.01)
    assert how == "cholesky" and torch.isfinite(inv).all()
    bad = torch.tensor([[1.0, 0.0], [0.0, -50.0]])
    inv, how = ops.inverse(bad, 0.01, tries=1)
    assert how == "diagonal"


def test_u_diagonal_is_the_eliminated_inverse_diagonal():
    x = torch.randn(200, 6, dtype=torch.float64)
    H = (2 * x.T @ x / 200).float()
    U = ops.obs_factor(H, 0.01).double()
    Hd = ops.damped(H, 0.01).double()
    for j in range(6):
        sub = torch.linalg.inv(Hd[j:, j:])
        assert abs(float(U[j, j] ** 2 - sub[0, 0])) < 1e-4 * float(sub[0, 0])


@SETTINGS
@given(st.integers(2, 12), st.integers(2, 12), st.integers(0, 10**6))
def test_saliencies_are_the_formulas_and_rank_alike_within_a_column(d_out, d_in, seed):
    g = torch.Generator().manual_seed(seed)
    delta = torch.randn(d_out, d_in, generator=g)
    x = torch.randn(50, d_in, generator=g) * torch.rand(d_in, generator=g)
    stats = ops.hessian_stats(2 * x.T @ x / 50, 0.01)
    obs, seed_s, wanda = (ops.saliency(delta, stats, k) for k in ("obs", "seed", "wanda"))
    assert torch.allclose(obs, delta**2 / stats.hinv_diag, rtol=1e-5)
    assert torch.allclose(seed_s, delta**2 / stats.hinv_diag**2, rtol=1e-5)
    assert torch.allclose(wanda, delta.abs() * stats.diag.sqrt(), rtol=1e-5)
    for b in range(d_in):
        order = torch.argsort(delta[:, b].abs(), stable=True)
        for s in (obs, seed_s, wanda):
            assert torch.equal(torch.argsort(s[:, b], stable=True), order) or len(set(delta[:, b].abs().tolist())) < d_out


@SETTINGS
@given(st.integers(1, 3), st.integers(2, 20), st.integers(2, 20), st.floats(0.05, 1.0), st.integers(0, 10**6))
def test_identity_hessian_ties_sparsegpt_equals_ties_bit_for_bit(n, d_out, d_in, density, seed):
    g = torch.Generator().manual_seed(seed)
    deltas = [torch.randn(d_out, d_in, generator=g) * 1e-3 for _ in range(n)]
    deltas[0][0, :] = 1e-30  # squares underflow to 0: the |δ| tie-break keeps the order
    ident = HessianStats.identity(d_in)
    masks = [ops.saliency_mask(d, ident, density, "obs", "tensor") for d in deltas]
    a = ops.ties(deltas, [1.0] * n, [density] * n, masks=masks)
    b = ops.ties(deltas, [1.0] * n, [density] * n)
    assert torch.equal(a, b)


def test_selection_modes_keep_their_budgets():
    d = torch.randn(16, 300)
    stats = HessianStats.identity(300)
    assert int(ops.saliency_mask(d, stats, 0.25, selection="tensor").sum()) == 1200
    assert (ops.saliency_mask(d, stats, 0.25, selection="row").sum(1) == 75).all()
    m = ops.saliency_mask(d, stats, 0.25, selection="block128")
    assert int(m[:, :128].sum()) == 512 and int(m[:, 256:].sum()) == int(0.25 * 16 * 44)


def test_obs_update_lowers_output_error_on_correlated_inputs():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(64, 16, generator=g)
    x = base @ torch.randn(16, 16, generator=g) * 0.3 + base  # correlated columns
    H = 2 * x.T @ x / x.shape[0]
    delta = torch.randn(8, 16, generator=g)
    stats = ops.hessian_stats(H, 0.01, keep_full=True)
    mask = ops.saliency_mask(delta, stats, 0.3)
    plain = torch.where(mask, delta, 0.0)
    updated = ops.obs_update(delta, mask, ops.obs_factor(H, 0.01), blocksize=8)
    assert torch.equal(updated != 0, mask & (updated != 0)) and not bool(updated[~mask].any())

    def err(d):
        return float(((delta - d) @ x.T).square().sum())

    assert err(updated) < err(plain)
