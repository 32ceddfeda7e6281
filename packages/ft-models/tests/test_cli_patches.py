"""CLI verbs, option errors (exit 2, one line) and model patches (dtype, attention, RoPE, GPU-only features)."""

from __future__ import annotations

import json

import pytest
import torch

from ft_core import ConfigError, UnsupportedError
from ft_models import (
    FinetuningArgs,
    ModelArgs,
    apply_rope_scaling,
    check_args,
    load_model,
    load_model_and_tokenizer,
    resolve_attn_implementation,
    resolve_dtype,
)
from ft_models.cli import cli

CUDA = torch.cuda.is_available()


def test_info_reports_model_and_what_would_train(tiny_llama_path, capsys):
    assert cli.main(["info", str(tiny_llama_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["architecture"] == "LlamaForCausalLM" and info["layers"] == 2
    assert info["params"] == 3_219_776 and info["dtype"] == "float32" and info["vocab_size"] == 49152
    assert "trainable_params" not in info
    assert cli.main(["info", str(tiny_llama_path), "lora_target=q_proj,v_proj", "lora_rank=8", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    # per layer: q (64x8 + 8x64) + v (64x8 + 8x32) = 1024 + 768
    assert info["trainable_params"] == 2 * (1024 + 768)
    assert info["lora_targets"] == ["q_proj", "v_proj"]


def test_info_trainable_count_matches_a_real_load(tiny_llama_path, capsys):
    options = ["finetuning_type=freeze", "freeze_trainable_layers=1", "freeze_extra_modules=norm"]
    assert cli.main(["info", str(tiny_llama_path), *options, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    model, _ = load_model_and_tokenizer(
        ModelArgs(model_name_or_path=str(tiny_llama_path)),
        FinetuningArgs(finetuning_type="freeze", freeze_trainable_layers=1, freeze_extra_modules="norm"), True)
    assert info["trainable_params"] == sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("argv, needle", [
    (["lora_rank=0"], "key 'lora_rank'"),
    (["lora_targt=all"], "did you mean 'lora_target'"),
    (["finetuning_type=oft"], "oft is not supported"),
    (["lora_target=qkv"], "lora_target 'qkv' is not a module"),
    (["finetuning_type=freeze", "freeze_trainable_modules=attn"], "freeze_trainable_modules 'attn'"),
])
def test_bad_adapter_options_exit_2_with_one_line(argv, needle, tiny_llama_path, capsys):
    assert cli.main(["info", str(tiny_llama_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and needle in err


def test_unknown_model_exits_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["info", "no-such-model"]) == 2
    assert "not a directory, a .gguf file" in capsys.readouterr().err


def test_import_gguf_refuses_a_non_empty_output(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    (tmp_path / "m.gguf").write_bytes(b"")
    assert cli.main(["import-gguf", str(tmp_path / "m.gguf"), str(tmp_path / "out")]) == 2
    assert "not empty" in capsys.readouterr().err


def test_merge_lora_cli_refuses_missing_adapter(tiny_llama_path, tmp_path, capsys):
    (tmp_path / "adapter").mkdir()
    code = cli.main(["merge-lora", str(tiny_llama_path), str(tmp_path / "adapter"), str(tmp_path / "out")])
    assert code == 2 and not (tmp_path / "out").exists()


def test_dtype_names():
    assert resolve_dtype("bf16") is torch.bfloat16 and resolve_dtype("float16") is torch.float16
    assert resolve_dtype("auto") is (torch.float32 if not CUDA else resolve_dtype("auto"))
    with pytest.raises(ConfigError, match="expected one of auto, bfloat16"):
        resolve_dtype("int8")


def test_load_in_bfloat16(tiny_llama_path):
    model = load_model(str(tiny_llama_path), dtype="bfloat16", attn_implementation="eager")
    assert model.dtype == torch.bfloat16 and model.config._attn_implementation == "eager"


@pytest.mark.skipif(CUDA, reason="checks the CPU error")
@pytest.mark.parametrize("call, needle", [
    (lambda: resolve_attn_implementation("fa2"), "needs a CUDA device and the flash-attn package"),
    (lambda: load_model_and_tokenizer(ModelArgs(model_name_or_path="x", quantization_bit=4)), "quantization_bit"),
])
def test_gpu_only_features_fail_clearly_on_cpu(call, needle):
    with pytest.raises(UnsupportedError, match=needle):
        call()


@pytest.mark.skipif(CUDA, reason="checks the CPU error")
def test_liger_on_cpu_is_unsupported(tiny_llama_path):
    with pytest.raises(UnsupportedError, match="liger"):
        load_model(str(tiny_llama_path), enable_liger_kernel=True)


def test_rope_scaling_sets_factor_from_model_max_length(tiny_llama_path):
    model = load_model(str(tiny_llama_path), rope_scaling="linear", model_max_length=5000)
    assert model.config.rope_parameters["rope_type"] == "linear"
    assert model.config.rope_parameters["factor"] == 3.0
    config = model.config
    apply_rope_scaling(config, {"rope_type": "dynamic", "factor": 2.0})
    assert config.rope_parameters["factor"] == 2.0
    with pytest.raises(ConfigError, match="rope_scaling 'ntk'"):
        apply_rope_scaling(config, "ntk", 9000)


@pytest.mark.parametrize("model_kw, ft_kw, needle", [
    ({"quantization_bit": 4}, {"finetuning_type": "full"}, "needs finetuning_type: lora"),
    ({"quantization_bit": 4, "add_tokens": "x"}, {}, "resize_vocab"),
    ({"quantization_bit": 8}, {"pissa_init": True}, "pissa_init"),
    ({"quantization_bit": 4, "adapter_name_or_path": "a,b"}, {}, "single adapter"),
    ({"quantization_bit": 4, "quantization_method": "gptq"}, {}, "quantization_method: bnb"),
    ({}, {"finetuning_type": "freeze", "use_dora": True}, "use_dora"),
    ({}, {"finetuning_type": "full", "loraplus_lr_ratio": 16}, "loraplus_lr_ratio"),
    ({"adapter_name_or_path": "a"}, {"finetuning_type": "full"}, "adapter_name_or_path"),
])
def test_cross_argument_rules(model_kw, ft_kw, needle):
    with pytest.raises(ConfigError, match=needle):
        check_args(ModelArgs(model_name_or_path="m", **model_kw), FinetuningArgs(**ft_kw))


def test_unsupported_llamafactory_keys():
    assert ModelArgs(model_name_or_path="m", use_unsloth=False, shift_attn=False).model_name_or_path == "m"
    with pytest.raises(ConfigError, match="use_unsloth=True: a LLaMA-Factory option ft does not implement"):
        ModelArgs(model_name_or_path="m", use_unsloth=True)


def test_args_compose_into_one_flat_config():
    class TrainConfig(ModelArgs, FinetuningArgs):
        learning_rate: float = 1e-4

    cfg = TrainConfig(model_name_or_path="m", lora_target="q_proj,v_proj", add_tokens="<a>", learning_rate=1e-3)
    assert cfg.lora_target == ["q_proj", "v_proj"] and cfg.add_tokens == ["<a>"] and cfg.resize_vocab


@pytest.mark.gpu
def test_qlora_trains_on_cuda(tiny_llama_path, tiny_batch):
    model_args = ModelArgs(model_name_or_path=str(tiny_llama_path), quantization_bit=4)
    model, _ = load_model_and_tokenizer(model_args, FinetuningArgs(lora_target="all"), is_trainable=True)
    batch = {k: v.cuda() for k, v in tiny_batch.items()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(5):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    with pytest.raises(ConfigError, match="quantized"):
        from ft_models import merge_lora_into

        merge_lora_into(model.get_base_model(), "unused")


def test_train_from_scratch_and_upcasts(tiny_llama_path, tiny_batch):
    model_args = ModelArgs(model_name_or_path=str(tiny_llama_path), train_from_scratch=True, infer_dtype="bfloat16",
                           upcast_layernorm=True, upcast_lmhead_output=True, disable_gradient_checkpointing=True)
    model, _ = load_model_and_tokenizer(model_args, FinetuningArgs(finetuning_type="full", pure_bf16=True), True)
    pretrained = load_model(str(tiny_llama_path))
    assert not torch.equal(model.model.layers[0].mlp.up_proj.weight.float(), pretrained.model.layers[0].mlp.up_proj.weight)
    assert model.model.norm.weight.dtype == torch.float32 and model.model.layers[0].mlp.up_proj.weight.dtype == torch.bfloat16
    # Upcast norms are meant for autocast mixed precision, as the Trainer runs them with bf16: true.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(**tiny_batch).logits.dtype == torch.float32


def test_moe_aux_loss_coef_sets_the_router_loss():
    from transformers import MixtralConfig

    from ft_models.builder import _moe_aux_loss

    config = MixtralConfig(num_hidden_layers=1, hidden_size=32, intermediate_size=64)
    assert _moe_aux_loss(config, 0.01)
    assert config.router_aux_loss_coef == 0.01 and config.output_router_logits
