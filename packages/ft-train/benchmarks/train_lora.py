"""Benchmark: LoRA SFT of SmolLM2-135M-Instruct on CPU, ft-train vs LLaMA-Factory 0.9.5, same run.

Config (both tools): rank 8, all linear layers, cutoff 512, batch 4, grad-accum 1, 20 steps, fp32,
lr 1e-4 cosine, seed 42, no saving, no eval; data = the peers' 400 reasoning-gym rows
(``/tmp/peers-scripts/data``, alpaca). LLaMA-Factory runs from its own venv
(``/tmp/peers/lf``) through ``lf_train.py`` with the ``tokcount`` patch, exactly as
``/tmp/peers-scripts/bench_lf.sh`` does; ft runs ``python -m ft_train.cli train``.
Each run is one process under ``/usr/bin/time -v`` (peak RSS). Tokens/s = non-padding tokens the
training steps consumed / the Trainer's ``train_runtime`` (ft counts attention-mask positions in
``FtTrainer``; LLaMA-Factory's are counted by ``tokcount.py``; with LLaMA-Factory's plain packing
its count includes in-block padding, an upper bound).

Prints one JSON line: every run, the median per tool and variant, and ratios of medians. Usage:
    uv run python packages/ft-train/benchmarks/train_lora.py [--steps 20] [--ft-variants nopack,pack]
        [--lf-variants nopack,pack] [--lf-thp] [--reps 3] [--model /tmp/peers/smollm2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PEERS = Path(os.environ.get("PEERS_SCRIPTS", "/tmp/peers-scripts"))
LF_VENV = Path(os.environ.get("LF_VENV", "/tmp/peers/lf"))

COMMON = {
    "stage": "sft", "do_train": True, "finetuning_type": "lora", "lora_rank": 8, "lora_target": "all",
    "dataset": "rg_alpaca", "template": "smollm2", "cutoff_len": 512, "overwrite_cache": True,
    "overwrite_output_dir": True, "logging_steps": 1, "save_strategy": "no", "plot_loss": False,
    "report_to": "none", "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1,
    "learning_rate": 1.0e-4, "lr_scheduler_type": "cosine", "bf16": False, "fp16": False, "seed": 42,
}
VARIANTS = {"nopack": {"packing": False}, "pack": {"packing": True}, "neat": {"neat_packing": True}}


def _peak_rss_mib(time_file: Path) -> float:
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_file.read_text())
    return round(int(match.group(1)) / 1024, 1) if match else float("nan")


def _cpu_s(time_file: Path) -> float:
    """User + system CPU seconds of the whole process (imports and loading included)."""
    text = time_file.read_text()
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    system = re.search(r"System time \(seconds\): ([\d.]+)", text)
    return round(float(user.group(1)) + float(system.group(1)), 1) if user and system else float("nan")


def _run(cmd: list[str], workdir: Path, env: dict[str, str]) -> float:
    time_file = workdir / "time.txt"
    with (workdir / "log.txt").open("w") as log:
        proc = subprocess.run(["/usr/bin/time", "-v", "-o", str(time_file), *cmd], stdout=log, stderr=log, env=env)
    if proc.returncode != 0:
        tail = (workdir / "log.txt").read_text()[-2000:]
        raise SystemExit(f"benchmark run failed ({' '.join(cmd[:3])}...):\n{tail}")
    return _peak_rss_mib(time_file)


def run_ft(variant: str, model: str, steps: int, root: Path) -> dict:
    work = root / f"ft_{variant}"
    work.mkdir(parents=True)
    cfg = {**COMMON, **VARIANTS[variant], "model_name_or_path": model, "dataset_dir": str(PEERS / "data"),
           "output_dir": str(work / "out"), "max_steps": steps}
    (work / "config.json").write_text(json.dumps(cfg))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "FT_HOME": os.environ.get("FT_HOME", str(root / "ft_home"))}
    rss = _run([sys.executable, "-m", "ft_train.cli", "train", str(work / "config.json")], work, env)
    res = json.loads((work / "out" / "all_results.json").read_text())
    tokens = res["num_input_tokens_seen"]
    return {"tool": "ft", "variant": variant, "train_runtime_s": res["train_runtime"], "real_tokens": tokens,
            "real_tokens_per_s": round(tokens / res["train_runtime"], 2), "peak_rss_mib": rss,
            "process_cpu_s": _cpu_s(work / "time.txt"), "load_avg_1m": round(os.getloadavg()[0], 2)}


def run_lf(variant: str, model: str, steps: int, root: Path, thp: bool = False) -> dict:
    work = root / f"lf_{variant}{'_thp' if thp else ''}"
    work.mkdir(parents=True)
    cfg = {**COMMON, **VARIANTS[variant], "model_name_or_path": model, "dataset_dir": str(PEERS / "data"),
           "output_dir": str(work / "out"), "max_steps": steps}
    (work / "config.json").write_text(json.dumps(cfg))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.environ.get("STUBS", "/tmp/peers/stubs"),
           "HF_DATASETS_CACHE": str(work / "hfcache")}
    env.pop("VIRTUAL_ENV", None)
    # ft sets THP_MEM_ALLOC_ENABLE=1 for itself (ft_core.torchenv); LLaMA-Factory runs as it ships
    # unless --lf-thp asks for an extra run with the same allocator setting.
    if thp:
        env["THP_MEM_ALLOC_ENABLE"] = "1"
    else:
        env.pop("THP_MEM_ALLOC_ENABLE", None)
    rss = _run([str(LF_VENV / "bin" / "python"), str(PEERS / "lf_train.py"), str(work / "config.json"),
                str(work / "metrics.json")], work, env)
    m = json.loads((work / "metrics.json").read_text())
    runtime = m["trainer"]["train_runtime"]
    return {"tool": "llamafactory-0.9.5" + (" THP_MEM_ALLOC_ENABLE=1" if thp else ""), "variant": variant, "train_runtime_s": runtime,
            "real_tokens": m["real_tokens"], "padded_tokens": m["padded_tokens"],
            "real_tokens_per_s": round(m["real_tokens"] / runtime, 2), "peak_rss_mib": rss,
            "process_cpu_s": _cpu_s(work / "time.txt"), "load_avg_1m": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--model", default=os.environ.get("MODEL", "/tmp/peers/smollm2"))
    parser.add_argument("--ft-variants", default="nopack,pack")
    parser.add_argument("--lf-variants", default="nopack")
    parser.add_argument("--reps", type=int, default=1, help="interleaved repetitions; medians are compared")
    parser.add_argument("--lf-thp", action="store_true",
                        help="also run LLaMA-Factory without packing under ft's allocator setting (THP_MEM_ALLOC_ENABLE=1)")
    args = parser.parse_args()
    # Both tools run in the same environment: passive OpenMP waiting (ft's default, see ft_train/__init__.py)
    # unless the caller sets OMP_WAIT_POLICY; spinning threads collapse on a shared machine.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    root = Path(tempfile.mkdtemp(prefix="ft-bench-train-"))
    plan = [("ft", v) for v in filter(None, args.ft_variants.split(","))]
    plan += [("lf", v) for v in filter(None, args.lf_variants.split(","))]
    plan += [("lf-thp", "nopack")] if args.lf_thp else []
    rows = []
    runs_of: dict[tuple[str, str], list[dict]] = {step: [] for step in plan}
    # Repetitions are interleaved (ft, LLaMA-Factory, ft, ...) so that a machine getting faster or
    # slower during the run shifts both tools alike; medians per tool and variant are compared.
    for rep in range(args.reps):
        for tool, variant in plan:
            work = root / f"rep{rep}"
            if tool == "ft":
                row = run_ft(variant, args.model, args.steps, work)
            else:
                row = run_lf(variant, args.model, args.steps, work, thp=tool == "lf-thp")
            rows.append({**row, "rep": rep})
            runs_of[(tool, variant)].append(row)
            print(json.dumps(rows[-1]), file=sys.stderr)
    medians = {}
    for (tool, variant), mine in runs_of.items():
        medians[f"{tool}_{variant}"] = {
            "real_tokens_per_s": statistics.median(r["real_tokens_per_s"] for r in mine),
            "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in mine),
            "peak_rss_mib_max": max(r["peak_rss_mib"] for r in mine), "n": len(mine)}
    summary: dict = {"benchmark": "train_lora_cpu", "steps": args.steps, "model": args.model, "reps": args.reps,
                     "nproc": os.cpu_count(), "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
                     "load_avg_1m_at_end": round(os.getloadavg()[0], 2), "medians": medians, "runs": rows}
    # ft against LLaMA-Factory's run of the same variant (its no-packing run when that is the only one), medians.
    ratios = {}
    for key, ft in medians.items():
        variant = key.split("_", 1)[1]
        lf_key = f"lf_{variant}" if f"lf_{variant}" in medians else "lf_nopack"
        if key.startswith("ft_") and lf_key in medians:
            lf = medians[lf_key]
            ratios[f"{key}_vs_{lf_key}"] = {
                "tokens_per_s": round(ft["real_tokens_per_s"] / lf["real_tokens_per_s"], 3),
                "peak_rss": round(ft["peak_rss_mib"] / lf["peak_rss_mib"], 3)}
    if ratios:
        summary["ratios"] = ratios
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
