"""Benchmark: ``ft infer`` over a dataset against LLaMA-Factory 0.9.5's ``predict_with_generate``, CPU, same run.

Both generate for the same ``--rows`` prompts (reasoning-gym ``gsm_symbolic`` and
``basic_arithmetic`` questions, seed 42, alpaca rows written to a temporary dataset_dir) with
SmolLM2-135M-Instruct in fp32, template smollm2, at most ``--max-new-tokens`` new tokens, and the
same sampling (LLaMA-Factory's generating defaults: temperature 0.95, top_p 0.7, top_k 50).

* ft: ``ft-serve infer model_name_or_path=smollm2-135m-instruct ... matrix_save_name=...`` (the
  transformers engine, continuous batching of ``--ft-max-batch-size`` rows).
* LLaMA-Factory: ``llamafactory-cli train`` with ``do_predict: true, predict_with_generate: true``
  on the plain HF export the alias resolves to, ``per_device_eval_batch_size: --lf-batch-size``
  (its batched ``generate``). vllm_infer.py, LLaMA-Factory's fast path, needs vLLM, which has no
  CPU build here. The venv is the one ``tools/peers/setup_llamafactory.sh`` builds.

Figures per side: process wall time, generation time (ft: ``predict_runtime`` + the time to
score BLEU/ROUGE, which LLaMA-Factory's ``predict_runtime`` includes; LLaMA-Factory:
``predict_runtime`` of its ``predict_results.json``), rows/s and tokens/s over the generation
time, tokens counted by re-tokenizing each side's ``predict`` texts with the model's tokenizer.
The sides run one after the other, never together. stdout: one JSON line per run, then one line
with the medians over ``--reps`` and the target (ft/LLaMA-Factory rows/s >= 3).

Usage (from the workspace root; run on an otherwise idle machine)::

    bash tools/peers/setup_llamafactory.sh        # once
    uv run python packages/ft-serve/benchmarks/infer_throughput.py [--rows 1000] [--max-new-tokens 64] \\
        [--reps 1] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 3.0


def log(msg: str) -> None:
    print(f"[infer_throughput] {msg}", file=sys.stderr, flush=True)


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def write_data(directory: Path, rows: int) -> None:
    import reasoning_gym

    half = rows // 2
    entries = list(reasoning_gym.create_dataset("gsm_symbolic", size=half, seed=42)) + \
        list(reasoning_gym.create_dataset("basic_arithmetic", size=rows - half, seed=42))
    # "input" is there, empty: LLaMA-Factory 0.9.5 reads the column of every alpaca row
    data = [{"instruction": e["question"], "input": "", "output": str(e["answer"])} for e in entries]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (directory / "dataset_info.json").write_text(json.dumps({"bench": {"file_name": "bench.json"}}))


def count_tokens(tokenizer: Any, path: Path) -> int:
    texts = [json.loads(line)["predict"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])


def run_ft(work: Path, args: argparse.Namespace, tokenizer: Any) -> dict[str, Any]:
    out = work / "ft"
    out.mkdir(exist_ok=True)
    cmd = [str(Path(sys.executable).with_name("ft-serve")), "infer", "model_name_or_path=smollm2-135m-instruct",
           "template=smollm2", "infer_dtype=float32", "dataset=bench", f"dataset_dir={work / 'data'}",
           f"max_samples={args.rows}", f"max_new_tokens={args.max_new_tokens}", "cutoff_len=1024",
           f"max_batch_size={args.ft_max_batch_size}", "seed=42", "overwrite=true",
           f"save_name={out / 'generated_predictions.jsonl'}", f"matrix_save_name={out / 'metrics.json'}"]
    env = {**os.environ, "FT_PLAIN_PROGRESS": "1"}
    before = load_avg()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"ft infer failed: {proc.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    t1 = time.perf_counter()
    from ft_data.scorers import text_scores  # what LLaMA-Factory's predict_runtime includes: the scoring

    rows = [json.loads(line) for line in (out / "generated_predictions.jsonl").read_text().splitlines()]
    text_scores([r["predict"] for r in rows], [r["label"] for r in rows])
    score_s = time.perf_counter() - t1
    generate_s = metrics["predict_runtime"] + score_s
    tokens = count_tokens(tokenizer, out / "generated_predictions.jsonl")
    return {"side": "ft", "rows": len(rows), "tokens": tokens, "wall_s": round(wall, 2),
            "generate_s": round(generate_s, 2), "score_s": round(score_s, 2),
            "rows_per_s": round(len(rows) / generate_s, 3), "tokens_per_s": round(tokens / generate_s, 2),
            "load_before": before, "bleu-4": metrics["predict_bleu-4"]}


def run_lf(work: Path, args: argparse.Namespace, tokenizer: Any, model_path: Path) -> dict[str, Any]:
    peers = Path(os.environ.get("PEERS", Path.home() / ".cache" / "ft-peers"))
    cli, stubs = peers / "lf" / "bin" / "llamafactory-cli", peers / "stubs"
    out = work / "lf"
    config = {
        "model_name_or_path": str(model_path), "stage": "sft", "do_predict": True, "finetuning_type": "full",
        "eval_dataset": "bench", "dataset_dir": str(work / "data"), "template": "smollm2", "cutoff_len": 1024,
        "max_samples": args.rows, "overwrite_cache": True, "output_dir": str(out), "overwrite_output_dir": True,
        "per_device_eval_batch_size": args.lf_batch_size, "predict_with_generate": True,
        "max_new_tokens": args.max_new_tokens, "do_sample": True, "temperature": 0.95, "top_p": 0.7, "top_k": 50,
        "report_to": "none", "seed": 42, "bf16": False, "fp16": False,
    }
    cfg_path = work / "lf_predict.yaml"
    import yaml

    cfg_path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update({"PYTHONPATH": str(stubs), "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(work / "hf_cache"),
                "DISABLE_VERSION_CHECK": "1", "CUDA_VISIBLE_DEVICES": ""})
    before = load_avg()
    t0 = time.perf_counter()
    proc = subprocess.run([str(cli), "train", str(cfg_path)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"LLaMA-Factory failed: {proc.stderr[-3000:]}")
    results = json.loads((out / "predict_results.json").read_text())
    rows = sum(1 for line in (out / "generated_predictions.jsonl").read_text().splitlines() if line.strip())
    tokens = count_tokens(tokenizer, out / "generated_predictions.jsonl")
    generate_s = results["predict_runtime"]
    return {"side": "llamafactory", "rows": rows, "tokens": tokens, "wall_s": round(wall, 2),
            "generate_s": round(generate_s, 2), "rows_per_s": round(rows / generate_s, 3),
            "tokens_per_s": round(tokens / generate_s, 2), "load_before": before,
            "bleu-4": results.get("predict_bleu-4"), "batch_size": args.lf_batch_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--ft-max-batch-size", type=int, default=64)
    parser.add_argument("--lf-batch-size", type=int, default=32)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from ft_models import resolve_model_path

    model_path = resolve_model_path("smollm2-135m-instruct")
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ft-infer-bench-") as tmp:
        work = Path(tmp)
        write_data(work / "data", args.rows)
        for rep in range(args.reps):
            for side in (["ft", "llamafactory"] if args.peer else ["ft"]):
                log(f"rep {rep + 1}/{args.reps}: {side}, {args.rows} rows x {args.max_new_tokens} new tokens")
                run = run_ft(work, args, tokenizer) if side == "ft" else run_lf(work, args, tokenizer, model_path)
                run["rep"] = rep + 1
                print(json.dumps(run), flush=True)
                runs.append(run)

    def median(side: str, key: str) -> float | None:
        values = [r[key] for r in runs if r["side"] == side]
        return round(statistics.median(values), 3) if values else None

    summary: dict[str, Any] = {"rows": args.rows, "max_new_tokens": args.max_new_tokens, "reps": args.reps,
                               "runs": runs}
    for side in ("ft", "llamafactory"):
        summary[side] = {k: median(side, k) for k in ("rows_per_s", "tokens_per_s", "generate_s", "wall_s")}
    if args.peer:
        ratio = summary["ft"]["rows_per_s"] / summary["llamafactory"]["rows_per_s"]
        summary["target"] = {"name": "ft/LLaMA-Factory rows/s", "value": round(ratio, 2), "min": TARGET,
                             "pass": ratio >= TARGET,
                             "tokens_per_s_ratio": round(summary["ft"]["tokens_per_s"] /
                                                         summary["llamafactory"]["tokens_per_s"], 2),
                             "wall_ratio": round(summary["llamafactory"]["wall_s"] / summary["ft"]["wall_s"], 2)}
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
