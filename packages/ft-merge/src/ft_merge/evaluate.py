"""Evaluation: perplexity (``quick``, the seed's; ``standard``, the GPTQ/SparseGPT protocol) and
per-task held-out loss for retention.

quick: the first ``num_samples`` rows of WikiText-2 test, rows under 10 characters skipped, each
truncated to 512 tokens, one loss per row; the average weights each row by its n−1 predicted
tokens (the seed weights by n). Not comparable to published numbers.
standard: the texts joined by "\\n\\n", tokenized once, cut into non-overlapping windows of
``seq_len`` (capped at max_position_embeddings); PPL = exp(mean NLL over every predicted token).

retentionᵢ = (L_base,i − L_merged,i) / (L_base,i − L_ft,i) on dataset i's held-out rows.

Example:
    >>> evaluate_model(model, tokenizer, "wikitext2", num_samples=100)["perplexity"]
    12.3
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .calib_data import load_texts

WIKITEXT = {"wikitext", "wikitext2", "wikitext-2"}


def eval_texts(dataset: str, split: str = "test") -> list[str]:
    """Texts of an evaluation dataset: ``wikitext2`` (hub) or any spec ``load_texts`` accepts."""
    if dataset in WIKITEXT:
        return load_texts("wikitext:wikitext-2-raw-v1", split=split)
    return load_texts(dataset, split=split)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def row_losses(model: torch.nn.Module, tokenizer: Any, texts: list[str], max_len: int = 512) -> tuple[float, int]:
    """Σ over rows of (mean loss × predicted tokens) and the number of predicted tokens."""
    total, count = 0.0, 0
    dev = _device(model)
    for text in texts:
        ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_len)["input_ids"].to(dev)
        n = ids.shape[1] - 1
        if n < 1:
            continue
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        total += float(loss) * n
        count += n
    return total, count


def perplexity_quick(model: torch.nn.Module, tokenizer: Any, texts: list[str], num_samples: int = 100) -> dict[str, Any]:
    """The seed's protocol, with the n−1 token weighting (see the module docstring)."""
    rows = [t for t in texts[:num_samples] if len(t.strip()) >= 10]
    total, count = row_losses(model, tokenizer, rows)
    avg = total / max(count, 1)
    return {"perplexity": math.exp(avg) if count else float("inf"), "avg_loss": avg,
            "num_samples": num_samples, "num_tokens": count, "eval_mode": "quick"}


@torch.inference_mode()
def perplexity_standard(model: torch.nn.Module, tokenizer: Any, texts: list[str], seq_len: int = 2048,
                        max_windows: int | None = None) -> dict[str, Any]:
    """The literature's protocol: joined text, non-overlapping windows, exp(mean NLL)."""
    cap = getattr(getattr(model, "config", None), "max_position_embeddings", None) or seq_len
    L = min(seq_len, cap)
    ids = tokenizer("\n\n".join(texts), return_tensors="pt")["input_ids"][0]
    n_windows = ids.numel() // L
    if max_windows is not None:
        n_windows = min(n_windows, max_windows)
    if n_windows == 0:
        return {"perplexity": float("inf"), "error": f"fewer than {L} tokens for one window", "eval_mode": "standard"}
    dev = _device(model)
    nll, count = 0.0, 0
    for w in range(n_windows):
        x = ids[w * L:(w + 1) * L].unsqueeze(0).to(dev)
        loss = model(input_ids=x, labels=x, use_cache=False).loss
        nll += float(loss) * (L - 1)
        count += L - 1
    avg = nll / count
    return {"perplexity": math.exp(avg), "avg_loss": avg, "num_samples": n_windows, "num_tokens": count,
            "eval_mode": "standard", "seq_len": L}


def evaluate_model(model: torch.nn.Module, tokenizer: Any, eval_dataset: str = "wikitext", num_samples: int = 100,
                   mode: str = "quick", seq_len: int = 2048) -> dict[str, Any]:
    """Perplexity of ``model`` (seed API); on failure ``{"perplexity": inf, "error": ...}`` as in the seed."""
    try:
        texts = eval_texts(eval_dataset)
        if mode == "standard":
            return perplexity_standard(model, tokenizer, texts, seq_len)
        return perplexity_quick(model, tokenizer, texts, num_samples)
    except Exception as exc:  # the report keeps going, as the seed's does
        return {"perplexity": float("inf"), "error": f"{type(exc).__name__}: {exc}"[:300], "eval_mode": mode}


def heldout_texts(spec: str, tokenizer: Any, n_rows: int = 32, split: str = "train",
                  text_field: str | None = None) -> list[str]:
    """Dataset i's held-out rows for retention: its ``validation``/``test`` split when it has one,
    else the last ``n_rows`` rows (calibration reads from the start)."""
    from .calib_data import load_rows, row_text

    rows = load_rows(spec, split)
    tail = rows[-min(n_rows, max(1, len(rows) // 4)):]
    return [t for t in (row_text(r, text_field, tokenizer) for r in tail) if t.strip()]


def task_loss(model: torch.nn.Module, tokenizer: Any, texts: list[str]) -> float:
    """Token-weighted mean loss over ``texts``."""
    total, count = row_losses(model, tokenizer, texts)
    return total / max(count, 1)


def retention(l_base: float, l_ft: float, l_merged: float) -> float | None:
    """(L_base − L_merged)/(L_base − L_ft); None when the fine-tune did not improve on the base."""
    gain = l_base - l_ft
    return None if abs(gain) < 1e-9 else (l_base - l_merged) / gain
