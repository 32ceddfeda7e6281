"""``ft infer``: LLaMA-Factory's predictions format in dataset order, metrics, vllm_infer.py's command
line, resuming after SIGKILL to the same bytes, and bad input (exit 2, one line, nothing written)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ft_serve.infer import count_complete_rows, load_infer_config, read_predictions, run_infer
from ft_testing.data import write_dataset

QUESTIONS = [f"Question {i}: how much is {i} plus {2 * i}?" for i in range(40)]


def _ft_serve() -> str:
    return str(Path(sys.executable).with_name("ft-serve"))


@pytest.fixture
def data_dir(tmp_path):
    rows = [{"instruction": q, "output": f"{3 * i}"} for i, q in enumerate(QUESTIONS)]
    write_dataset(tmp_path / "data", "arith", rows)
    return tmp_path / "data"


def _args(model, data_dir, out: Path, *extra: str) -> list[str]:
    return [f"model_name_or_path={model}", "template=smollm2", "dataset=arith", f"dataset_dir={data_dir}",
            f"save_name={out}", "max_new_tokens=24", "seed=7", "max_batch_size=4", *extra]


def test_predictions_in_dataset_order_with_metrics(tiny_llama_path, data_dir, tmp_path):
    out, metrics = tmp_path / "pred.jsonl", tmp_path / "metrics.json"
    cfg = load_infer_config(None, _args(tiny_llama_path, data_dir, out, f"matrix_save_name={metrics}",
                                        "max_samples=12", "batch_size=5"))
    result = run_infer(cfg)
    rows = read_predictions(out)
    assert result.rows == result.generated == len(rows) == 12
    assert [list(r) for r in rows] == [["prompt", "predict", "label"]] * 12
    # dataset order: row i's prompt holds question i, its label the reference (ChatML decoded without
    # special tokens, as vllm_infer.py decodes it)
    for i, row in enumerate(rows):
        assert row["prompt"].startswith("system\n") and f"user\n{QUESTIONS[i]}\nassistant\n" in row["prompt"]
        assert row["label"] == f"{3 * i}\n"
    text = out.read_text(encoding="utf-8")
    assert text == "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    saved = json.loads(metrics.read_text())
    assert list(saved) == ["predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l",
                           "predict_model_preparation_time", "predict_runtime", "predict_samples_per_second",
                           "predict_steps_per_second"]
    from ft_data.scorers import text_scores

    expected = text_scores([r["predict"] for r in rows], [r["label"] for r in rows])
    assert saved["predict_bleu-4"] == pytest.approx(expected["bleu-4"])
    assert saved["predict_samples_per_second"] > 0
    # same seed, same text: a second run into another file is byte-identical
    again = tmp_path / "again.jsonl"
    run_infer(load_infer_config(None, _args(tiny_llama_path, data_dir, again, "max_samples=12", "batch_size=3",
                                            "max_batch_size=2")))
    assert again.read_bytes() == out.read_bytes()


def _wait_for_rows(path: Path, rows: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= rows:
            return
        if proc.poll() is not None:
            raise AssertionError(f"ft infer ended early: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError("no rows appeared in time")


def test_sigkill_then_resume_gives_the_uninterrupted_file(tiny_llama_path, data_dir, tmp_path):
    args = _args(tiny_llama_path, data_dir, tmp_path / "full.jsonl", "max_batch_size=2", "batch_size=4",
                 "max_new_tokens=32")
    run_infer(load_infer_config(None, args))
    full = (tmp_path / "full.jsonl").read_bytes()
    assert full.count(b"\n") == len(QUESTIONS)

    killed = tmp_path / "killed.jsonl"
    cmd = [_ft_serve(), "infer", *[a.replace(str(tmp_path / "full.jsonl"), str(killed)) for a in args]]
    env = {**os.environ, "FT_PLAIN_PROGRESS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        _wait_for_rows(killed, 6, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    partial = count_complete_rows(killed, repair=False)
    assert 6 <= partial < len(QUESTIONS), "the run was not interrupted mid-way"
    assert full.startswith(killed.read_bytes()[: killed.read_bytes().rfind(b"\n") + 1])
    with killed.open("ab") as fh:  # a torn line, as a kill in the middle of a write would leave
        fh.write(b'{"prompt": "half')
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{partial} of {len(QUESTIONS)} rows are there, continuing" in rerun.stderr
    assert killed.read_bytes() == full


def test_resume_with_other_settings_is_refused(tiny_llama_path, data_dir, tmp_path):
    out = tmp_path / "pred.jsonl"
    run_infer(load_infer_config(None, _args(tiny_llama_path, data_dir, out, "max_samples=4")))
    before = out.read_bytes()
    proc = subprocess.run([_ft_serve(), "infer", *_args(tiny_llama_path, data_dir, out, "max_samples=4",
                                                         "temperature=0.5")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and "temperature" in proc.stderr
    assert out.read_bytes() == before
    # overwrite=true starts over
    run_infer(load_infer_config(None, _args(tiny_llama_path, data_dir, out, "max_samples=4", "temperature=0.5",
                                            "overwrite=true")))
    assert count_complete_rows(out) == 4


def _lora(base: Path, out: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(out)
    return out


def test_vllm_infer_command_line_runs_with_paths_changed(tiny_llama_path, tmp_path):
    # seed 000's command: python scripts/vllm_infer.py --model_name_or_path … --adapter_name_or_path …
    #                     --dataset router_test --cutoff_len 2048
    rows = [{"instruction": "Route the query to the best model.", "input": f"query {i}", "output": f"model_{i % 3}"}
            for i in range(6)]
    write_dataset(tmp_path / "data", "router_test", rows, file_name="router_test.json")
    adapter = _lora(tiny_llama_path, tmp_path / "saves" / "lora")
    cmd = [_ft_serve(), "infer", "--model_name_or_path", str(tiny_llama_path), "--adapter_name_or_path", str(adapter),
           "--dataset", "router_test", "--cutoff_len", "2048", "--max_new_tokens", "8"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows_out = read_predictions(tmp_path / "generated_predictions.jsonl")
    # template "default" (vllm_infer.py's): assistant turn = content, EOS, "\n"; EOS is skipped
    assert [r["label"] for r in rows_out] == [f"model_{i % 3}\n" for i in range(6)]
    assert all(f"query {i}" in r["prompt"] for i, r in enumerate(rows_out))
    # the adapter is applied: greedy text differs from the base model's
    base = load_infer_config(None, [f"model_name_or_path={tiny_llama_path}", "dataset=router_test",
                                    f"dataset_dir={tmp_path / 'data'}", f"save_name={tmp_path / 'b.jsonl'}",
                                    "temperature=0", "max_new_tokens=8"])
    run_infer(base)
    run_infer(base.model_copy(update={"adapter_name_or_path": str(adapter), "save_name": str(tmp_path / "a.jsonl")}))
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "b.jsonl").read_bytes()


def _other_base(tmp_path: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(vocab_size=256, hidden_size=48, intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=4, num_key_value_heads=2))
    model.save_pretrained(tmp_path / "other_base")
    return _lora(tmp_path / "other_base", tmp_path / "other_lora")


@pytest.mark.parametrize("case", ["unknown_dataset", "missing_columns", "missing_model", "foreign_adapter",
                                  "unknown_key"])
def test_bad_input_exit_2_one_line_nothing_written(case, tiny_llama_path, data_dir, tmp_path):
    out = tmp_path / "out" / "pred.jsonl"
    args = _args(tiny_llama_path, data_dir, out)
    if case == "unknown_dataset":
        args.append("dataset=nope")
        expect = "nope"
    elif case == "missing_columns":
        write_dataset(data_dir, "broken", [{"question": "q", "answer": "a"}], columns={"prompt": "instruction",
                                                                                   "response": "output"})
        args.append("dataset=broken")
        expect = "instruction"
    elif case == "missing_model":
        args[0] = f"model_name_or_path={tmp_path / 'no_such_model'}"
        expect = "no_such_model"
    elif case == "foreign_adapter":
        args.append(f"adapter_name_or_path={_other_base(tmp_path)}")
        expect = "adapter"
    else:
        args.append("temprature=0.3")
        expect = "temperature"
    proc = subprocess.run([_ft_serve(), "infer", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and expect in last, last
    assert not out.parent.exists() or not any(out.parent.iterdir())
