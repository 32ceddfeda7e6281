"""``ft eval`` end to end on the tiny model: a base and its LoRA adapter side by side on a
generative, a multiple-choice and a LLaMA-Factory MMLU-format task; the numbers equal
``lm_eval.simple_evaluate(model="ft")`` run directly; results.json / results.log / results.png /
run.json; and bad input (exit 2, one line, nothing written)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from ft_serve.cli import cli

ROOT = Path(__file__).resolve().parents[3]
EVAL = ROOT / "docs" / "examples" / "eval"


@pytest.fixture(scope="module")
def lora_dir(tiny_llama_path, tmp_path_factory):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama_path),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    out = tmp_path_factory.mktemp("eval-cli") / "saves" / "lora"
    model.save_pretrained(out)
    return out


def _args(model: Path, out: Path, *extra: str) -> list[str]:
    return [f"model_name_or_path={model}", "template=smollm2", f"include_path={EVAL / 'tasks'}",
            "tasks=rg_gsm_symbolic,rg_arith_mc", "limit=4", "gen_kwargs=max_gen_toks=8", f"output_dir={out}", *extra]


def test_base_and_adapter_side_by_side_equal_lm_eval_run_directly(tiny_llama_path, lora_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    code = cli.main(["eval", *_args(tiny_llama_path, out, f"models=base,{lora_dir}", "task=mmlu_demo_test",
                                    f"task_dir={EVAL}", "n_shot=1", "log_samples=true")])
    printed = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.log", "results.png", "run.json",
                                                     "samples"]
    saved = json.loads((out / "results.json").read_text())
    assert list(saved["models"]) == ["base", "lora"] and saved["models"]["lora"]["adapter_name_or_path"] == str(lora_dir)
    table = {(r["task"], r["metric"]): r for r in saved["table"]}
    assert {("rg_gsm_symbolic", "acc"), ("rg_gsm_symbolic", "score"), ("rg_arith_mc", "acc"),
            ("rg_arith_mc", "acc_norm"), ("mmlu_demo_test", "acc"), ("mmlu_demo_test_stem", "acc"),
            ("mmlu_demo_test_elementary_arithmetic", "acc")} <= set(table)
    assert table[("mmlu_demo_test", "acc")]["samples"] == 16  # 4 subjects x limit 4
    for row in saved["table"]:
        for model in ("base", "lora"):
            value, stderr = row["scores"][model]["value"], row["scores"][model]["stderr"]
            assert 0.0 <= value <= 1.0 and stderr is not None and stderr >= 0.0
    # the printed table: every model a column, value ± stderr
    assert "base" in printed and "lora" in printed and "±" in printed and "rg_arith_mc" in printed
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| rg_arith_mc | acc_norm | 4 |" in (out / "results.log").read_text()
    assert json.loads((out / "run.json").read_text())["config"]["models"][1]["path"] == str(lora_dir)

    # the same numbers from lm-eval itself with the ft model, one model at a time
    import lm_eval
    from lm_eval.tasks import TaskManager

    from ft_serve.evaluation import legacy_group

    for name, extra in (("base", {}), ("lora", {"adapter_name_or_path": str(lora_dir)})):
        direct = lm_eval.simple_evaluate(
            model="ft", model_args={"model_name_or_path": str(tiny_llama_path), "template": "smollm2", **extra},
            tasks=["rg_gsm_symbolic", "rg_arith_mc", legacy_group("mmlu_demo_test", EVAL, n_shot=1)], limit=4,
            gen_kwargs={"max_gen_toks": 8}, apply_chat_template=True, fewshot_as_multiturn=True,
            task_manager=TaskManager(include_path=str(EVAL / "tasks"), include_defaults=False))
        for (task, metric), row in table.items():
            assert direct["results"][task][f"{metric},none"] == pytest.approx(row["scores"][name]["value"], abs=1e-9)
            assert direct["results"][task][f"{metric}_stderr,none"] == pytest.approx(row["scores"][name]["stderr"],
                                                                                     abs=1e-9)
    # the adapter was applied: its log-likelihoods differ from the base's
    base_mc = [json.loads(line)["resps"] for line in (out / "samples" / "base" / "rg_arith_mc.jsonl").open()]
    lora_mc = [json.loads(line)["resps"] for line in (out / "samples" / "lora" / "rg_arith_mc.jsonl").open()]
    assert len(base_mc) == 4 and base_mc != lora_mc


def _other_base_lora(tmp_path: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(vocab_size=256, hidden_size=48, intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=4, num_key_value_heads=2))
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    peft_model.save_pretrained(tmp_path / "other_lora")
    return tmp_path / "other_lora"


@pytest.mark.parametrize("case", ["unknown_task", "missing_columns", "bad_mmlu_csv", "foreign_adapter",
                                  "missing_model", "missing_include_path", "missing_config", "unknown_key",
                                  "output_not_empty"])
def test_bad_input_exit_2_one_line_nothing_written(case, tiny_llama_path, tmp_path, capsys):
    out = tmp_path / "out"
    args = _args(tiny_llama_path, out)
    if case == "unknown_task":
        args.append("tasks=rg_gsm_symbolc")
        expect = "unknown task 'rg_gsm_symbolc'; did you mean 'rg_gsm_symbolic'?"
    elif case == "missing_columns":
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps({"question": "How many?", "answer": "3"}) + "\n", encoding="utf-8")
        (tmp_path / "tasks").mkdir()
        (tmp_path / "tasks" / "mine.yaml").write_text(
            f"include: {EVAL / 'tasks' / 'rg_gsm_symbolic.yaml'}\ntask: mine\ndataset_kwargs:\n  data_file: {bad}\n")
        args += [f"include_path={tmp_path / 'tasks'}", "tasks=mine"]
        expect = "task mine: " + str(bad) + ": row 1 has no column 'entry'"
    elif case == "bad_mmlu_csv":
        import shutil

        shutil.copytree(EVAL / "mmlu_demo", tmp_path / "evaluation" / "mmlu_demo")
        (tmp_path / "evaluation" / "mmlu_demo" / "test" / "world_capitals_test.csv").write_text("Q?,a,b,c,d\n")
        args += ["task=mmlu_demo_test", f"task_dir={tmp_path / 'evaluation'}"]
        expect = "world_capitals_test.csv: row 1 has 5 fields"
    elif case == "foreign_adapter":
        args.append(f"models=base,{_other_base_lora(tmp_path)}")
        expect = "trained on another base"
    elif case == "missing_model":
        args.append(f"models=base,{tmp_path / 'saves' / 'no_such_lora'}")
        expect = "no_such_lora"
    elif case == "missing_include_path":
        args.append(f"include_path={tmp_path / 'nowhere'}")
        expect = "include_path " + str(tmp_path / "nowhere") + ": folder not found"
    elif case == "missing_config":
        args.insert(0, str(tmp_path / "eval.yaml"))
        expect = "eval.yaml: config file not found"
    elif case == "unknown_key":
        args.append("n_shots=3")
        expect = "unknown key 'n_shots'; did you mean 'n_shot'"
    else:
        out.mkdir()
        (out / "keep.txt").write_text("mine")
        expect = "output directory is not empty"
    code = cli.main(["eval", *args])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], lines
    if case == "output_not_empty":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    else:
        assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.tmp")]
