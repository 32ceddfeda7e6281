"""The ``kto`` stage on the tiny Llama: TRL's KTOTrainer on LLaMA-Factory ``kto_tag`` rows.

Rows (conftest's ``feedback``): "What is a plus b?" answered with the right sum (``tag: true``) or a
wrong one (``false``); ``add`` has no tag column.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ft_train import load_train_config, run_train

pytestmark = pytest.mark.timeout(300)


def kto_config(tiny_config, data_dir, **extra):
    cfg = {**tiny_config, "stage": "kto", "dataset": "feedback", "dataset_dir": str(data_dir), "max_steps": 12,
           "learning_rate": 1.0e-2, "per_device_train_batch_size": 4, "pref_beta": 0.5, **extra}
    path = Path(cfg["output_dir"]).parent / "kto.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_train_config(path)


def history(output_dir) -> list[dict]:
    state = json.loads((Path(output_dir) / "trainer_state.json").read_text())
    return [e for e in state["log_history"] if "loss" in e]


def test_kto_loss_goes_down_and_the_reward_margin_up(tiny_config, data_dir):
    cfg = kto_config(tiny_config, data_dir, kto_chosen_weight=1.0, kto_rejected_weight=1.33, plot_loss=True)
    run_train(cfg)
    logs = history(cfg.output_dir)
    mean = lambda xs, k: sum(x[k] for x in xs if k in x) / max(1, sum(k in x for x in xs))  # noqa: E731
    first, last = logs[:4], logs[-4:]
    assert mean(last, "loss") < mean(first, "loss"), [x["loss"] for x in logs]
    assert mean(last, "rewards/margins") > mean(first, "rewards/margins")
    assert all("kl" in x for x in logs)
    for key in ("rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected"):
        assert any(key in x for x in logs), key
    assert (Path(cfg.output_dir) / "adapter_model.safetensors").is_file()


def test_kto_trainer_keeps_the_configured_sampling_and_uses_ft_datas_kl_pairs(tiny_config, data_dir):
    from ft_train.data import load_data
    from ft_train.kto import build_kto_trainer
    from ft_train.modeling import load_tokenizer_and_template, load_trainable_model

    cfg = kto_config(tiny_config, data_dir)
    tokenizer, template = load_tokenizer_and_template(cfg)
    data = load_data(cfg, "kto", template, tokenizer)
    trainer = build_kto_trainer(cfg, load_trainable_model(cfg), tokenizer, data.train_dataset, None)
    assert trainer.args.train_sampling_strategy == "group_by_length"
    assert trainer.args.per_device_train_batch_size == 4
    assert list(trainer.model.peft_config) == ["default"]  # adapter-disabled reference, no copy
    row = trainer.train_dataset[1]
    assert isinstance(row["label"], bool) and row["KL_completion_ids"] and row["completion_ids"]
    # the KL answer of row 1 is row 0's answer (LLaMA-Factory's pairing), after the same prompt
    assert row["KL_completion_ids"] == trainer.train_dataset[0]["completion_ids"]
    weights = (trainer.desirable_weight, trainer.undesirable_weight)
    assert weights == (cfg.kto_chosen_weight, cfg.kto_rejected_weight)


def test_kto_without_a_tag_column_is_exit_2_before_the_model_loads(tiny_config, data_dir, tmp_path, helpers,
                                                                  monkeypatch, capsys):
    import ft_models
    from ft_train.cli import main

    def no_weights(*args, **kwargs):
        raise AssertionError("the model was loaded before the data was checked")

    monkeypatch.setattr(ft_models, "load_model_and_tokenizer", no_weights)
    cfg = {**tiny_config, "stage": "kto", "dataset": "add", "dataset_dir": str(data_dir)}
    with pytest.raises(SystemExit) as exc:
        main(["train", str(helpers.write_yaml(tmp_path / "kto.yaml", cfg))])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "kto_tag" in err[-1]


@pytest.mark.parametrize(("override", "message"), [
    ({"pref_loss": "hinge"}, "key 'pref_loss': stage 'kto' has one loss"),
    ({"pref_ftx": 0.1}, "key 'pref_ftx': the SFT term is not built for stage 'kto'"),
    ({"kto_rejected_weight": 0.0}, "key 'kto_rejected_weight': must be > 0"),
    ({"ld_alpha": 0.5}, "key 'ld_alpha': stage 'kto' does not read it"),
])
def test_bad_kto_config_is_one_line(tiny_config, data_dir, override, message):
    from ft_core import ConfigError
    from ft_train.workflow import check_train_config

    with pytest.raises(ConfigError, match=message):
        check_train_config(kto_config(tiny_config, data_dir, **override))
