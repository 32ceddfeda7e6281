"""The example configs (LLaMA-Factory's examples with model and dataset swapped) parse, and run."""

from __future__ import annotations

from pathlib import Path

import pytest

from ft_train import load_export_config, load_train_config, run_train
from ft_train.validation import Runtime, validate_train_args

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "docs" / "examples"
TRAIN_EXAMPLES = ["quickstart.yaml", "lora_sft.yaml", "lora_pretrain.yaml", "qlora_sft.yaml", "full_sft.yaml",
                  "lora_dpo.yaml", "dpo_demo.yaml", "full_dpo.yaml", "qlora_dpo.yaml", "lora_kto.yaml",
                  "lora_reward.yaml", "rm_demo.yaml", "freeze_sft.yaml"]


@pytest.mark.parametrize("name", TRAIN_EXAMPLES)
def test_train_examples_parse(name):
    cfg = load_train_config(EXAMPLES / name)
    assert cfg.do_train and cfg.dataset and cfg.output_dir


def test_example_specific_rules():
    qlora = load_train_config(EXAMPLES / "qlora_sft.yaml").model_dump()
    assert validate_train_args(qlora, Runtime(cuda=True)) == []
    assert "needs a CUDA GPU" in validate_train_args(qlora, Runtime())[0]
    qlora_dpo = load_train_config(EXAMPLES / "qlora_dpo.yaml").model_dump()
    assert "needs a CUDA GPU" in validate_train_args(qlora_dpo, Runtime())[0]
    full = load_train_config(EXAMPLES / "full_sft.yaml").model_dump()
    assert "FORCE_TORCHRUN" in validate_train_args(full, Runtime())[0]
    assert validate_train_args(full, Runtime(world_size=2, launched_distributed=True, cuda=True)) == []


def test_merge_example_parses():
    cfg = load_export_config(EXAMPLES / "merge_lora.yaml")
    assert cfg.export_dir and cfg.adapter_name_or_path and cfg.shard_size() == "2GB"


@pytest.mark.parametrize("name", ["lora_sft.yaml", "lora_pretrain.yaml", "freeze_sft.yaml", "lora_dpo.yaml",
                                  "full_dpo.yaml", "lora_kto.yaml", "lora_reward.yaml"])
def test_examples_run_unchanged_but_model(name, tiny_llama_path, tmp_path, monkeypatch, helpers):
    monkeypatch.chdir(ROOT)  # the examples use paths relative to the repository root
    out = tmp_path / "out"
    cfg = load_train_config(EXAMPLES / name, [f"model_name_or_path={tiny_llama_path}", f"output_dir={out}",
                                              "max_steps=2", "logging_steps=1"])
    run_train(cfg)
    assert len(helpers.losses(out)) == 2 and (out / "training_loss.png").is_file()
