"""ft's labelled-positions head (the CPU head of the preference stages) against plain log_softmax."""

from __future__ import annotations

import torch

from ft_train.logprobs import labelled_log_probs


def _plain(hidden, weight, bias, targets):
    logits = torch.nn.functional.linear(hidden, weight, bias).float()
    logp = torch.log_softmax(logits, -1)
    picked = logp.gather(1, targets[:, None]).squeeze(1)
    entropy = -(logp.exp() * logp).sum(-1)
    return picked, entropy, logits.mean(-1), logits.argmax(-1) == targets


def test_values_and_gradients_equal_the_plain_expression():
    torch.manual_seed(0)
    hidden = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(101, 16, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(101, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 101, (37,))
    upstream = torch.randn(37, dtype=torch.float64)
    ours = labelled_log_probs(hidden, weight, bias, targets, chunk_rows=5)  # several chunks, a ragged last one
    theirs = _plain(hidden, weight, bias, targets)
    for a, b in zip(ours[:3], theirs[:3], strict=True):
        torch.testing.assert_close(a.double(), b.double(), atol=1e-5, rtol=1e-5)
    assert torch.equal(ours[3], theirs[3])
    grads = torch.autograd.grad((ours[0] * upstream).sum(), (hidden, weight, bias))
    expected = torch.autograd.grad((theirs[0] * upstream).sum(), (hidden, weight, bias))
    for a, b in zip(grads, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert not ours[1].requires_grad and not ours[2].requires_grad


def test_a_frozen_head_gets_no_weight_gradient():
    hidden = torch.randn(4, 8, requires_grad=True)
    weight = torch.randn(11, 8)
    log_probs = labelled_log_probs(hidden, weight, None, torch.tensor([1, 2, 3, 4]))[0]
    log_probs.sum().backward()
    assert hidden.grad is not None and weight.grad is None
