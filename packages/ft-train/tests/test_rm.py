"""The ``rm`` stage on the tiny Llama: a score head trained on LLaMA-Factory ``ranking: true`` pairs.

Pairs (conftest's ``pairs``/``pairs_eval``): "What is a plus b?" with the right sum chosen and a wrong
answer rejected ("… or so"), so a reward model that learns anything ranks held-out pairs right.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ft_train import load_train_config, run_train

pytestmark = pytest.mark.timeout(300)


def rm_config(tiny_config, data_dir, **extra):
    cfg = {**tiny_config, "stage": "rm", "dataset": "pairs", "eval_dataset": "pairs_eval", "dataset_dir": str(data_dir),
           "max_steps": 24, "learning_rate": 5.0e-3, "per_device_train_batch_size": 4,
           "per_device_eval_batch_size": 8, "do_eval": True, "do_predict": True, "plot_loss": True, **extra}
    path = Path(cfg["output_dir"]).parent / "rm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_train_config(path)


def _held_out_accuracy(model_dir: Path, data_dir: Path) -> float:
    """Pairwise accuracy of a saved reward model, loaded as ft-serve loads one (no ft-train code)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    right = 0
    rows = json.loads((data_dir / "pairs_eval.json").read_text())
    for row in rows:
        texts = [tokenizer.apply_chat_template([{"role": "user", "content": row["instruction"]},
                                                {"role": "assistant", "content": row[side]}], tokenize=False)
                 for side in ("chosen", "rejected")]
        enc = tokenizer(texts, padding=True, return_tensors="pt")
        with torch.no_grad():
            chosen, rejected = model(**enc).logits[:, 0].tolist()
        right += chosen > rejected
    return right / len(rows)


@pytest.mark.parametrize("finetuning_type", ["lora", "full"])
def test_reward_model_learns_the_pairs_and_is_saved_servable(tiny_config, data_dir, finetuning_type):
    extra = {"learning_rate": 5.0e-4} if finetuning_type == "full" else {}
    cfg = rm_config(tiny_config, data_dir, finetuning_type=finetuning_type, **extra)
    results = run_train(cfg)
    out = Path(cfg.output_dir)
    state = json.loads((out / "trainer_state.json").read_text())
    logs = [e for e in state["log_history"] if "loss" in e and "accuracy" in e]
    first, last = logs[:4], logs[-4:]
    mean = lambda xs, k: sum(x[k] for x in xs) / len(xs)  # noqa: E731
    assert mean(last, "loss") < mean(first, "loss"), [x["loss"] for x in logs]
    assert mean(last, "accuracy") > mean(first, "accuracy") or mean(last, "accuracy") == 1.0
    assert results["eval_accuracy"] >= 0.75, results
    # predictions: one {"chosen", "rejected"} line per held-out pair, LLaMA-Factory's format
    lines = [json.loads(x) for x in (out / "generated_predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and set(lines[0]) == {"chosen", "rejected"}
    assert results["predict_accuracy"] == pytest.approx(sum(x["chosen"] > x["rejected"] for x in lines) / 8)
    assert (out / "training_loss.png").is_file() and (out / "accuracy.png").is_file()
    # the saved reward model loads as a plain sequence-classification checkpoint
    model_dir = out / "reward_model" if finetuning_type == "lora" else out
    if finetuning_type == "lora":
        assert (out / "adapter_model.safetensors").is_file()
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    assert config.architectures[0].endswith("ForSequenceClassification") and config.num_labels == 1
    assert _held_out_accuracy(model_dir, data_dir) >= 0.75


@pytest.mark.parametrize(("override", "message"), [
    ({"load_best_model_at_end": True}, "key 'load_best_model_at_end': not allowed for stage 'rm'"),
    ({"ref_model": "x"}, "key 'ref_model': stage 'rm' has no reference model"),
])
def test_bad_rm_config_is_one_line(tiny_config, data_dir, override, message):
    from ft_core import ConfigError
    from ft_train.workflow import check_train_config

    with pytest.raises(ConfigError, match=message):
        check_train_config(rm_config(tiny_config, data_dir, **override))


def test_rm_on_a_dataset_without_pairs_is_exit_2(tiny_config, data_dir, tmp_path, helpers):
    from ft_train.cli import main

    cfg = {**tiny_config, "stage": "rm", "dataset": "add", "dataset_dir": str(data_dir)}
    with pytest.raises(SystemExit) as exc:
        main(["train", str(helpers.write_yaml(tmp_path / "rm.yaml", cfg))])
    assert exc.value.code == 2
