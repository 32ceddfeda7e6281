"""TIES, task arithmetic, SLERP, RegMean and LoRA deltas against direct formulas."""

from __future__ import annotations

import math

import hypothesis.strategies as st
import torch
from hypothesis import given, settings

from ft_merge import ops

SETTINGS = settings(max_examples=40, deadline=None)

D1 = torch.tensor([1.0, -2.0, 0.5, 0.0])
D2 = torch.tensor([-0.5, 1.0, 0.3, 0.2])
D3 = torch.tensor([0.8, -0.5, -0.2, 0.0])


def test_worked_examples_of_the_spec():
    assert torch.allclose(ops.ties([D1, D2, D3], [1, 1, 1], [1, 1, 1]), torch.tensor([0.9, -1.25, 0.4, 0.2]))
    assert torch.allclose(ops.ties([D1, D2, D3], [1, 1, 1], [0.5] * 3), torch.tensor([0.9, -1.25, 0.0, 0.0]))


def direct_ties(deltas, weights, densities, lam, elect_on="weighted", normalize=True):
    """Per-entry loop over the paper's definition (mergekit's weighted variant)."""
    n = deltas[0].numel()
    trimmed = []
    for d, dens in zip(deltas, densities):
        k = n if dens >= 1 else max(1, int(dens * n))
        order = sorted(range(n), key=lambda i: (-abs(float(d[i])), i))
        keep = set(order[:k])
        trimmed.append([float(d[i]) if i in keep else 0.0 for i in range(n)])
    out = []
    for p in range(n):
        s = sum((w if elect_on == "weighted" else 1.0) * t[p] for t, w in zip(trimmed, weights))
        sign = 1.0 if s >= 0 else -1.0
        num = den = 0.0
        for t, w in zip(trimmed, weights):
            if t[p] != 0 and math.copysign(1.0, t[p]) == sign:
                num += w * t[p]
                den += w
        out.append(lam * (num / den if (normalize and den) else num))
    return torch.tensor(out)


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 60), st.integers(0, 10**6), st.floats(0.1, 1.0),
       st.sampled_from(["weighted", "unweighted"]), st.booleans())
def test_ties_matches_direct(n_models, size, seed, density, elect_on, normalize):
    g = torch.Generator().manual_seed(seed)
    deltas = [torch.randn(size, generator=g) for _ in range(n_models)]
    weights = [float(w) for w in torch.rand(n_models, generator=g) + 0.2]
    got = ops.ties(deltas, weights, [density] * n_models, 1.3, elect_on, normalize=normalize)
    want = direct_ties(deltas, weights, [density] * n_models, 1.3, elect_on, normalize)
    assert torch.allclose(got, want, atol=1e-5)


def test_ties_single_model_full_density_is_identity_and_zeros_stay():
    d = torch.randn(100)
    assert torch.equal(ops.ties([d], [1.0], [1.0]), d)
    z = torch.zeros(10)
    assert torch.equal(ops.ties([z, z], [1, 1], [0.5, 0.5]), z)


def test_identical_deltas_reproduce_the_delta():
    d = torch.randn(500)
    assert torch.allclose(ops.ties([d, d, d], [1, 1, 1], [1, 1, 1]), d, atol=1e-7)
    assert torch.allclose(ops.weighted_sum([d, d], [1, 1], normalize=True), d)


@SETTINGS
@given(st.integers(2, 50), st.floats(0.0, 1.0), st.integers(0, 10**6))
def test_slerp_matches_formula(size, t, seed):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(size, generator=g, dtype=torch.float64), torch.randn(size, generator=g, dtype=torch.float64)
    got = ops.slerp(a.float(), b.float(), t).double()
    cos = float(a @ b / (a.norm() * b.norm()))
    om = math.acos(max(-1, min(1, cos)))
    if abs(cos) < 0.999:  # near-(anti)parallel vectors take the documented lerp fallback
        want = (math.sin((1 - t) * om) * a + math.sin(t * om) * b) / math.sin(om)
        assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)
    assert torch.allclose(ops.slerp(a.float(), a.float(), t), a.float())


@SETTINGS
@given(st.integers(1, 3), st.integers(2, 8), st.integers(2, 8), st.floats(0.0, 1.0), st.integers(0, 10**6))
def test_regmean_is_the_closed_form(n, d_out, d_in, alpha, seed):
    g = torch.Generator().manual_seed(seed)
    Ws = [torch.randn(d_out, d_in, generator=g, dtype=torch.float64) for _ in range(n)]
    Xs = [torch.randn(20, d_in, generator=g, dtype=torch.float64) for _ in range(n)]
    Gs = [x.T @ x / 20 for x in Xs]
    got = ops.regmean([w.float() for w in Ws], [G.float() for G in Gs], alpha).double()
    R = [alpha * G + (1 - alpha) * torch.diag(torch.diagonal(G)) for G in Gs]
    want = (sum(R[i] @ Ws[i].T for i in range(n)).T) @ torch.linalg.inv(sum(R))
    assert torch.allclose(got, want, atol=1e-3, rtol=1e-3)


def test_regmean_minimises_the_output_error():
    g = torch.Generator().manual_seed(0)
    Ws = [torch.randn(6, 5, generator=g) for _ in range(2)]
    Xs = [torch.randn(40, 5, generator=g) for _ in range(2)]
    W = ops.regmean(Ws, [x.T @ x / 40 for x in Xs], alpha=1.0)

    def err(M):
        return sum(float(((M - w) @ x.T).square().sum()) for w, x in zip(Ws, Xs))

    assert err(W) <= err((Ws[0] + Ws[1]) / 2) + 1e-4
    assert err(W) <= err(W + 0.01 * torch.randn(6, 5, generator=g)) + 1e-4


@SETTINGS
@given(st.integers(1, 8), st.integers(1, 16), st.integers(1, 16), st.booleans(), st.booleans())
def test_lora_delta_formula(r, d_in, d_out, rslora, fifo):
    A, B = torch.randn(r, d_in), torch.randn(d_out, r)
    s = 8 / math.sqrt(r) if rslora else 8 / r
    want = s * (B @ A)
    got = ops.lora_delta(A, B, 8, r, rslora, fan_in_fan_out=fifo)
    assert torch.allclose(got, want.T if fifo else want, atol=1e-5)


def test_chunked_ties_equals_a_whole_tensor_reference():
    g = torch.Generator().manual_seed(5)
    n = 2 * ops.CHUNK + 123  # crosses chunk boundaries; ties at the threshold in several chunks
    deltas = [torch.randn(n, generator=g) for _ in range(3)]
    for d in deltas:
        d[:: 997] = 0.25
    dens = [0.3, 0.2, 0.5]
    got = ops.ties(deltas, [1.0, 0.5, 2.0], dens)
    trimmed = []
    for d, p in zip(deltas, dens):
        k = int(p * n)
        order = torch.argsort(-d.abs(), stable=True)  # ties: lowest index first
        m = torch.zeros(n, dtype=torch.bool)
        m[order[:k]] = True
        trimmed.append(torch.where(m, d, 0.0))
    w = torch.tensor([1.0, 0.5, 2.0]).unsqueeze(1)
    t = torch.stack(trimmed)
    sign = torch.where((w * t).sum(0) >= 0, 1.0, -1.0)
    agree = (t != 0) & (torch.sign(t) == sign)
    want = (w * t * agree).sum(0) / torch.where((w * agree).sum(0) == 0, 1.0, (w * agree).sum(0))
    assert torch.allclose(got, want, atol=1e-6)
    assert [int(ops.magnitude_mask(d, p).sum()) for d, p in zip(deltas, dens)] == [int(p * n) for p in dens]
