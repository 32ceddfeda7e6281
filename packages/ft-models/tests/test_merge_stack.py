"""Merging a LoRA equals peft's merge_and_unload; adapters resume and stack as in LLaMA-Factory."""

from __future__ import annotations

import json

import pytest
import torch

from ft_core import ConfigError
from ft_models import (
    FinetuningArgs,
    ModelArgs,
    apply_adapter,
    load_model,
    load_model_and_tokenizer,
    merge_lora,
)


def _random_adapter(base_path, out, seed, target="q_proj,v_proj"):
    """Save a LoRA whose B matrices are non-zero, so merging it changes the weights."""
    model = load_model(str(base_path))
    peft_model = apply_adapter(model, FinetuningArgs(lora_target=target, lora_rank=4))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    peft_model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def adapters(tiny_llama_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return (_random_adapter(tiny_llama_path, root / "a", 1),
            _random_adapter(tiny_llama_path, root / "b", 2, target="all"))


def _peft_merged(base_path, *adapter_paths):
    from peft import PeftModel

    model = load_model(str(base_path))
    for path in adapter_paths:
        model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    return model


def test_merge_lora_equals_peft_merge_and_unload(tiny_llama_path, adapters, tmp_path):
    from safetensors.torch import load_file

    out = merge_lora(str(tiny_llama_path), adapters[0], tmp_path / "merged")
    expected = _peft_merged(tiny_llama_path, adapters[0]).state_dict()
    saved = load_file(str(out / "model.safetensors"))
    assert set(saved) | {"lm_head.weight"} == set(expected) | {"lm_head.weight"}
    for name, tensor in saved.items():
        assert torch.equal(tensor, expected[name]), name
    assert not torch.equal(saved["model.layers.0.self_attn.q_proj.weight"],
                           load_file(str(tiny_llama_path / "model.safetensors"))["model.layers.0.self_attn.q_proj.weight"])
    assert (out / "tokenizer.json").is_file() and (out / "chat_template.jinja").is_file()
    assert "quantization_config" not in json.loads((out / "config.json").read_text())


def test_merge_lora_refuses_a_quantized_base(tiny_llama_path, adapters, tmp_path):
    import shutil

    base = tmp_path / "quantized"
    shutil.copytree(tiny_llama_path, base)
    config = json.loads((base / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (base / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="merge into the unquantised base model .*then quantise"):
        merge_lora(str(base), adapters[0], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_resume_one_adapter_keeps_its_weights_trainable(tiny_llama_path, adapters):
    from safetensors.torch import load_file

    model_args = ModelArgs(model_name_or_path=str(tiny_llama_path), adapter_name_or_path=str(adapters[0]))
    model, _ = load_model_and_tokenizer(model_args, FinetuningArgs(), is_trainable=True)
    saved = load_file(str(adapters[0] / "adapter_model.safetensors"))
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert len(trainable) == len(saved)
    for name, value in saved.items():
        live = name.replace(".weight", ".default.weight")
        assert torch.equal(trainable[live].detach(), value)


def test_stacked_adapters_merge_all_but_the_last(tiny_llama_path, adapters):
    from safetensors.torch import load_file

    model_args = ModelArgs(model_name_or_path=str(tiny_llama_path),
                           adapter_name_or_path=f"{adapters[0]},{adapters[1]}")
    model, _ = load_model_and_tokenizer(model_args, FinetuningArgs(), is_trainable=True)
    merged_a = _peft_merged(tiny_llama_path, adapters[0]).state_dict()
    base = model.get_base_model()
    q = base.model.layers[0].self_attn.q_proj
    assert torch.equal(q.base_layer.weight, merged_a["model.layers.0.self_attn.q_proj.weight"])
    saved_b = load_file(str(adapters[1] / "adapter_model.safetensors"))
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        n.replace(".weight", ".default.weight") for n in saved_b}


def test_inference_merges_every_adapter(tiny_llama_path, adapters, tiny_batch):
    model_args = ModelArgs(model_name_or_path=str(tiny_llama_path), adapter_name_or_path=[str(a) for a in adapters])
    model, _ = load_model_and_tokenizer(model_args, FinetuningArgs(), is_trainable=False)
    expected = _peft_merged(tiny_llama_path, *adapters)
    with torch.no_grad():
        assert torch.allclose(model(**tiny_batch).logits, expected(**tiny_batch).logits, atol=1e-5)


def test_create_new_adapter_merges_all_and_starts_fresh(tiny_llama_path, adapters):
    model_args = ModelArgs(model_name_or_path=str(tiny_llama_path), adapter_name_or_path=str(adapters[0]))
    model, _ = load_model_and_tokenizer(model_args, FinetuningArgs(create_new_adapter=True, lora_target="all"),
                                        is_trainable=True)
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and all(torch.count_nonzero(p) == 0 for p in lora_b)  # fresh LoRA: B starts at zero
    assert len(lora_b) == 14  # 7 linear layers x 2 decoder layers


def test_pissa_convert_gives_a_lora_for_the_original_base(train, tiny_llama_path, tiny_batch, tmp_path):
    from peft import PeftModel

    from ft_models import save_adapter, save_pissa_init

    model = apply_adapter(load_model(str(tiny_llama_path)),
                          FinetuningArgs(pissa_init=True, pissa_iter=-1, lora_rank=4, lora_target="q_proj,v_proj"))
    save_pissa_init(model, tmp_path / "pissa_init")
    train(model, tiny_batch, steps=3)
    save_adapter(model, tmp_path / "converted", pissa_init_dir=tmp_path / "pissa_init")
    model.eval()
    restored = PeftModel.from_pretrained(load_model(str(tiny_llama_path)), str(tmp_path / "converted")).eval()
    assert restored.peft_config["default"].r == 8  # peft's conversion doubles the rank
    with torch.no_grad():
        assert torch.allclose(restored(**tiny_batch).logits, model(**tiny_batch).logits, atol=1e-4)
