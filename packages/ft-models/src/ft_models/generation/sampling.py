"""Choose the next token of every row of a batch, each row with its own ``SamplingParams``.

Order, as in vLLM: penalties on the raw logits, the caller's constraint mask, then greedy rows
take the argmax and the others are divided by their temperature and filtered by top-k, top-p (over
the top-k renormalised, as HF and vLLM do) and min-p before drawing. Log-probabilities reported to users are those of the raw model
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
    in_k = torch.where(keep, vals, torch.zeros_like(vals))
    # top-p over the distribution renormalised to the top-k, as HF's and vLLM's samplers do: the
    # mass strictly above each candidate, as a share of the top-k's mass (the whole one without top-k)
    total = in_k.sum(-1, keepdim=True) if params.top_k > 0 else 1.0
    keep &= (in_k.cumsum(-1) - in_k) < params.top_p * total
    keep &= vals >= params.min_p * vals[:, :1]  # relative to the maximum, so renormalising changes nothing
    keep[:, 0] = True  # the most likely token always survives
    vals = torch.where(keep, vals, torch.zeros_like(vals))
    return vals / vals.sum(-1, keepdim=True), idx


def _own_width(p: SamplingParams, vocab: int) -> int:
    """Candidates one row is filtered in: it depends on the row's own settings only, so a seeded
    row draws the same noise whatever the other rows ask for."""
    return min(vocab, max(_CANDIDATES, p.top_k if p.top_k > 0 else 0))


def _needs_full_sort(vals: torch.Tensor, mass: float, p: SamplingParams, vocab: int) -> bool:
    """Whether the kept set may reach past the candidates ``vals`` (one row, sorted)."""
    if p.top_k > 0 or vals.shape[-1] == vocab:
        return False  # top-k bounds the set inside the candidates, or the candidates are everything
    if p.top_p < 1.0 and mass < p.top_p:
        return True
    # min-p alone keeps every token above min_p * max; the last candidate may not be the last kept
    return p.top_p >= 1.0 and p.min_p > 0.0 and float(vals[0, -1]) >= p.min_p * float(vals[0, 0])


def _filter_rows(probs: torch.Tensor, params: Sequence[SamplingParams]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per row: candidate probabilities (zero where filtered) and their token ids."""
    vocab = probs.shape[-1]
    widths = [_own_width(p, vocab) for p in params]
    vals, idx = probs.topk(max(widths), dim=-1)  # sorted, so each row's own top-w is a prefix
    out = []
    for r, p in enumerate(params):
        w = widths[r]
        row_vals, row_idx = vals[r:r + 1, :w], idx[r:r + 1, :w]
        if _needs_full_sort(row_vals, float(row_vals.sum()), p, vocab):
            row_vals, row_idx = probs[r:r + 1].sort(dim=-1, descending=True)
        out.append(_keep(row_vals, row_idx, p))
    return out


def _inverse_cdf(probs: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Per row, the first index whose cumulative probability exceeds ``uniform`` times the row's mass."""
    cdf = probs.cumsum(-1)
    picks = torch.searchsorted(cdf, uniform * cdf[:, -1:], right=True).squeeze(-1)
    return picks.clamp(max=probs.shape[-1] - 1)


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
    # only the rows that ask for filters go through them: an unfiltered row keeps the whole vocabulary
    pairs: list[tuple[torch.Tensor, torch.Tensor | None]] = [(probs[j:j + 1], None) for j in range(len(sampled))]
    filtered = [j for j, p in enumerate(sub) if p.filtered]
    if filtered:
        for j, pair in zip(filtered, _filter_rows(probs[filtered], [sub[j] for j in filtered]), strict=True):
            pairs[j] = pair
    # Drawn by inverting the CDF (a cumulative sum and a binary search per row): 1 ms for
    # 32 x 49k probabilities on 2 CPU cores, where torch.multinomial and the exponential race
    # (argmax of p / E) both took 50 ms, most of a decode step of a 135M model.
    by_width: dict[int, list[int]] = {}  # unseeded rows drawn together, one draw per candidate width
    for j, r in enumerate(sampled):
        if generators[r] is None:
            by_width.setdefault(pairs[j][0].shape[-1], []).append(j)
    done: set[int] = set()
    for group in by_width.values():
        unfiltered = all(pairs[j][1] is None for j in group)
        batch = probs[group] if unfiltered else torch.cat([pairs[j][0] for j in group])
        draws = _inverse_cdf(batch, torch.rand((len(group), 1), device=batch.device, dtype=batch.dtype)).tolist()
        for n, j in enumerate(group):
            ids = pairs[j][1]
            tokens[sampled[j]] = draws[n] if ids is None else ids[0, draws[n]]
        done.update(group)
    for j, r in enumerate(sampled):
        if j in done:
            continue
        pv, pi = pairs[j]
        u = torch.rand((1, 1), generator=generators[r], device=pv.device, dtype=pv.dtype)
        pick = int(_inverse_cdf(pv, u)[0])
        tokens[r] = pick if pi is None else pi[0, pick]
    return tokens
