"""Choose the next token of every row of a batch, each row with its own ``SamplingParams``.

Order, as in vLLM: penalties on the raw logits, the caller's constraint mask, then greedy rows
take the argmax and the others are divided by their temperature and filtered by top-k, top-p and
min-p before drawing. Log-probabilities reported to users are those of the raw model
distribution (vLLM's default), not of the filtered one.

Example:
    >>> rows = logits.shape[0]
    >>> tokens = choose_tokens(logits, [SamplingParams(temperature=0.0)] * rows, [None] * rows)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .params import SamplingParams

__all__ = ["apply_penalties", "choose_tokens"]

# Candidates kept for filtering: top-k/top-p/min-p are applied inside the 1024 most likely tokens
# instead of sorting the whole vocabulary (a sort of 49k logits per row per step is most of a CPU
# decode step). A row whose top-p mass is not reached inside them is sorted whole.
_CANDIDATES = 1024


def apply_penalties(logits: torch.Tensor, params: SamplingParams, prompt_ids: Sequence[int],
                    output_ids: Sequence[int]) -> None:
    """Apply one row's repetition, presence and frequency penalties to ``logits`` (1-D) in place.

    Repetition (HF/CTRL): logits of tokens seen in prompt or output are divided by the penalty
    when positive and multiplied when negative. Presence/frequency (OpenAI): subtract
    ``presence`` once and ``frequency`` per occurrence, for tokens in the output.
    """
    vocab = logits.shape[-1]
    if params.repetition_penalty != 1.0:
        seen = torch.tensor(sorted(set(prompt_ids) | set(output_ids)), dtype=torch.long, device=logits.device)
        seen = seen[seen < vocab]
        vals = logits[seen]
        logits[seen] = torch.where(vals > 0, vals / params.repetition_penalty, vals * params.repetition_penalty)
    if (params.presence_penalty or params.frequency_penalty) and output_ids:
        counts = torch.bincount(torch.tensor(output_ids, dtype=torch.long, device=logits.device), minlength=vocab)[:vocab]
        logits -= params.frequency_penalty * counts.to(logits.dtype)
        logits -= params.presence_penalty * (counts > 0).to(logits.dtype)


def _keep(vals: torch.Tensor, idx: torch.Tensor, params: SamplingParams) -> tuple[torch.Tensor, torch.Tensor]:
    """One row's sorted candidates (``[1, k]``) after top-k, top-p and min-p, renormalised."""
    ranks = torch.arange(vals.shape[-1], device=vals.device).unsqueeze(0)
    keep = ranks < (params.top_k if params.top_k > 0 else vals.shape[-1])
    keep &= (vals.cumsum(-1) - vals) < params.top_p  # mass strictly above each candidate
    keep &= vals >= params.min_p * vals[:, :1]
    keep[:, 0] = True  # the most likely token always survives
    vals = torch.where(keep, vals, torch.zeros_like(vals))
    return vals / vals.sum(-1, keepdim=True), idx


def _filter_rows(probs: torch.Tensor, params: Sequence[SamplingParams]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per row: candidate probabilities (zero where filtered) and their token ids."""
    vocab = probs.shape[-1]
    k = min(vocab, max([_CANDIDATES] + [p.top_k for p in params if p.top_k > 0]))
    vals, idx = probs.topk(k, dim=-1)
    mass = vals.sum(-1).tolist()
    out = []
    for r, p in enumerate(params):
        if p.top_p < 1.0 and mass[r] < p.top_p and p.top_k <= 0:  # top-p reaches past the candidates
            full_vals, full_idx = probs[r:r + 1].sort(dim=-1, descending=True)
            out.append(_keep(full_vals, full_idx, p))
        else:
            out.append(_keep(vals[r:r + 1], idx[r:r + 1], p))
    return out


def choose_tokens(logits: torch.Tensor, params: Sequence[SamplingParams],
                  generators: Sequence[torch.Generator | None]) -> torch.Tensor:
    """The next token id of every row (``logits``: ``[rows, vocab]`` float32, penalties and masks applied).

    Rows with a ``generator`` (a request ``seed``) draw from it, so the same seed gives the same text
    whatever else is in the batch.
    """
    rows = logits.shape[0]
    tokens = torch.empty(rows, dtype=torch.long, device=logits.device)
    greedy = [r for r in range(rows) if params[r].greedy]
    if greedy:
        tokens[greedy] = logits[greedy].argmax(-1)
    sampled = [r for r in range(rows) if not params[r].greedy]
    if not sampled:
        return tokens
    temps = torch.tensor([params[r].temperature for r in sampled], device=logits.device, dtype=logits.dtype)
    probs = torch.softmax(logits[sampled] / temps.unsqueeze(1), dim=-1)
    sub = [params[r] for r in sampled]
    if any(p.filtered for p in sub):
        pairs: list[tuple[torch.Tensor, torch.Tensor | None]] = list(_filter_rows(probs, sub))
    else:
        pairs = [(probs[j:j + 1], None) for j in range(len(sampled))]
    # Drawn by the exponential race (argmax of p / E with E ~ Exp(1), as vLLM does): the same
    # distribution as multinomial, which took 40 ms per step over 32 x 49k probabilities on CPU.
    unseeded = [j for j, r in enumerate(sampled) if generators[r] is None]
    done: set[int] = set()
    if unseeded and len({pairs[j][0].shape[-1] for j in unseeded}) == 1:
        batch = torch.cat([pairs[j][0] for j in unseeded])
        draws = (batch / torch.empty_like(batch).exponential_()).argmax(-1).tolist()
        for n, j in enumerate(unseeded):
            ids = pairs[j][1]
            tokens[sampled[j]] = draws[n] if ids is None else ids[0, draws[n]]
        done = set(unseeded)
    for j, r in enumerate(sampled):
        if j in done:
            continue
        pv, pi = pairs[j]
        pick = int((pv[0] / torch.empty_like(pv[0]).exponential_(generator=generators[r])).argmax())
        tokens[r] = pick if pi is None else pi[0, pick]
    return tokens
