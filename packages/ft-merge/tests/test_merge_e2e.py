"""End to end on tiny Llamas: fine-tunes trained on two different tasks, every method, the report,
the seed's CLI, the cache, mergekit YAML and sharded output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from ft_merge import METHODS, Merger
from ft_merge.cli import main
from ft_testing.models import load_safetensors_dir as weights


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code)


def test_every_method_end_to_end_with_report(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    methods = ["ties_magnitude", "dare_random", "ties_sparsegpt", *sorted(set(METHODS) - {"ties", "dare_linear", "ties_sparsegpt"})]
    code = run_cli(["run", "--base_model", str(tiny["base"]), "--finetuned_models", str(tiny["ft_a"]), str(tiny["ft_b"]),
                    "--datasets", str(tiny["data_a"]), str(tiny["data_b"]), "--output_dir", str(out),
                    "--cache_dir", str(tmp_path / "cache"), "--num_calibration_samples", "4",
                    "--calibration_seq_length", "32", "--eval_dataset", str(tiny["eval"]), "--per_task_eval",
                    "--eval_num_samples", "6", "--per_task_rows", "6",
                    "--methods", *methods])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Method" in printed and "Perplexity" in printed and "BEST METHOD" in printed
    results = json.loads((out / "comparison_results.json").read_text())
    assert {"TIES-Magnitude", "DARE-Random", "TIES-SparseGPT"} <= set(results)
    base = weights(tiny["base"])
    for key, r in results.items():
        assert isinstance(r["perplexity"], float) and r["perplexity"] > 1
        assert {"avg_loss", "num_samples", "num_tokens", "merge_time", "peak_rss_gb"} <= set(r)
        assert set(r["per_task"]) == {"task_1", "task_2"}
        merged = weights(Path(r["output_dir"]))
        assert merged.keys() == base.keys()
        for k, v in merged.items():
            assert v.shape == base[k].shape and bool(torch.isfinite(v).all()), (key, k)
    manifest = json.loads((out / "run_manifest.json").read_text())
    assert [c["calibration_source"] for c in manifest["calibration"]] == ["dataset", "dataset"]
    # the fine-tunes really learnt their tasks, and task arithmetic keeps much of both
    ta = results["task_arithmetic"]["per_task"]
    assert all(t["ft_loss"] < t["base_loss"] for t in ta.values())
    assert all(t["retention"] > 0.3 for t in ta.values())
    # the merged model loads with transformers
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out / "ties_sparsegpt")


def test_cache_hit_and_invalidation(tiny, tmp_path):
    common = ["run", "--base_model", str(tiny["base"]), "--finetuned_models", str(tiny["ft_a"]), str(tiny["ft_b"]),
              "--datasets", str(tiny["data_a"]), "no_such_org/no_such_dataset", "--cache_dir", str(tmp_path / "c"),
              "--calibration_seq_length", "16", "--methods", "ties_sparsegpt", "--eval", "none"]
    assert run_cli([*common, "--output_dir", str(tmp_path / "o1"), "--num_calibration_samples", "2"]) == 0
    m1 = json.loads((tmp_path / "o1" / "run_manifest.json").read_text())["calibration"]
    assert [c["calibration_source"] for c in m1] == ["dataset", "dummy"]
    assert not any(c["cache_hit"] for c in m1)
    assert run_cli([*common, "--output_dir", str(tmp_path / "o2"), "--num_calibration_samples", "2"]) == 0
    m2 = json.loads((tmp_path / "o2" / "run_manifest.json").read_text())["calibration"]
    assert all(c["cache_hit"] for c in m2)
    assert run_cli([*common, "--output_dir", str(tmp_path / "o3"), "--num_calibration_samples", "3"]) == 0
    m3 = json.loads((tmp_path / "o3" / "run_manifest.json").read_text())["calibration"]
    assert not any(c["cache_hit"] for c in m3)
    assert torch.equal(weights(tmp_path / "o1" / "ties_sparsegpt")["model.layers.0.mlp.up_proj.weight"],
                       weights(tmp_path / "o2" / "ties_sparsegpt")["model.layers.0.mlp.up_proj.weight"])


def test_identical_models_give_that_model(tiny, tmp_path):
    ft = weights(tiny["ft_a"])
    m = Merger(str(tiny["base"]), [str(tiny["ft_a"])] * 3, [str(tiny["data_a"])] * 3, output_dir=str(tmp_path / "o"),
               cache_dir=str(tmp_path / "c"), num_calibration_samples=2, calibration_seq_length=16, density=1.0,
               methods=["linear", "ties", "ties_sparsegpt", "regmean", "dare_ties", "breadcrumbs", "della"],
               normalize=True, gamma=0.0, eval="none")
    m.run()
    for method in ["linear", "ties", "ties_sparsegpt", "regmean", "dare_ties", "breadcrumbs", "della"]:
        got = weights(tmp_path / "o" / method)
        for k, v in ft.items():
            tol = 1e-4 if method == "regmean" else 2e-6  # a float32 solve with near-singular Grams
            torch.testing.assert_close(got[k], v, atol=tol, rtol=1e-5, msg=f"{method} {k}")
    two = Merger(str(tiny["base"]), [str(tiny["ft_b"])] * 2, output_dir=str(tmp_path / "s"), methods=["slerp"],
                 eval="none")
    two.run()
    for k, v in weights(tmp_path / "s" / "slerp").items():
        torch.testing.assert_close(v, weights(tiny["ft_b"])[k], atol=2e-6, rtol=1e-5)


def test_one_model_task_arithmetic_lambda_one_is_that_model(tiny, tmp_path):
    path = Merger(str(tiny["base"]), [str(tiny["ft_b"])], methods=["task_arithmetic"], eval="none",
                  output_dir=str(tmp_path)).run(["task_arithmetic"], single_path=str(tmp_path / "ta"))
    assert path
    got, ft = weights(tmp_path / "ta"), weights(tiny["ft_b"])
    for k, v in ft.items():
        torch.testing.assert_close(got[k], v, atol=1e-6, rtol=0)


def test_mergekit_yaml_and_sharded_output(tiny, tmp_path):
    cfg = {"merge_method": "ties", "base_model": str(tiny["base"]), "dtype": "bfloat16", "int8_mask": True,
           "tokenizer_source": "base", "parameters": {"lambda": 1.0, "normalize": True},
           "models": [{"model": str(tiny["ft_a"]), "parameters": {"weight": 1.0, "density": 0.5}},
                      {"model": str(tiny["ft_b"]), "parameters": {"weight": 0.5, "density": 0.3}}]}
    cfg_path = tmp_path / "merge.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    assert run_cli(["run", str(cfg_path), f"output_dir={out}", "out_shard_size=20KB", "eval=none"]) == 0
    index = json.loads((out / "ties" / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out / "ties")
    assert next(model.parameters()).dtype == torch.bfloat16
    assert yaml.safe_load((out / "ties" / "ft_merge_config.yml").read_text())["methods"] == ["ties"]


def test_python_api_seed_methods(tiny, tmp_path):
    m = Merger(str(tiny["base"]), [str(tiny["ft_a"]), str(tiny["ft_b"])], [str(tiny["data_a"]), str(tiny["data_b"])],
               output_dir=str(tmp_path / "x"), cache_dir=str(tmp_path / "c"), num_calibration_samples=2,
               calibration_seq_length=16, eval="none")
    path = m.merge_with_dare(return_model=False, output_path=str(tmp_path / "dare"))
    assert (Path(path) / "model.safetensors").is_file() and (Path(path) / "tokenizer.json").is_file()
    model = m.merge_with_ties(use_sparsegpt=True, output_path=str(tmp_path / "ts"))
    from transformers import AutoTokenizer

    res = m.evaluate_model(model, AutoTokenizer.from_pretrained(tiny["base"]), str(tiny["eval"]), 10)
    assert res["perplexity"] > 1 and res["num_tokens"] > 0
    std = Merger(str(tiny["base"]), [str(tiny["ft_a"])], eval="standard", eval_seq_len=16)
    assert std.evaluate_model(model, AutoTokenizer.from_pretrained(tiny["base"]), str(tiny["eval"]))["eval_mode"] == "standard"
    # DARE masks do not depend on the order of the inputs' tensors or on the run: same seed, same output
    again = m.merge_with_dare(return_model=False, output_path=str(tmp_path / "dare2"))
    assert weights(Path(again)).keys() == weights(Path(path)).keys()
    for k, v in weights(Path(path)).items():
        assert torch.equal(v, weights(Path(again))[k])


def test_identity_hessians_make_ties_sparsegpt_equal_ties(tiny, tmp_path):
    Merger(str(tiny["base"]), [str(tiny["ft_a"]), str(tiny["ft_b"])], output_dir=str(tmp_path / "o"),
           methods=["ties", "ties_sparsegpt"], calibration_fallback="identity", eval="none").run()
    a, b = weights(tmp_path / "o" / "ties"), weights(tmp_path / "o" / "ties_sparsegpt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.gpu
def test_calibration_on_cuda_matches_cpu(tiny, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    stores = {}
    for dev in ("cpu", "cuda"):
        m = Merger(str(tiny["base"]), [str(tiny["ft_a"])], [str(tiny["data_a"])], cache_dir=str(tmp_path / dev),
                   num_calibration_samples=2, calibration_seq_length=16, methods=["ties_sparsegpt"], device=dev,
                   eval="none")
        stores[dev] = m.compute_and_save_hessians()[0]
    for name in stores["cpu"].groups:
        a, b = stores["cpu"].get(name), stores["cuda"].get(name)
        torch.testing.assert_close(b.hinv_diag, a.hinv_diag, rtol=1e-4, atol=1e-6)
