"""Cross-argument rules (spec 4.7): each bad combination gives exactly the expected one-line error."""

from __future__ import annotations

import json

import pytest

from ft_train.validation import Runtime, deepspeed_stage, validate_export_args, validate_train_args

BASE = {"stage": "sft", "finetuning_type": "lora", "do_train": True, "dataset": ["demo"]}


def errors(runtime: Runtime = Runtime(), **changes):
    return validate_train_args({**BASE, **changes}, runtime)


def test_consistent_config_has_no_errors():
    assert errors() == []


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"stage": "pt", "predict_with_generate": True}, "'predict_with_generate' needs stage 'sft'"),
    ({"stage": "pt", "neat_packing": True}, "'neat_packing' needs stage 'sft'"),
    ({"stage": "pt", "train_on_prompt": True}, "'train_on_prompt' needs stage 'sft'"),
    ({"stage": "pt", "mask_history": True}, "'mask_history' needs stage 'sft'"),
    ({"do_predict": True, "val_size": 0.1}, "'do_predict' with stage 'sft' needs 'predict_with_generate: true'"),
    ({"stage": "rm", "load_best_model_at_end": True}, "cannot use 'load_best_model_at_end'"),
    ({"streaming": True}, "'streaming: true' needs 'max_steps'"),
    ({"dataset": None}, "'do_train: true' needs 'dataset'"),
    ({"do_eval": True}, "evaluation needs 'eval_dataset' or 'val_size'"),
    ({"predict_with_generate": True, "compute_accuracy": True, "val_size": 0.1}, "exclude each other"),
    ({"quantization_device_map": "auto"}, "for inference only"),
    ({"infer_backend": "vllm"}, "training needs huggingface"),
    ({"adapter_name_or_path": ["a"], "finetuning_type": "full"}, "'adapter_name_or_path' needs 'finetuning_type: lora'"),
    ({"quantization_bit": 4, "finetuning_type": "freeze"}, "needs 'finetuning_type: lora'"),
    ({"use_dora": True, "finetuning_type": "full"}, "'use_dora' needs 'finetuning_type: lora'"),
    ({"loraplus_lr_ratio": 16.0, "finetuning_type": "freeze"}, "'loraplus_lr_ratio' needs"),
    ({"use_llama_pro": True, "finetuning_type": "full"}, "'use_llama_pro' needs"),
    ({"quantization_bit": 4}, "needs a CUDA GPU"),
    ({"fp16": True}, "'fp16: true' needs a GPU"),
])
def test_each_rule_gives_one_line(changes, fragment):
    found = errors(**changes)
    assert found and fragment in found[0], found
    assert all("\n" not in line for line in found)


def test_distributed_rules():
    assert "distributed launch" in errors(Runtime(world_size=2))[0]
    assert errors(Runtime(world_size=2, launched_distributed=True)) == []
    assert "FORCE_TORCHRUN" in errors(deepspeed={"zero_optimization": {"stage": 2}})[0]


def test_zero3_rules(tmp_path):
    path = tmp_path / "z3.json"
    path.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    assert deepspeed_stage(str(path)) == 3
    rt = Runtime(world_size=2, launched_distributed=True, cuda=True)
    assert any("ZeRO-3" in e for e in errors(rt, deepspeed=str(path), predict_with_generate=True, val_size=0.1))
    assert any("ZeRO-3" in e for e in errors(rt, deepspeed=str(path), pure_bf16=True))
    assert any("ZeRO-3" in e for e in errors(rt, deepspeed=str(path), pissa_init=True))


def test_quantised_lora_on_cuda_is_allowed():
    assert errors(Runtime(cuda=True), quantization_bit=4) == []
    assert "single adapter" in errors(Runtime(cuda=True), quantization_bit=4, adapter_name_or_path=["a", "b"])[0]


def test_export_rules():
    assert "'export_dir' is required" in validate_export_args({})[0]
    merge_quantised = validate_export_args({"export_dir": "o", "adapter_name_or_path": ["a"], "quantization_bit": 4})
    assert merge_quantised and "merge into the unquantised base, then quantise" in merge_quantised[0]
    assert "cannot quantise while merging" in validate_export_args(
        {"export_dir": "o", "adapter_name_or_path": ["a"], "export_quantization_bit": 4,
         "export_quantization_dataset": "c4"})[0]
    assert validate_export_args({"export_dir": "o", "adapter_name_or_path": ["a"]}) == []
