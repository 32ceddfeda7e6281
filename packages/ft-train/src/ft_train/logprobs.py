"""Per-token log-probabilities of the labelled positions only, chunk by chunk: the CPU head of the
preference stages.

TRL's trainers call ``model(..., labels=labels, fused_lm_head=True)`` and read per-token
``log_probs`` (with gradient) and, for their metrics, ``entropy``, ``mean_logits`` and ``is_top1``.
On CUDA TRL computes them with Triton kernels over the labelled positions. Without Triton (CPU)
it scores *every* position, prompt and padding included, through an element-wise fallback that
makes about ten full passes over ``positions x vocab`` float32 tiles: on the DPO benchmark
(SmolLM2, 8 x 257 positions, 40 % of them answer tokens) that head took about 10 of a step's
27 s. :func:`install_labelled_head` replaces it, for devices without Triton only, by
:class:`_LabelledLogProbs`: the head over the labelled rows in chunks of ~64 MiB of logits, the
metrics in the same pass without gradient, and the gradient recomputed chunk by chunk in backward
(nothing ``vocab`` wide is kept between forward and backward).

Example:
    >>> install_labelled_head(trainer.model)            # after TRL's trainer is built
    >>> out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
    >>> out.log_probs.shape == labels[:, 1:].shape
    True
"""

from __future__ import annotations

import types
from typing import Any

import torch

from .loss import default_chunk_rows


class _LabelledLogProbs(torch.autograd.Function):
    """``log_softmax(hidden @ weight.T + bias)[target]`` per row, plus entropy, mean logit and top-1 (no grad)."""

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                targets: torch.Tensor, chunk_rows: int) -> tuple[torch.Tensor, ...]:
        n = hidden.shape[0]
        acc = torch.promote_types(hidden.dtype, torch.float32)  # at least float32 for the softmax sums
        log_probs = torch.empty(n, dtype=acc, device=hidden.device)
        entropy, mean_logits = torch.empty_like(log_probs), torch.empty_like(log_probs)
        is_top1 = torch.empty(n, dtype=torch.bool, device=hidden.device)
        norms = torch.empty_like(log_probs)
        for start in range(0, n, chunk_rows):
            end = min(start + chunk_rows, n)
            logits = torch.nn.functional.linear(hidden[start:end], weight, bias).to(acc)
            target = targets[start:end]
            norm = torch.logsumexp(logits, dim=-1)
            norms[start:end] = norm
            log_probs[start:end] = logits.gather(1, target[:, None]).squeeze(1) - norm
            mean_logits[start:end] = logits.mean(-1)
            # argmax is the first maximum: a tie with an earlier token is not a top-1 hit (as in TRL)
            is_top1[start:end] = logits.argmax(-1) == target
            weighted = (logits * logits.sub(norm[:, None]).exp_()).sum(-1)  # sum_v p_v * z_v
            entropy[start:end] = norm - weighted
        ctx.save_for_backward(hidden, weight, bias if bias is not None else torch.empty(0), targets, norms)
        ctx.has_bias, ctx.chunk_rows = bias is not None, chunk_rows
        ctx.mark_non_differentiable(entropy, mean_logits, is_top1)
        return log_probs, entropy, mean_logits, is_top1

    @staticmethod
    def backward(ctx: Any, grad_log_probs: torch.Tensor, *unused: Any) -> tuple[torch.Tensor | None, ...]:
        hidden, weight, bias, targets, norms = ctx.saved_tensors
        bias = bias if ctx.has_bias else None
        want_hidden, want_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        want_bias = ctx.has_bias and ctx.needs_input_grad[2]
        grad_hidden = torch.empty_like(hidden) if want_hidden else None
        acc = norms.dtype
        grad_weight = torch.zeros(weight.shape, dtype=acc, device=weight.device) if want_weight else None
        grad_bias = torch.zeros(bias.shape, dtype=acc, device=bias.device) if want_bias else None
        for start in range(0, hidden.shape[0], ctx.chunk_rows):
            end = min(start + ctx.chunk_rows, hidden.shape[0])
            rows = hidden[start:end]
            g = grad_log_probs[start:end].to(acc)
            # d log p_target / d z = one_hot(target) - softmax(z), scaled by the incoming gradient
            grad = torch.nn.functional.linear(rows, weight, bias).to(acc).sub_(norms[start:end, None]).exp_()
            grad.mul_(-g[:, None])
            grad[torch.arange(end - start, device=grad.device), targets[start:end]] += g
            if grad_hidden is not None:
                grad_hidden[start:end] = (grad.to(weight.dtype) @ weight).to(hidden.dtype)
            if grad_weight is not None:
                grad_weight += grad.T @ rows.to(acc)
            if grad_bias is not None:
                grad_bias += grad.sum(0)
        return (grad_hidden, grad_weight.to(weight.dtype) if grad_weight is not None else None,
                grad_bias.to(bias.dtype) if grad_bias is not None else None, None, None)


def labelled_log_probs(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                       targets: torch.Tensor, chunk_rows: int | None = None) -> tuple[torch.Tensor, ...]:
    """``(log_probs, entropy, mean_logits, is_top1)`` of ``hidden`` ``[N, H]`` rows against ``targets`` ``[N]``.

    Only ``log_probs`` carries a gradient (to ``hidden``, ``weight`` and ``bias`` as they require);
    the others are metrics. Values in float32 (or the inputs' dtype when wider).
    """
    rows = chunk_rows or default_chunk_rows(weight.shape[0])
    return _LabelledLogProbs.apply(hidden, weight, bias, targets, rows)


def install_labelled_head(model: Any) -> bool:
    """Route ``fused_lm_head=True`` calls of ``model`` (TRL-patched) through :func:`labelled_log_probs`.

    Only where TRL has no Triton kernel for the device (its CPU fallback is the slow path); returns
    whether the head was installed. Other calls go to the forward TRL left in place.
    """
    from trl.kernels.chunked_logprob import _use_triton
    from trl.trainer.utils import FusedCausalLMOutput

    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    device = causal_lm.get_output_embeddings().weight.device
    if _use_triton(device) or getattr(causal_lm, "_ft_labelled_head", False):
        return False
    trl_forward = causal_lm.forward

    def forward(self: Any, *args: Any, fused_lm_head: bool = False, labels: Any = None, **kwargs: Any) -> Any:
        if not fused_lm_head or kwargs.get("shift_labels") is not None or kwargs.get("output_router_logits"):
            return trl_forward(*args, fused_lm_head=fused_lm_head, labels=labels, **kwargs)
        kwargs.pop("num_items_in_batch", None)
        kwargs["use_cache"] = False
        hidden = self.base_model(*args, **kwargs).last_hidden_state[:, :-1]
        shifted = labels[:, 1:]
        mask = shifted != -100
        head = self.get_output_embeddings()
        fields = labelled_log_probs(hidden[mask], head.weight, head.bias, shifted[mask])
        # masked_scatter keeps an all-masked batch connected to the graph (a differentiable zero)
        log_probs, entropy, mean_logits, is_top1 = (
            x.new_zeros(mask.shape).masked_scatter(mask, x) for x in fields)
        loss = -log_probs.sum() / mask.sum().clamp(min=1)
        return FusedCausalLMOutput(loss=loss, log_probs=log_probs, entropy=entropy, mean_logits=mean_logits,
                                   is_top1=is_top1, label_mask=mask)

    causal_lm.forward = types.MethodType(forward, causal_lm)
    causal_lm._ft_labelled_head = True
    return True


def install_labelled_heads(trainer: Any) -> None:
    """:func:`install_labelled_head` on a TRL trainer's policy and, when it has one, its reference model."""
    install_labelled_head(trainer.accelerator.unwrap_model(trainer.model))
    if getattr(trainer, "ref_model", None) is not None:
        install_labelled_head(trainer.accelerator.unwrap_model(trainer.ref_model))


__all__ = ["install_labelled_head", "install_labelled_heads", "labelled_log_probs"]
