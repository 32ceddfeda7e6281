"""``ft eval`` on the real SmolLM2-135M-Instruct and a LoRA adapter on it (gsm_symbolic, a few rows):
its numbers and replies equal those of lm-eval run directly with the ft model, from Python
(``simple_evaluate(model="ft")``) and from lm-eval's own command line (``python -m ft_serve.evaluation``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[3]
TASKS = ROOT / "docs" / "examples" / "eval" / "tasks"
LIMIT, MAX_GEN = 6, 48


def _lora(base: Path, out: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights="gaussian")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), config)
    with torch.no_grad():  # a small, non-zero update (gaussian init leaves B at zero)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.02)
    model.save_pretrained(out)
    return out


def _replies(path: Path) -> list[str]:
    return [json.loads(line)["resps"][0][0] for line in path.open()]


@pytest.mark.slow
def test_ft_eval_numbers_equal_lm_eval_with_the_ft_model(smollm2_path, tmp_path, capsys):
    import lm_eval
    from lm_eval.tasks import TaskManager

    from ft_serve.cli import cli

    lora = _lora(smollm2_path, tmp_path / "lora")
    out = tmp_path / "eval"
    code = cli.main(["eval", f"model_name_or_path={smollm2_path}", "template=smollm2", f"include_path={TASKS}",
                     "tasks=rg_gsm_symbolic", f"limit={LIMIT}", f"gen_kwargs=max_gen_toks={MAX_GEN}",
                     f"models=base,{lora}", f"output_dir={out}", "log_samples=true"])
    assert code == 0, capsys.readouterr().err[-2000:]
    saved = json.loads((out / "results.json").read_text())
    table = {(r["task"], r["metric"]): r["scores"] for r in saved["table"]}
    assert set(table) == {("rg_gsm_symbolic", "acc"), ("rg_gsm_symbolic", "score")}
    base_replies = _replies(out / "samples" / "base" / "rg_gsm_symbolic.jsonl")
    assert base_replies != _replies(out / "samples" / "lora" / "rg_gsm_symbolic.jsonl")

    for name, extra in (("base", {}), ("lora", {"adapter_name_or_path": str(lora)})):
        direct = lm_eval.simple_evaluate(
            model="ft", model_args={"model_name_or_path": str(smollm2_path), "template": "smollm2", **extra},
            tasks=["rg_gsm_symbolic"], limit=LIMIT, gen_kwargs={"max_gen_toks": MAX_GEN}, apply_chat_template=True,
            task_manager=TaskManager(include_path=str(TASKS), include_defaults=False))
        for metric in ("acc", "score"):
            assert direct["results"]["rg_gsm_symbolic"][f"{metric},none"] == pytest.approx(
                table[("rg_gsm_symbolic", metric)][name]["value"], abs=1e-12)
            assert direct["results"]["rg_gsm_symbolic"][f"{metric}_stderr,none"] == pytest.approx(
                table[("rg_gsm_symbolic", metric)][name]["stderr"], abs=1e-12)
        replies = [s["resps"][0][0] for s in direct["samples"]["rg_gsm_symbolic"]]
        assert replies == _replies(out / "samples" / name / "rg_gsm_symbolic.jsonl")

    # lm-eval's own command line with the ft model registered
    cmd = [sys.executable, "-m", "ft_serve.evaluation", "run", "--model", "ft", "--model_args",
           f"model_name_or_path={smollm2_path},template=smollm2", "--tasks", "rg_gsm_symbolic", "--include_path",
           str(TASKS), "--apply_chat_template", "--limit", str(LIMIT), "--gen_kwargs", f"max_gen_toks={MAX_GEN}",
           "--output_path", str(tmp_path / "cli"), "--log_samples"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result_file = next((tmp_path / "cli").rglob("results_*.json"))
    cli_results = json.loads(result_file.read_text())["results"]["rg_gsm_symbolic"]
    assert cli_results["acc,none"] == pytest.approx(table[("rg_gsm_symbolic", "acc")]["base"]["value"], abs=1e-12)
    assert _replies(next((tmp_path / "cli").rglob("samples_rg_gsm_symbolic_*.jsonl"))) == base_replies
