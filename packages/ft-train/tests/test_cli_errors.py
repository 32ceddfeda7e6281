"""Bad configs exit 2 with one line naming the key, before anything is written."""

from __future__ import annotations

import pytest

from ft_train.cli import cli


@pytest.mark.parametrize(("overrides", "fragment"), [
    (["learnig_rate=1e-4"], "unknown key 'learnig_rate'; did you mean 'learning_rate'?"),
    (["lora_rank=eight"], "key 'lora_rank'"),
    (["max_steps=[1, 2]"], "key 'max_steps'"),
    (["stage=ppo"], "unknown stage 'ppo'; available: dpo, kto, pt, rm, sft"),
    (["template=llama9"], "key 'template': Template 'llama9' does not exist"),
    (["dataset=no_such_set"], "no_such_set"),
    (["use_galore=true"], "'use_galore' is not implemented"),
    (["stage=pt", "predict_with_generate=true"], "'predict_with_generate' needs stage 'sft'"),
    (["quantization_bit=4"], "needs a CUDA GPU"),
    (["finetuning_type=lora", "use_dora=true", "finetuning_type=full"], "'use_dora' needs 'finetuning_type: lora'"),
])
def test_bad_train_config_exits_2_with_one_line(tiny_config, helpers, tmp_path, capsys, overrides, fragment):
    config = helpers.write_yaml(tmp_path / "run.yaml", tiny_config)
    code = cli.main(["train", str(config), *overrides])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0], err
    assert not (tmp_path / "out").exists()


def test_missing_config_file(capsys):
    assert cli.main(["train", "nope.yaml"]) == 2
    assert "nope.yaml: config file not found" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "fragment"), [
    ({"quantization_bit": 4}, "merge into the unquantised base, then quantise"),
    ({"export_quantization_bit": 4, "export_quantization_dataset": "c4"}, "cannot quantise while merging"),
    ({"export_dir": None}, "'export_dir' is required"),
    ({"export_legacy_format": True}, "not supported; ft writes safetensors"),
])
def test_bad_export_config_exits_2(tiny_llama_path, helpers, tmp_path, capsys, extra, fragment):
    cfg = {"model_name_or_path": str(tiny_llama_path), "adapter_name_or_path": str(tmp_path / "adapter"),
           "template": "smollm2", "export_dir": str(tmp_path / "merged"), **extra}
    config = helpers.write_yaml(tmp_path / "export.yaml", cfg)
    assert cli.main(["export", str(config)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "merged").exists()
