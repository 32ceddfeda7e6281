"""Loading tokenizer and model: the tiny fixture and (slow) the real 135M model train a step offline."""

from __future__ import annotations

import os

import pytest
import torch

from ft_models import load_model, load_tokenizer


def _step(model, tokenizer) -> float:
    model.train()
    batch = tokenizer(["The quick brown fox jumps over the lazy dog."], return_tensors="pt")
    out = model(**batch, labels=batch["input_ids"])
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    return out.loss.item()


def test_offline_env_is_set():
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_tiny_fixture_loads_and_trains_a_step(tiny_llama_path):
    tokenizer = load_tokenizer(str(tiny_llama_path))
    model = load_model(str(tiny_llama_path), dtype="float32")
    assert len(tokenizer) == 49152 == model.config.vocab_size
    assert model.config.hidden_size == 64 and model.config.num_hidden_layers == 2
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert tokenizer.pad_token == "<|im_end|>" and tokenizer.padding_side == "right"
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert text.startswith("<|im_start|>system\n")
    loss = _step(model, tokenizer)
    assert 10.0 < loss < 11.5  # ~ln(49152) for random weights


def test_tiny_fixture_is_deterministic(tiny_llama_path):
    from safetensors.torch import load_file
    from transformers import LlamaConfig, LlamaForCausalLM

    saved = load_file(str(tiny_llama_path / "model.safetensors"))
    torch.manual_seed(0)  # the seed the fixture uses
    fresh = LlamaForCausalLM(LlamaConfig.from_pretrained(str(tiny_llama_path))).state_dict()
    assert torch.equal(fresh["model.embed_tokens.weight"], saved["model.embed_tokens.weight"])
    assert torch.equal(fresh["model.layers.1.mlp.up_proj.weight"], saved["model.layers.1.mlp.up_proj.weight"])


@pytest.mark.slow
def test_smollm2_alias_loads_and_trains_a_step(smollm2_path):
    tokenizer = load_tokenizer("smollm2-135m-instruct")
    model = load_model("smollm2-135m-instruct", dtype="float32")
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    loss = _step(model, tokenizer)
    assert loss == pytest.approx(4.0117, abs=2e-3)
