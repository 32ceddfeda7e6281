"""Inputs: LoRA deltas equal peft's merge, bad inputs exit 2 before any work, vocab and tied heads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ft_merge import Merger
from ft_merge.cli import main
from ft_testing.models import load_safetensors_dir as weights


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code)


def make_lora(base: Path, out: Path, **kw) -> dict[str, torch.Tensor]:
    """A peft LoRA with non-zero B (and perturbed modules_to_save copies); returns peft's merged state dict."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    cfg = LoraConfig(r=4, lora_alpha=8, init_lora_weights=False, **kw)
    torch.manual_seed(3)
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "modules_to_save" in n:
                p.add_(torch.randn_like(p) * 0.01)
    peft_model.save_pretrained(out)
    merged = peft_model.merge_and_unload()
    return {k: v.detach().clone() for k, v in merged.state_dict().items()}


@pytest.mark.parametrize("kw", [
    {"target_modules": ["q_proj", "v_proj", "down_proj"], "use_rslora": False, "modules_to_save": ["norm"]},
    {"target_modules": ["q_proj", "v_proj", "embed_tokens"], "use_rslora": True,
     "rank_pattern": {"v_proj": 2}, "alpha_pattern": {"q_proj": 16}},
])
def test_lora_input_equals_peft_merge(tiny, tmp_path, kw):
    want = make_lora(tiny["base"], tmp_path / "lora", **kw)
    m = Merger(str(tiny["base"]), [str(tmp_path / "lora")], methods=["task_arithmetic"], eval="none",
               output_dir=str(tmp_path / "o"))
    m.run(single_path=str(tmp_path / "ta"))
    got = weights(tmp_path / "ta")
    assert got.keys() <= want.keys()
    for k, v in got.items():
        torch.testing.assert_close(v, want[k], atol=1e-6, rtol=0, msg=k)
    inputs = json.loads(json.dumps(m.manifest["inputs"]))
    assert inputs[0]["kind"] == "lora"


def test_mixed_full_and_lora_inputs_every_seed_method(tiny, tmp_path):
    make_lora(tiny["base"], tmp_path / "lora", target_modules=["q_proj", "up_proj"])
    out = tmp_path / "o"
    assert run_cli(["run", "--base_model", str(tiny["base"]), "--finetuned_models", str(tiny["ft_a"]),
                    str(tmp_path / "lora"), "--datasets", str(tiny["data_a"]), str(tiny["data_b"]),
                    "--output_dir", str(out), "--cache_dir", str(tmp_path / "c"), "--num_calibration_samples", "2",
                    "--calibration_seq_length", "16", "--eval", "none"]) == 0
    for d in ("ties_magnitude", "dare_random", "ties_sparsegpt"):
        assert weights(out / d).keys() == weights(tiny["base"]).keys()


def _assert_bad(args: list[str], tmp_path: Path, capsys, needle: str) -> None:
    code = run_cli(["run", *args, "--output_dir", str(tmp_path / "out"), "--cache_dir", str(tmp_path / "cache"),
                    "--eval", "none"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0], err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_bad_inputs_exit_2_with_one_line_and_write_nothing(tiny, tmp_path, capsys):
    b, a, c = str(tiny["base"]), str(tiny["ft_a"]), str(tiny["ft_b"])
    da, db = str(tiny["data_a"]), str(tiny["data_b"])
    ok = ["--base_model", b, "--finetuned_models", a, c]
    _assert_bad([*ok, "--datasets", da], tmp_path, capsys, "1 dataset(s) for 2")
    _assert_bad([*ok, "--datasets", da, db, "--density", "0"], tmp_path, capsys, "(0, 1]")
    _assert_bad([*ok, "--datasets", da, db, "--density", "1.5"], tmp_path, capsys, "(0, 1]")
    _assert_bad([*ok, "--datasets", da, db, "--methods", "tie"], tmp_path, capsys, "did you mean")
    _assert_bad(["--base_model", b, "--finetuned_models", a, str(tmp_path / "nope"), "--datasets", da, db],
                tmp_path, capsys, "nope")
    _assert_bad([*ok, "--datasets", da, str(tmp_path / "missing.jsonl")], tmp_path, capsys, "file not found")
    _assert_bad(["--base_model", b, "--finetuned_models", a, "--methods", "slerp"], tmp_path, capsys, "needs 2")
    # a different architecture (config) and a different shape (weights)
    other = tmp_path / "m" / "other"
    shutil.copytree(tiny["ft_a"], other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["num_hidden_layers"] = 3
    (other / "config.json").write_text(json.dumps(cfg))
    _assert_bad(["--base_model", b, "--finetuned_models", a, str(other), "--methods", "ties"], tmp_path, capsys,
                "num_hidden_layers")
    shaped = tmp_path / "m" / "shaped"
    shutil.copytree(tiny["ft_a"], shaped)
    sd = load_file(shaped / "model.safetensors")
    sd["model.layers.0.mlp.up_proj.weight"] = sd["model.layers.0.mlp.up_proj.weight"][:, :16].contiguous()
    save_file(sd, shaped / "model.safetensors")
    _assert_bad(["--base_model", b, "--finetuned_models", str(shaped), "--methods", "ties"], tmp_path, capsys,
                "up_proj.weight has shape")
    empty = tmp_path / "m" / "empty"
    empty.mkdir()
    (empty / "config.json").write_text((tiny["ft_a"] / "config.json").read_text())
    _assert_bad(["--base_model", b, "--finetuned_models", str(empty), "--methods", "ties"], tmp_path, capsys,
                "no .safetensors")


def test_output_dir_not_overwritten(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    code = run_cli(["run", "--base_model", str(tiny["base"]), "--finetuned_models", str(tiny["ft_a"]),
                    "--methods", "ties", "--output_dir", str(out), "--eval", "none"])
    assert code == 2 and "not empty" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "x"


def test_vocab_policy_and_tied_base(tmp_path, capsys, base_factory):
    base = base_factory(tmp_path / "untied_base", tie=False)
    big = tmp_path / "big"
    shutil.copytree(base, big)
    sd = load_file(big / "model.safetensors")
    want = {k: v + 0.01 for k, v in sd.items()}
    for k in ("model.embed_tokens.weight", "lm_head.weight"):
        sd[k] = torch.cat([want[k], torch.randn(2, sd[k].shape[1])])
    save_file(sd, big / "model.safetensors")
    common = ["run", "--base_model", str(base), "--finetuned_models", str(big), "--methods",
              "task_arithmetic", "--eval", "none"]
    assert run_cli([*common, "--output_dir", str(tmp_path / "o1")]) == 0
    got = weights(tmp_path / "o1" / "task_arithmetic")
    torch.testing.assert_close(got["lm_head.weight"], want["lm_head.weight"], atol=1e-6, rtol=0)
    assert json.loads((tmp_path / "o1" / "run_manifest.json").read_text())["inputs"][0]["vocab_rows"]
    assert run_cli([*common, "--output_dir", str(tmp_path / "o2"), "--vocab", "error"]) == 2
    assert "different vocabulary" in capsys.readouterr().err
    # a tied base (no lm_head tensor) with an untied fine-tune: the head is ignored, not written
    tied = base_factory(tmp_path / "tied", tie=True)
    assert "lm_head.weight" not in weights(tied)
    untied = tmp_path / "untied"
    shutil.copytree(tied, untied)
    sd = load_file(untied / "model.safetensors")
    sd["lm_head.weight"] = sd["model.embed_tokens.weight"] + 0.1
    save_file(sd, untied / "model.safetensors")
    assert run_cli(["run", "--base_model", str(tied), "--finetuned_models", str(untied), "--methods", "ties",
                    "--output_dir", str(tmp_path / "o3"), "--eval", "none"]) == 0
    assert "lm_head.weight" not in weights(tmp_path / "o3" / "ties")
