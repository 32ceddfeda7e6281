"""Cross-entropy through the output head, chunk by chunk, without keeping the logits.

A causal LM's head is ``vocab`` wide (49,152 for SmolLM2), so the logits of a batch are the
largest tensors of a LoRA step: ``positions x vocab x 4`` bytes, held three times over by the
usual ``cross_entropy(head(hidden))`` (the logits, the saved log-softmax, their gradient). Here
the head, the loss and both gradients are computed ``chunk_rows`` positions at a time during the
forward pass; autograd keeps only the gradient of the hidden states (``positions x hidden``), so
the loss needs ``chunk_rows x vocab`` floats at a time, whatever the batch. The same idea as
Liger's fused linear cross-entropy and torchtune's chunked loss, in plain torch so it runs on CPU.

Example:
    >>> loss_sum = linear_cross_entropy(hidden, head.weight, head.bias, targets)  # hidden [N, H]
    >>> (loss_sum / len(targets)).backward()
"""

from __future__ import annotations

from typing import Any

import torch

LOGITS_CHUNK_BYTES = 64 * 2**20
"""Float32 logits per chunk: 64 MiB is ~340 rows of SmolLM2's 49k vocabulary, big enough for
efficient matrix products, and above glibc's largest dynamic mmap threshold (32 MiB) so each
chunk's buffer goes straight back to the OS instead of fragmenting the heap."""


def default_chunk_rows(vocab_size: int) -> int:
    """Rows per chunk so that a chunk's float32 logits take about ``LOGITS_CHUNK_BYTES``."""
    return max(1, LOGITS_CHUNK_BYTES // (4 * vocab_size))


class _LinearCrossEntropy(torch.autograd.Function):
    """Summed cross-entropy of ``hidden @ weight.T + bias`` against ``targets``, gradients made in forward."""

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                targets: torch.Tensor, chunk_rows: int, with_grads: bool) -> torch.Tensor:
        # forward runs with grad mode off; the caller says whether autograd records this call
        want_hidden, want_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        want_bias = bias is not None and ctx.needs_input_grad[2]
        with_grads = with_grads and (want_hidden or want_weight or want_bias)
        grad_hidden = torch.empty_like(hidden) if with_grads and want_hidden else None
        # at least float32 for logits and sums: bf16 chunk sums would lose the small gradients
        acc = torch.promote_types(hidden.dtype, torch.float32)
        grad_weight = torch.zeros(weight.shape, dtype=acc, device=weight.device) if with_grads and want_weight else None
        grad_bias = torch.zeros(bias.shape, dtype=acc, device=bias.device) if with_grads and want_bias else None
        total = torch.zeros((), dtype=acc, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk_rows):
            rows = hidden[start:start + chunk_rows]
            target = targets[start:start + chunk_rows]
            logits = torch.nn.functional.linear(rows, weight, bias).to(acc)
            norm = torch.logsumexp(logits, dim=-1)
            total += (norm - logits.gather(1, target[:, None]).squeeze(1)).sum()
            if not with_grads:
                continue
            # d(loss)/d(logits) = softmax - one_hot(target), built in place in the logits buffer
            probs = logits.sub_(norm[:, None]).exp_()
            probs[torch.arange(len(target), device=probs.device), target] -= 1.0
            if grad_hidden is not None:
                grad_hidden[start:start + chunk_rows] = (probs.to(weight.dtype) @ weight).to(hidden.dtype)
            if grad_weight is not None:
                grad_weight += probs.T @ rows.to(acc)
            if grad_bias is not None:
                grad_bias += probs.sum(0)
        ctx.save_for_backward(*(t for t in (grad_hidden, grad_weight, grad_bias) if t is not None))
        ctx.has = (grad_hidden is not None, grad_weight is not None, grad_bias is not None)
        ctx.dtypes = (hidden.dtype, weight.dtype, bias.dtype if bias is not None else None)
        return total

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        saved = iter(ctx.saved_tensors)
        grads = [(next(saved) * grad_output).to(dtype) if present else None
                 for present, dtype in zip(ctx.has, ctx.dtypes, strict=True)]
        return grads[0], grads[1], grads[2], None, None, None


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                         targets: torch.Tensor, chunk_rows: int | None = None) -> torch.Tensor:
    """Sum over rows of ``cross_entropy(hidden @ weight.T + bias, targets)``, in float32 or wider.

    ``hidden`` is ``[N, H]`` (only the positions that have a target), ``weight`` ``[V, H]``,
    ``targets`` ``[N]`` token ids (no ignore index: drop those rows first). Gradients flow to
    whichever of ``hidden``, ``weight`` and ``bias`` require them and equal those of the plain
    expression; peak extra memory is one chunk of ``chunk_rows x V`` float32 logits
    (default: :func:`default_chunk_rows`).
    """
    if hidden.dim() != 2 or targets.shape != hidden.shape[:1]:
        raise ValueError(f"hidden must be [N, H] and targets [N], got {tuple(hidden.shape)} and {tuple(targets.shape)}")
    rows = chunk_rows or default_chunk_rows(weight.shape[0])
    recorded = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (hidden, weight, bias))
    return _LinearCrossEntropy.apply(hidden, weight, bias, targets, rows, recorded)
