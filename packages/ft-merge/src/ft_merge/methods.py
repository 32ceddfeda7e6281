"""The merge-method registry: one function per method, each computing one output tensor.

A method receives a :class:`TensorJob` (the base tensor, every model's task vector δᵢ in float32,
per-model weights and densities, calibration statistics when it uses them) and the run's
:class:`MethodParams`, and returns the merged weight θ in float32. Adding a method = one decorated
function here.

Example:
    >>> METHODS["ties"].fn(job, MethodParams())   # θ₀ + λ·TIES(δ₁..δₙ)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from . import ops
from .ops.keep import Keep
from .ops.sparsegpt import HessianStats


@dataclass
class MethodParams:
    """Global parameters of a merge (CLI/YAML ``parameters``). ``normalize=None`` = the method's default."""

    lambda_: float = 1.0
    normalize: bool | None = None
    elect_on: str = "weighted"
    dare_rescale: str = "exact"
    seed: int = 0
    saliency: str = "obs"
    selection: str = "tensor"
    sparsegpt_update: bool = False
    percdamp: float = 0.01
    epsilon: float = 0.15  # della
    gamma: float = 0.01  # breadcrumbs
    t: float = 0.5  # slerp
    alpha: float = 0.5  # regmean off-diagonal ratio


@dataclass
class TensorJob:
    """Everything about one tensor name across the inputs. ``deltas[i] is None`` means δᵢ ≡ 0."""

    name: str
    base: torch.Tensor
    deltas: list[torch.Tensor | None]
    weights: list[float]
    densities: list[float]
    hessians: list[HessianStats | None] | None = None
    fallbacks: set[str] = field(default_factory=set)
    memo: dict[tuple[object, ...], object] = field(default_factory=dict)

    def dense_deltas(self) -> list[torch.Tensor]:
        """δᵢ with zeros for inputs that do not touch this tensor (one shared zero tensor)."""
        if "dense" not in self.memo:
            zero = None
            out = []
            for d in self.deltas:
                if d is None:
                    zero = torch.zeros_like(self.base) if zero is None else zero
                    d = zero
                out.append(d)
            self.memo["dense"] = out  # type: ignore[index]
        return self.memo["dense"]  # type: ignore[index,return-value]


    def magnitude_keep(self, i: int) -> Keep:
        """Magnitude trim of δᵢ at its density, computed once per tensor for all methods."""
        key = ("magnitude", i)
        if key not in self.memo:
            self.memo[key] = ops.magnitude_keep(self.dense_deltas()[i], self.densities[i])
        return self.memo[key]  # type: ignore[return-value]

    def dare_keep(self, i: int, p: MethodParams) -> Keep:
        """DARE mask of δᵢ (seeded by run seed, i and the tensor name), shared by DARE methods."""
        key = ("dare", i)
        if key not in self.memo:
            gen = ops.mask_generator(p.seed, i, self.name)
            self.memo[key] = ops.dare_keep(self.base.shape, self.densities[i], gen)
        return self.memo[key]  # type: ignore[return-value]


MethodFn = Callable[[TensorJob, MethodParams], torch.Tensor]


@dataclass(frozen=True)
class Method:
    """A registered method: ``needs`` is what calibration it uses (none, diag or full Hessians)."""

    name: str
    fn: MethodFn
    summary: str
    needs: str = "none"  # "none" | "diag" | "full"
    min_models: int = 1
    max_models: int | None = None
    uses_base: bool = True


METHODS: dict[str, Method] = {}
# mergekit's and the seed's names for the same methods.
ALIASES: dict[str, str] = {"ties_magnitude": "ties", "dare_random": "dare_linear"}


def register(name: str, summary: str, **kw: object) -> Callable[[MethodFn], MethodFn]:
    """Decorator adding a method to :data:`METHODS`."""

    def deco(fn: MethodFn) -> MethodFn:
        METHODS[name] = Method(name, fn, summary, **kw)  # type: ignore[arg-type]
        return fn

    return deco


def get_method(name: str) -> Method:
    """The method registered as ``name`` or under an alias (``KeyError`` otherwise)."""
    return METHODS[ALIASES.get(name, name)]


def _finish(job: TensorJob, tau: torch.Tensor, p: MethodParams) -> torch.Tensor:
    if p.lambda_ != 1.0:
        tau.mul_(p.lambda_)
    return tau.add_(job.base)


def _norm(p: MethodParams, default: bool) -> bool:
    return default if p.normalize is None else p.normalize


@register("linear", "weighted average of the models' weights Σwᵢθᵢ/Σwᵢ", uses_base=False)
def _linear(job: TensorJob, p: MethodParams) -> torch.Tensor:
    # Σwᵢ(θ₀+δᵢ)/Σwᵢ = θ₀ + Σwᵢδᵢ/Σwᵢ: computed on deltas to avoid N extra tensors.
    return weighted_sum_on_base(job, _norm(p, True))


def weighted_sum_on_base(job: TensorJob, normalize: bool) -> torch.Tensor:
    tau = ops.weighted_sum(job.dense_deltas(), job.weights, normalize=normalize)
    if not normalize:
        return tau.add_(job.base, alpha=float(sum(job.weights)))
    return tau.add_(job.base)


@register("task_arithmetic", "θ₀ + λ·Σwᵢδᵢ")
def _task_arithmetic(job: TensorJob, p: MethodParams) -> torch.Tensor:
    return _finish(job, ops.weighted_sum(job.dense_deltas(), job.weights, _norm(p, False)), p)


@register("ties", "TIES: magnitude trim, sign election, disjoint mean, λ (seed: ties_magnitude)")
def _ties(job: TensorJob, p: MethodParams) -> torch.Tensor:
    keeps = [job.magnitude_keep(i) for i in range(len(job.deltas))]
    tau = ops.ties(job.dense_deltas(), job.weights, job.densities, 1.0, p.elect_on, normalize=_norm(p, True),
                   keeps=keeps)
    return _finish(job, tau, p)


def _dare_inputs(job: TensorJob, p: MethodParams) -> tuple[list[torch.Tensor], list[Keep] | None]:
    if p.dare_rescale == "exact":
        return job.dense_deltas(), [job.dare_keep(i, p) for i in range(len(job.deltas))]
    out = []
    for i, (d, dens) in enumerate(zip(job.dense_deltas(), job.densities, strict=True)):
        out.append(ops.dare(d, dens, ops.mask_generator(p.seed, i, job.name), p.dare_rescale))
    return out, None


@register("dare_linear", "DARE drop-and-rescale then θ₀ + λ·Σwᵢδ̂ᵢ (seed: dare_random)")
def _dare_linear(job: TensorJob, p: MethodParams) -> torch.Tensor:
    deltas, keeps = _dare_inputs(job, p)
    return _finish(job, ops.weighted_sum(deltas, job.weights, _norm(p, False), keeps=keeps), p)


@register("dare_ties", "DARE drop-and-rescale, sign election, disjoint sum, λ")
def _dare_ties(job: TensorJob, p: MethodParams) -> torch.Tensor:
    deltas, keeps = _dare_inputs(job, p)
    return _finish(job, ops.elect_and_merge(deltas, job.weights, _norm(p, False), p.elect_on, keeps=keeps), p)


def sparsegpt_keeps(job: TensorJob, p: MethodParams) -> tuple[list[Keep], list[torch.Tensor]]:
    """Per-model keeps by saliency (magnitude where a tensor has no Hessian) and the deltas,
    OBS-updated when ``sparsegpt_update``."""
    keeps, deltas = [], []
    for i, (d, dens) in enumerate(zip(job.dense_deltas(), job.densities, strict=True)):
        stats = job.hessians[i] if job.hessians else None
        if stats is None or d.dim() != 2:
            job.fallbacks.add(job.name)
            keeps.append(job.magnitude_keep(i))
            deltas.append(d)
            continue
        keep = ops.saliency_keep(d, stats, dens, p.saliency, p.selection)
        if p.sparsegpt_update and stats.H is not None:
            m = keep.to_mask(d.numel()).view(d.shape)
            d = ops.obs_update(d, m, ops.obs_factor(stats.H, p.percdamp))
        keeps.append(keep)
        deltas.append(d)
    return keeps, deltas


@register("ties_sparsegpt", "TIES whose trim keeps the top-k by SparseGPT/OBS saliency", needs="diag")
def _ties_sparsegpt(job: TensorJob, p: MethodParams) -> torch.Tensor:
    keeps, deltas = sparsegpt_keeps(job, p)
    tau = ops.ties(deltas, job.weights, job.densities, 1.0, p.elect_on, normalize=_norm(p, True), keeps=keeps)
    return _finish(job, tau, p)


@register("dare_sparsegpt", "experimental (seed's DARE-SparseGPT): saliency mask, rescale 1/d, sum",
          needs="diag")
def _dare_sparsegpt(job: TensorJob, p: MethodParams) -> torch.Tensor:
    keeps, deltas = sparsegpt_keeps(job, p)
    scaled = []
    for k, d in zip(keeps, deltas, strict=True):
        m = k.to_mask(d.numel(), d.reshape(-1))
        frac = float(m.sum()) / max(m.numel(), 1)
        scaled.append(Keep(mask=m, scale=1.0 / frac if frac > 0 else 0.0))
    return _finish(job, ops.weighted_sum(deltas, job.weights, _norm(p, False), keeps=scaled), p)


@register("breadcrumbs", "drop the top γ and the bottom of |δ|, keep density, then θ₀ + λ·Σwᵢδ̂ᵢ")
def _breadcrumbs(job: TensorJob, p: MethodParams) -> torch.Tensor:
    kept = [ops.breadcrumbs(d, dens, p.gamma) for d, dens in zip(job.dense_deltas(), job.densities, strict=True)]
    return _finish(job, ops.weighted_sum(kept, job.weights, _norm(p, False)), p)


@register("della", "DELLA: MagPrune (rank-based keep probability d±ε, rescale 1/p), elect, disjoint mean")
def _della(job: TensorJob, p: MethodParams) -> torch.Tensor:
    kept = [ops.della(d, dens, ops.mask_generator(p.seed, i, job.name), p.epsilon)
            for i, (d, dens) in enumerate(zip(job.dense_deltas(), job.densities, strict=True))]
    return _finish(job, ops.elect_and_merge(kept, job.weights, _norm(p, True), p.elect_on), p)


@register("slerp", "spherical interpolation of two fine-tunes' weights at t", min_models=2, max_models=2,
          uses_base=False)
def _slerp(job: TensorJob, p: MethodParams) -> torch.Tensor:
    d1, d2 = job.dense_deltas()
    return ops.slerp(job.base + d1, job.base + d2, p.t)


@register("regmean", "RegMean on Linear weights from the calibration Gram matrices; others averaged",
          needs="full", uses_base=False)
def _regmean(job: TensorJob, p: MethodParams) -> torch.Tensor:
    stats = job.hessians or []
    if job.base.dim() != 2 or len(stats) != len(job.deltas) or any(s is None or s.H is None for s in stats):
        job.fallbacks.add(job.name)
        return weighted_sum_on_base(job, True)
    thetas = [job.base + d for d in job.dense_deltas()]
    return ops.regmean(thetas, [s.H * 0.5 for s in stats], p.alpha)  # type: ignore[union-attr]
