"""chunk_output_head: the same logits in slices, only for plain linear heads."""

from __future__ import annotations

import torch

from ft_models.generation import chunk_output_head


def test_chunked_head_gives_the_same_logits(tiny_llama_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama_path).eval()
    ids = torch.tensor([[1, 200, 3000, 40000, 7]])
    with torch.inference_mode():
        before = model(input_ids=ids).logits
        assert chunk_output_head(model, rows=1000)
        after = model(input_ids=ids).logits
    assert after.shape == before.shape
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)
    # the weight is read at each call: a changed (tied) weight is honoured
    head = model.get_output_embeddings()
    hidden = torch.randn(3, head.in_features)
    with torch.no_grad():
        head.weight.mul_(2)
        torch.testing.assert_close(head(hidden), hidden @ head.weight.T, rtol=1e-5, atol=1e-4)


def test_other_heads_are_left_alone():
    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Sequential(torch.nn.Linear(4, 5000))

        def get_output_embeddings(self):
            return self.head

    assert not chunk_output_head(Wrapped())
    small = torch.nn.Linear(4, 100)
    holder = type("M", (), {"get_output_embeddings": lambda self: small})()
    assert not chunk_output_head(holder, rows=2048)  # narrower than one slice: nothing to gain
