"""ft's own preference losses against hand computations of LLaMA-Factory's formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ft_train.pref_losses import cdpo_loss, kto_pair_loss, orpo_loss, simpo_loss

CHOSEN, REJECTED = torch.tensor([-0.5, -1.2]), torch.tensor([-0.9, -0.7])  # average log-probs
REF_CHOSEN, REF_REJECTED = torch.tensor([-0.6, -1.0]), torch.tensor([-0.8, -0.9])


def test_orpo_is_nll_plus_beta_times_the_odds_ratio_term():
    losses, rc, rr = orpo_loss(CHOSEN, REJECTED, beta=0.25)
    for i in range(2):
        c, r = float(CHOSEN[i]), float(REJECTED[i])
        log_odds = (c - math.log1p(-math.exp(c))) - (r - math.log1p(-math.exp(r)))
        expected = -c + 0.25 * math.log1p(math.exp(-log_odds))
        assert float(losses[i]) == pytest.approx(expected, rel=1e-6)
    torch.testing.assert_close(rc, 0.25 * CHOSEN)
    torch.testing.assert_close(rr, 0.25 * REJECTED)


def test_simpo_subtracts_the_margin_gamma():
    losses, _, _ = simpo_loss(CHOSEN, REJECTED, beta=2.0, gamma=0.5)
    expected = [math.log1p(math.exp(-(2.0 * (float(c - r)) - 0.5))) for c, r in zip(CHOSEN, REJECTED, strict=True)]
    assert [float(x) for x in losses] == pytest.approx(expected, rel=1e-6)
    assert float(simpo_loss(CHOSEN, REJECTED, beta=2.0, gamma=0.0)[0].mean()) < float(losses.mean())


def test_kto_pair_has_one_term_per_answer_against_the_other_sides_kl():
    losses, rc, rr = kto_pair_loss(CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED, beta=0.1)
    torch.testing.assert_close(rr, 0.1 * (REJECTED - REF_REJECTED))
    assert losses.shape == (4,)
    chosen_ratio, rejected_ratio = CHOSEN - REF_CHOSEN, REJECTED - REF_REJECTED
    chosen_kl = max(float(chosen_ratio.mean()), 0.0)
    rejected_kl = max(float(rejected_ratio.mean()), 0.0)
    expected = [1 - 1 / (1 + math.exp(-0.1 * (float(x) - rejected_kl))) for x in chosen_ratio] + \
               [1 - 1 / (1 + math.exp(-0.1 * (chosen_kl - float(x)))) for x in rejected_ratio]
    assert [float(x) for x in losses] == pytest.approx(expected, rel=1e-6)
    torch.testing.assert_close(rc, 0.1 * chosen_ratio)


def test_cdpo_without_smoothing_is_the_sigmoid_loss_and_smoothing_pulls_it_towards_the_flipped_label():
    plain, _, _ = cdpo_loss(CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED, beta=0.5, smoothing=0.0)
    logits = (CHOSEN - REF_CHOSEN) - (REJECTED - REF_REJECTED)
    torch.testing.assert_close(plain, -F.logsigmoid(0.5 * logits))
    smoothed, _, _ = cdpo_loss(CHOSEN, REJECTED, REF_CHOSEN, REF_REJECTED, beta=0.5, smoothing=0.2)
    torch.testing.assert_close(smoothed, 0.8 * plain + 0.2 * -F.logsigmoid(-0.5 * logits))


def test_the_losses_have_gradients_for_the_policy_only():
    chosen = CHOSEN.clone().requires_grad_()
    losses, rc, _ = orpo_loss(chosen, REJECTED, beta=0.1)
    losses.sum().backward()
    assert chosen.grad is not None and not rc.requires_grad
