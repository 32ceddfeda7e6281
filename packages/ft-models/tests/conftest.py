"""Helpers shared by the ft-models tests: a fixed tiny batch and a few optimizer steps."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_batch(tiny_llama_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_llama_path))
    texts = ["The quick brown fox jumps over the lazy dog.", "Paris is the capital of France, and it is big."]
    batch = tok(texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].clone()
    labels[batch["attention_mask"] == 0] = -100
    batch["labels"] = labels
    return dict(batch)


def train_steps(model, batch, steps=6, lr=1e-2, param_groups=None):
    """Plain AdamW steps on one batch; returns the loss of every step."""
    import torch

    torch.manual_seed(0)
    model.train()
    groups = param_groups or [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


@pytest.fixture
def train():
    """:func:`train_steps` as a fixture (test modules cannot import conftest in importlib mode)."""
    return train_steps
