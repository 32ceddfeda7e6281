"""The preference losses ft computes itself: LLaMA-Factory's ``orpo``, ``simpo``, ``kto_pair`` and cDPO.

TRL 1.x dropped ``kto_pair``, moved ORPO and SimPO to separate experimental trainers with their
own text pipelines, and applies ``label_smoothing`` to its ``robust``/``exo_pair``/``aot`` losses
only. These are the formulas LLaMA-Factory's DPO trainer uses, on per-sequence log-probs of the
answers (summed over tokens, or averaged over them where noted), so a LLaMA-Factory YAML with
``pref_loss: orpo`` trains the same objective in ft.

Each function takes 1-D tensors (one value per pair) and returns ``(losses, chosen_rewards,
rejected_rewards)``, every one a tensor of the pairs' length (``kto_pair``'s losses are twice that:
one term per answer).

Example:
    >>> import torch
    >>> losses, rc, rr = simpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), beta=2.0, gamma=0.5)
    >>> round(float(losses[0]), 4)   # -log sigmoid(2 * (1 - 0.25))
    0.2014
"""

from __future__ import annotations

from typing import Any

# ft's own losses, and those of them that read no reference model (LLaMA-Factory's use_ref_model).
FT_LOSSES = ("orpo", "simpo", "kto_pair", "cdpo")
REFERENCE_FREE = ("orpo", "simpo")
# Losses on length-averaged log-probs (LLaMA-Factory divides by the answer length for these).
LENGTH_AVERAGED = ("orpo", "simpo")


def orpo_loss(chosen_avg: Any, rejected_avg: Any, beta: float) -> tuple[Any, Any, Any]:
    """ORPO: −log p(chosen) + β · −log σ(log-odds(chosen) − log-odds(rejected)), on average log-probs.

    log-odds(y) = log p − log(1 − p); the rewards are β · average log-prob (no reference).
    """
    import torch
    import torch.nn.functional as F

    log_odds = (chosen_avg - rejected_avg) - (torch.log1p(-torch.exp(chosen_avg)) - torch.log1p(-torch.exp(rejected_avg)))
    losses = -chosen_avg - beta * F.logsigmoid(log_odds)
    return losses, beta * chosen_avg.detach(), beta * rejected_avg.detach()


def simpo_loss(chosen_avg: Any, rejected_avg: Any, beta: float, gamma: float) -> tuple[Any, Any, Any]:
    """SimPO: −log σ(β · (avg log p(chosen) − avg log p(rejected)) − γ), reference-free."""
    import torch.nn.functional as F

    losses = -F.logsigmoid(beta * (chosen_avg - rejected_avg - gamma / beta))
    return losses, beta * chosen_avg.detach(), beta * rejected_avg.detach()


def kto_pair_loss(chosen: Any, rejected: Any, ref_chosen: Any, ref_rejected: Any,
                  beta: float) -> tuple[Any, Any, Any]:
    """KTO on pairs: each answer against the batch's KL estimate of the other side (summed log-probs).

    The KL terms are the batch means of the log-ratios, clamped at 0 and not differentiated.
    """
    import torch

    chosen_ratio, rejected_ratio = chosen - ref_chosen, rejected - ref_rejected
    chosen_kl = chosen_ratio.mean().clamp(min=0).detach()
    rejected_kl = rejected_ratio.mean().clamp(min=0).detach()
    losses = torch.cat((1 - torch.sigmoid(beta * (chosen_ratio - rejected_kl)),
                        1 - torch.sigmoid(beta * (chosen_kl - rejected_ratio))))
    return losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()


def cdpo_loss(chosen: Any, rejected: Any, ref_chosen: Any, ref_rejected: Any, beta: float,
              smoothing: float) -> tuple[Any, Any, Any]:
    """Conservative DPO: the sigmoid loss with labels flipped with probability ``smoothing``."""
    import torch.nn.functional as F

    logits = (chosen - ref_chosen) - (rejected - ref_rejected)
    losses = -F.logsigmoid(beta * logits) * (1 - smoothing) - F.logsigmoid(-beta * logits) * smoothing
    return losses, beta * (chosen - ref_chosen).detach(), beta * (rejected - ref_rejected).detach()


__all__ = ["FT_LOSSES", "LENGTH_AVERAGED", "REFERENCE_FREE", "cdpo_loss", "kto_pair_loss", "orpo_loss",
           "simpo_loss"]
