"""Every adapter type trains on the tiny fixture (loss goes down) and trains exactly what it should."""

from __future__ import annotations

import pytest
import torch

from ft_core import ConfigError
from ft_models import (
    FinetuningArgs,
    ModelArgs,
    freeze_trainable_names,
    load_model,
    load_model_and_tokenizer,
    loraplus_param_groups,
)


def _load(path, is_trainable=True, **finetuning):
    model_args = ModelArgs(model_name_or_path=str(path))
    return load_model_and_tokenizer(model_args, FinetuningArgs(**finetuning), is_trainable=is_trainable)[0]


def _trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("options", [
    {"finetuning_type": "lora", "lora_target": "all"},
    {"finetuning_type": "lora", "lora_target": "q_proj,v_proj", "additional_target": "norm"},
    {"finetuning_type": "lora", "use_dora": True},
    {"finetuning_type": "lora", "use_rslora": True, "lora_rank": 4, "lora_alpha": 8},
    {"finetuning_type": "lora", "pissa_init": True, "pissa_iter": -1},
    {"finetuning_type": "freeze", "freeze_trainable_layers": 1},
    {"finetuning_type": "freeze", "freeze_trainable_layers": -1, "freeze_trainable_modules": "mlp",
     "freeze_extra_modules": "norm"},
    {"finetuning_type": "full"},
], ids=["lora", "lora-names", "dora", "rslora", "pissa", "freeze", "freeze-first-mlp", "full"])
def test_each_adapter_type_lowers_the_loss(train, options, tiny_llama_path, tiny_batch):
    model = _load(tiny_llama_path, **options)
    losses = train(model, tiny_batch, lr=1e-2 if options["finetuning_type"] == "lora" else 3e-3)
    assert losses[-1] < losses[0] - 0.05, losses


def test_loraplus_groups_scale_lora_b(train, tiny_llama_path, tiny_batch):
    model = _load(tiny_llama_path, finetuning_type="lora", loraplus_lr_ratio=16.0)
    groups = loraplus_param_groups(model, lr=1e-3, loraplus_lr_ratio=16.0)
    by_lr = {g["lr"]: g["params"] for g in groups}
    assert set(by_lr) == {1e-3, 16e-3}
    b_ids = {id(p) for n, p in model.named_parameters() if "lora_B" in n}
    assert {id(p) for p in by_lr[16e-3]} == b_ids
    assert sum(len(g["params"]) for g in groups) == len(_trainable(model))
    losses = train(model, tiny_batch, param_groups=groups)
    assert losses[-1] < losses[0] - 0.05, losses


def test_lora_targets_all_linear_layers_but_the_head(tiny_llama_path):
    model = _load(tiny_llama_path, finetuning_type="lora", lora_target="all")
    wrapped = {n.split(".")[-4] for n in _trainable(model)}
    assert wrapped == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert all(p.dtype == torch.float32 for n, p in model.named_parameters() if p.requires_grad)


def test_freeze_selects_layers_and_modules(tiny_llama_path):
    model = load_model(str(tiny_llama_path))
    names = freeze_trainable_names(model, FinetuningArgs(finetuning_type="freeze", freeze_trainable_layers=1,
                                                         freeze_trainable_modules="self_attn",
                                                         freeze_extra_modules="embed_tokens"))
    assert names == ["model.embed_tokens.weight"] + [
        f"model.layers.1.self_attn.{p}_proj.weight" for p in ("q", "k", "v", "o")]


@pytest.mark.parametrize("options, needle", [
    ({"finetuning_type": "lora", "lora_target": "qkv"}, "lora_target 'qkv' is not a module"),
    ({"finetuning_type": "freeze", "freeze_trainable_modules": "attn"}, "valid: all, input_layernorm, mlp"),
    ({"finetuning_type": "freeze", "freeze_extra_modules": "head"}, "freeze_extra_modules 'head'"),
    ({"finetuning_type": "freeze", "freeze_trainable_layers": 5}, "has only 2 layers"),
])
def test_wrong_module_names_list_the_valid_ones(options, needle, tiny_llama_path):
    with pytest.raises(ConfigError, match=needle):
        _load(tiny_llama_path, **options)


def test_inference_load_freezes_everything(tiny_llama_path):
    model = _load(tiny_llama_path, is_trainable=False)
    assert not model.training and _trainable(model) == set()
    assert model.config.use_cache is True


def test_training_load_turns_on_gradient_checkpointing(tiny_llama_path):
    model = _load(tiny_llama_path, finetuning_type="full")
    assert model.is_gradient_checkpointing and model.config.use_cache is False
    model_args = ModelArgs(model_name_or_path=str(tiny_llama_path), disable_gradient_checkpointing=True)
    model = load_model_and_tokenizer(model_args, FinetuningArgs(finetuning_type="full"), is_trainable=True)[0]
    assert not model.is_gradient_checkpointing


def test_added_tokens_resize_and_train_the_embeddings(train, tiny_llama_path, tiny_batch):
    model_args = ModelArgs(model_name_or_path=str(tiny_llama_path), add_special_tokens="<tool>,</tool>")
    model, tok = load_model_and_tokenizer(model_args, FinetuningArgs(), is_trainable=True)
    assert model_args.resize_vocab and len(tok) == 49154
    assert model.get_input_embeddings().weight.shape[0] >= 49154
    trainable = _trainable(model)
    assert any("embed_tokens" in n for n in trainable)
    ids = tok("<tool>x</tool>", return_tensors="pt")["input_ids"]
    assert ids.max().item() >= 49152
    losses = train(model, {"input_ids": ids, "labels": ids}, steps=4)
    assert losses[-1] < losses[0]
