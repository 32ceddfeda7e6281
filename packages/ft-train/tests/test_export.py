"""``ft export`` merges the trained LoRA (SFT or DPO alike): plain transformers reloads it with the adapter
model's logits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from ft_train import run_train
from ft_train.cli import cli
from ft_train.config import TrainConfig


@pytest.mark.parametrize("stage", [{}, {"stage": "dpo", "dataset": "pairs", "pref_beta": 0.5}], ids=["sft", "dpo"])
def test_export_reloads_with_identical_logits(tiny_config, tiny_llama_path, helpers, tmp_path, stage):
    cfg = {**tiny_config, "max_steps": 3, **stage}
    run_train(TrainConfig(**cfg))
    adapter = Path(cfg["output_dir"])
    merged = tmp_path / "merged"
    export = {"model_name_or_path": str(tiny_llama_path), "adapter_name_or_path": str(adapter),
              "template": "smollm2", "export_dir": str(merged), "export_size": "4MB"}
    assert cli.main(["export", str(helpers.write_yaml(tmp_path / "export.yaml", export))]) == 0

    index = json.loads((merged / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1  # sharded at 4 MB
    for name in ("config.json", "generation_config.json", "tokenizer.json", "chat_template.jinja", "Modelfile"):
        assert (merged / name).is_file(), name
    assert not list(tmp_path.glob(".merged.tmp-*"))

    tokenizer = AutoTokenizer.from_pretrained(merged)
    assert tokenizer.padding_side == "left"
    text = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 plus 3?"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    ids = tokenizer(text, return_tensors="pt").input_ids
    plain = AutoModelForCausalLM.from_pretrained(merged).eval()
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama_path), adapter).eval()
    with torch.no_grad():
        torch.testing.assert_close(plain(ids).logits, reference(ids).logits, rtol=1e-5, atol=1e-5)
    gen = json.loads((merged / "generation_config.json").read_text())
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in ([gen["eos_token_id"]] if isinstance(
        gen["eos_token_id"], int) else gen["eos_token_id"])
    assert 'TEMPLATE """' in (merged / "Modelfile").read_text()


def test_export_refuses_non_empty_target(tiny_llama_path, helpers, tmp_path, capsys):
    target = tmp_path / "merged"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    export = {"model_name_or_path": str(tiny_llama_path), "template": "smollm2", "export_dir": str(target)}
    assert cli.main(["export", str(helpers.write_yaml(tmp_path / "e.yaml", export))]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (target / "keep.txt").read_text() == "x"
