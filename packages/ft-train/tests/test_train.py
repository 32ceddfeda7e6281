"""pt and sft (LoRA, freeze, full) train on the tiny Llama: the loss goes down, the outputs are all there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ft_train import TrainConfig, run_train


def _run(cfg: dict) -> dict:
    return run_train(TrainConfig(**cfg))


@pytest.mark.parametrize("finetuning_type", ["lora", "freeze", "full"])
def test_sft_loss_goes_down(tiny_config, helpers, finetuning_type):
    cfg = {**tiny_config, "finetuning_type": finetuning_type, "plot_loss": True}
    if finetuning_type != "lora":
        cfg["learning_rate"] = 1.0e-3
    metrics = _run(cfg)
    out = Path(cfg["output_dir"])
    curve = helpers.losses(out)
    assert len(curve) == 8
    assert sum(curve[-2:]) / 2 < sum(curve[:2]) / 2 - 0.2, curve
    assert metrics["train_tokens_per_second"] > 0
    for name in ("trainer_state.json", "all_results.json", "run.json", "training_loss.png", "tokenizer.json",
                 "chat_template.jinja", "trainer_log.jsonl"):
        assert (out / name).is_file(), name
    weights = "adapter_model.safetensors" if finetuning_type == "lora" else "model.safetensors"
    assert (out / weights).is_file()
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "ok" and run["config"]["finetuning_type"] == finetuning_type
    assert "<|im_start|>" in (out / "chat_template.jinja").read_text()


def test_pt_loss_goes_down(tiny_config, helpers):
    cfg = {**tiny_config, "stage": "pt", "dataset": "text", "template": None, "max_steps": 6}
    _run(cfg)
    curve = helpers.losses(Path(cfg["output_dir"]))
    assert curve[-1] < curve[0] - 0.2, curve


def test_eval_and_predict_with_generate(tiny_config):
    cfg = {**tiny_config, "max_steps": 4, "eval_dataset": "add_eval", "do_eval": True, "do_predict": True,
           "predict_with_generate": True, "do_sample": False, "max_new_tokens": 4, "plot_loss": True,
           "eval_strategy": "steps", "eval_steps": 2, "per_device_eval_batch_size": 4}
    metrics = _run(cfg)
    out = Path(cfg["output_dir"])
    assert "eval_loss" in metrics and metrics["eval_loss"] > 0
    rows = [json.loads(line) for line in (out / "generated_predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and set(rows[0]) == {"prompt", "predict", "label"}
    assert rows[0]["label"].strip().isdigit() and "What is" in rows[0]["prompt"]
    for key in ("predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l"):
        assert 0.0 <= metrics[key] <= 100.0
    assert (out / "eval_loss.png").is_file()
    assert json.loads((out / "all_results.json").read_text())["eval_loss"] == pytest.approx(metrics["eval_loss"])


def test_tensorboard_logs(tiny_config):
    cfg = {**tiny_config, "max_steps": 2, "report_to": "tensorboard"}
    _run(cfg)
    events = list(Path(cfg["output_dir"]).glob("runs/**/events.out.tfevents.*"))
    assert events


@pytest.mark.parametrize("variant", [
    {"use_dora": True}, {"use_rslora": True}, {"loraplus_lr_ratio": 4.0, "learning_rate": 1.0e-3},
    {"pissa_init": True, "pissa_iter": 2, "pissa_convert": True},
], ids=["dora", "rslora", "loraplus", "pissa"])
def test_lora_variants_loss_goes_down(tiny_config, helpers, variant):
    cfg = {**tiny_config, **variant, "max_steps": 6}
    _run(cfg)
    out = Path(cfg["output_dir"])
    curve = helpers.losses(out)
    assert curve[-1] < curve[0] - 0.1, curve
    adapter = json.loads((out / "adapter_config.json").read_text())
    if "pissa_init" in variant:
        assert adapter["r"] == 16  # converted to a plain LoRA of rank 2r that applies to the original base
    if "use_dora" in variant:
        assert adapter["use_dora"] is True
