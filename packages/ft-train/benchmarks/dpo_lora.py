"""Benchmark: DPO (LoRA) of SmolLM2-135M-Instruct on CPU, ft-train vs LLaMA-Factory 0.9.5, same run.

Config (both tools): rank 8, all linear layers, cutoff 512, batch 4, grad-accum 1, 20 steps, fp32,
pref_beta 0.1, sigmoid loss, lr 5e-5 cosine, seed 42, gradient checkpointing on (both defaults), no
saving, no eval. Data: 80 pairs written by this script from reasoning-gym's ``gsm_symbolic``
(prompt = question, chosen = the worked answer ending in the verified number, rejected = the same
answer ending in a wrong number), so 20 steps of 4 pairs consume every pair exactly once in both
tools and the token count is the same: the non-padding tokens of the 80 chosen + 80 rejected rows
as ft-data tokenizes them (LLaMA-Factory's pairwise processor cuts them the same way).

LLaMA-Factory runs from its venv (``tools/peers/setup_llamafactory.sh``; ``$PEERS`` default
``~/.cache/ft-peers``) as ``llamafactory-cli train``; ft runs ``python -m ft_train.cli train``. Each
run is one process under ``/usr/bin/time -v`` (peak RSS). Tokens/s = tokens / the Trainer's
``train_runtime``. Prints one JSON line with every run, medians and the ratios.

Usage:
    uv run python packages/ft-train/benchmarks/dpo_lora.py [--reps 1] [--steps 20]
        [--model ~/.cache/ft/models/smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# The sibling SFT benchmark's /usr/bin/time parser (this script's folder is sys.path[0] when run).
from train_lora import _peak_rss_mib

PEERS = Path(os.environ.get("PEERS", Path.home() / ".cache" / "ft-peers"))
PAIRS = 80
COMMON = {
    "stage": "dpo", "do_train": True, "finetuning_type": "lora", "lora_rank": 8, "lora_target": "all",
    "pref_beta": 0.1, "pref_loss": "sigmoid", "dataset": "bench_pairs", "template": "smollm2", "cutoff_len": 512,
    "overwrite_cache": True, "overwrite_output_dir": True, "logging_steps": 1, "save_strategy": "no",
    "plot_loss": False, "report_to": "none", "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1,
    "learning_rate": 5.0e-5, "lr_scheduler_type": "cosine", "bf16": False, "fp16": False, "seed": 42,
}


def write_pairs(root: Path) -> Path:
    """80 gsm_symbolic pairs (alpaca, ``ranking: true``) and their dataset_info.json under ``root``."""
    import reasoning_gym

    data = reasoning_gym.create_dataset("gsm_symbolic", size=PAIRS, seed=42)
    rows = []
    for entry in data:
        cot = entry["metadata"].get("answer_cot") or entry["answer"]
        head, _, _ = cot.rpartition("####")
        wrong = str(int(float(entry["answer"])) + 7) if entry["answer"].lstrip("-").replace(".", "").isdigit() \
            else entry["answer"] + "0"
        rows.append({"instruction": entry["question"], "input": "", "chosen": f"{head}#### {entry['answer']}",
                     "rejected": f"{head}#### {wrong}"})
    root.mkdir(parents=True, exist_ok=True)
    (root / "pairs.json").write_text(json.dumps(rows))
    (root / "dataset_info.json").write_text(json.dumps({"bench_pairs": {
        "file_name": "pairs.json", "ranking": True,
        "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected"}}}))
    return root


def count_tokens(model: str, data_dir: Path) -> int:
    """Non-padding tokens of every chosen and rejected row, as ft-data tokenizes them for the run."""
    from transformers import AutoTokenizer

    import ft_data
    import ft_templates

    tokenizer = AutoTokenizer.from_pretrained(model)
    template = ft_templates.prepare_template("smollm2", tokenizer)
    args = ft_data.DataArgs(dataset=["bench_pairs"], dataset_dir=str(data_dir), cutoff_len=COMMON["cutoff_len"])
    module = ft_data.get_dataset(args, stage="dpo", template=template, tokenizer=tokenizer, seed=42)
    ds = module.train_dataset
    return sum(len(r["chosen_input_ids"]) + len(r["rejected_input_ids"]) for r in ds)


def _run(cmd: list[str], work: Path, env: dict[str, str]) -> float:
    with (work / "log.txt").open("w") as log:
        proc = subprocess.run(["/usr/bin/time", "-v", "-o", str(work / "time.txt"), *cmd], stdout=log, stderr=log,
                              env=env, cwd=work)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed ({' '.join(cmd[:3])}...):\n{(work / 'log.txt').read_text()[-2000:]}")
    return _peak_rss_mib(work / "time.txt")


def run_tool(tool: str, model: str, steps: int, data_dir: Path, work: Path, tokens: int) -> dict:
    work.mkdir(parents=True)
    cfg = {**COMMON, "model_name_or_path": model, "dataset_dir": str(data_dir), "output_dir": str(work / "out"),
           "max_steps": steps}
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if tool == "ft":
        (work / "config.json").write_text(json.dumps(cfg))
        cmd = [sys.executable, "-m", "ft_train.cli", "train", str(work / "config.json")]
    else:
        import yaml

        (work / "config.yaml").write_text(yaml.safe_dump(cfg))
        env["PYTHONPATH"] = str(PEERS / "stubs")
        env.pop("VIRTUAL_ENV", None)
        env["HF_DATASETS_CACHE"] = str(work / "hfcache")
        env["DISABLE_VERSION_CHECK"] = "1"
        cmd = [str(PEERS / "lf" / "bin" / "llamafactory-cli"), "train", str(work / "config.yaml")]
    rss = _run(cmd, work, env)
    runtime = json.loads((work / "out" / "all_results.json").read_text())["train_runtime"]
    return {"tool": tool, "train_runtime_s": runtime, "tokens": tokens, "tokens_per_s": round(tokens / runtime, 2),
            "peak_rss_mib": rss, "load_avg_1m": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--model", default=str(Path.home() / ".cache/ft/models/smollm2-135m-instruct"))
    args = parser.parse_args()
    if args.steps * COMMON["per_device_train_batch_size"] != PAIRS:
        raise SystemExit(f"--steps must be {PAIRS // COMMON['per_device_train_batch_size']}: each pair once")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # both tools alike (ft's default)
    root = Path(tempfile.mkdtemp(prefix="ft-bench-dpo-"))
    data_dir = write_pairs(root / "data")
    tokens = count_tokens(args.model, data_dir)
    runs: dict[str, list[dict]] = {"ft": [], "llamafactory-0.9.5": []}
    for rep in range(args.reps):  # interleaved, so a machine changing speed shifts both alike
        for tool in runs:
            row = run_tool(tool, args.model, args.steps, data_dir, root / f"rep{rep}_{tool}", tokens)
            runs[tool].append(row)
            print(json.dumps(row), file=sys.stderr)
    med = {tool: {"tokens_per_s": statistics.median(r["tokens_per_s"] for r in rows),
                  "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in rows), "n": len(rows)}
           for tool, rows in runs.items()}
    ft, lf = med["ft"], med["llamafactory-0.9.5"]
    print(json.dumps({"benchmark": "dpo_lora_cpu", "steps": args.steps, "pairs": PAIRS, "tokens": tokens,
                      "nproc": os.cpu_count(), "medians": med,
                      "ratio_tokens_per_s": round(ft["tokens_per_s"] / lf["tokens_per_s"], 3),
                      "ratio_peak_rss": round(ft["peak_rss_mib"] / lf["peak_rss_mib"], 3),
                      "load_avg_1m_at_end": round(os.getloadavg()[0], 2), "runs": runs}))


if __name__ == "__main__":
    main()
