"""Benchmark: SFT preprocessing of N three-turn sharegpt conversations, ft-data vs LLaMA-Factory.

Both sides run in fresh processes on the same data (``gen_sharegpt.py`` from the peer scripts,
seed 0), the same tokenizer (the SmolLM2 export) and template ``smollm2``, cutoff_len 2048,
nothing reused from a cache; LLaMA-Factory runs through the peer script ``lf_preprocess.py`` in
its own venv. Runs alternate (ft, LF, ft, LF, ...) so that load on a shared machine hits both.
Timed: ``get_dataset`` alone (JSON load, alignment, tokenization; for ft also writing the
cache), as in ``lf_preprocess.py``. Both sides run with their defaults: LLaMA-Factory preprocesses
in one process (``preprocessing_num_workers`` unset); ft-data forks one worker per CPU for datasets
of 8,000 rows or more (``--lf-workers N`` adds a LLaMA-Factory run with N workers for comparison).
Peak memory: the process's maximum RSS (via ``resource``), imports included (the two venvs differ:
the workspace has the CUDA build of torch, the peer venv the CPU build, so compare
``rss_before_get_dataset_mib`` too); for ft also the largest worker's peak. Prints one JSON line.

Usage:
    uv run python packages/ft-data/benchmarks/preprocess.py [--n 20000] [--reps 1]
        [--peers /tmp/peers] [--scripts /tmp/peers-scripts] [--variants plain,packing]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def ft_worker(data_dir: str, model: str, packing: bool, out: str) -> None:
    """One ft-data run in this (fresh) process; writes metrics JSON to ``out``."""
    t_start = time.perf_counter()
    import datasets  # noqa: F401  (imported before timing, as lf_preprocess.py does through llamafactory)
    from transformers import AutoTokenizer

    from ft_data import DataArgs, get_dataset
    from ft_templates import prepare_template

    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model)
    template = prepare_template("smollm2", tokenizer)
    with tempfile.TemporaryDirectory() as cache:
        args = DataArgs(dataset="sharegpt_synth", dataset_dir=data_dir, cutoff_len=2048, packing=packing,
                        overwrite_cache=True, cache_dir=cache)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t1 = time.perf_counter()
        module = get_dataset(args, stage="sft", template=template, tokenizer=tokenizer)
        t2 = time.perf_counter()
        ds = module.train_dataset
        ntok = sum(len(x) for x in ds["input_ids"])
        nlab = sum(sum(1 for t in x if t != -100) for x in ds["labels"])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    Path(out).write_text(json.dumps({"import_s": t0 - t_start, "get_dataset_s": t2 - t1, "rows_out": len(ds),
                                     "tokens_out": ntok, "label_tokens_out": nlab, "peak_rss_mib": rss,
                                     "rss_before_get_dataset_mib": rss_before,
                                     "largest_worker_peak_rss_mib": workers}))


def _lf_config(path: Path, model: str, data_dir: str, packing: bool, workers: int = 0) -> None:
    lines = [f"model_name_or_path: {model}", "stage: sft", "do_train: true", "finetuning_type: lora",
             "lora_target: all", "dataset: sharegpt_synth", f"dataset_dir: {data_dir}", "template: smollm2",
             "cutoff_len: 2048", "overwrite_cache: true", f"output_dir: {path.parent / 'out'}", "report_to: none"]
    if packing:
        lines.append("packing: true")
    if workers:
        lines.append(f"preprocessing_num_workers: {workers}")
    path.write_text("\n".join(lines) + "\n")


def run_lf(work: Path, peers: Path, scripts: Path, data_dir: str, model: str, packing: bool,
           workers: int = 0) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    cfg, metrics = work / "config.yaml", work / "metrics.json"
    _lf_config(cfg, model, data_dir, packing, workers)
    env = {**os.environ, "PYTHONPATH": str(peers / "stubs"), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(work / "hfcache")}
    # measure the child's peak RSS with a tiny wrapper so each run gets its own figure
    wrapper = ("import resource,subprocess,sys,json;"
               "r=subprocess.run(sys.argv[2:]);"
               "json.dump({'rc':r.returncode,'rss':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024},"
               "open(sys.argv[1],'w'))")
    rss_file = work / "rss.json"
    with open(work / "log.txt", "w") as log:
        subprocess.run([sys.executable, "-c", wrapper, str(rss_file), str(peers / "lf" / "bin" / "python"),
                        str(scripts / "lf_preprocess.py"), str(cfg), str(metrics)], env=env, stdout=log,
                       stderr=subprocess.STDOUT, check=False)
    rss = json.loads(rss_file.read_text())
    if rss["rc"] != 0 or not metrics.exists():
        raise SystemExit(f"LLaMA-Factory run failed; see {work / 'log.txt'}")
    out = json.loads(metrics.read_text())
    out["peak_rss_mib"] = rss["rss"]
    return out


def run_ft(work: Path, data_dir: str, model: str, packing: bool) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    out = work / "metrics.json"
    with open(work / "log.txt", "w") as log:
        subprocess.run([sys.executable, __file__, "--worker", data_dir, model, "1" if packing else "0", str(out)],
                       check=True, stdout=subprocess.DEVNULL, stderr=log)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--peers", default="/tmp/peers")
    parser.add_argument("--scripts", default="/tmp/peers-scripts")
    parser.add_argument("--variants", default="plain,packing")
    parser.add_argument("--lf-workers", type=int, default=0, help="also run LLaMA-Factory with N workers (plain)")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        data_dir, model, packing, out = args.worker
        ft_worker(data_dir, model, packing == "1", out)
        return
    peers, scripts = Path(args.peers), Path(args.scripts)
    model = str(peers / "smollm2")
    work = Path(tempfile.mkdtemp(prefix="ft-data-bench-"))
    data_dir = str(work / "data")
    subprocess.run([str(peers / "lf" / "bin" / "python"), str(scripts / "gen_sharegpt.py"), data_dir, str(args.n), "0"],
                   check=True, stdout=subprocess.DEVNULL)
    result: dict = {"benchmark": "ft-data sft preprocessing vs LLaMA-Factory 0.9.5", "n": args.n, "reps": args.reps,
                    "tokenizer": "SmolLM2 (smollm2 template)", "cutoff_len": 2048, "cpu_count": os.cpu_count(),
                    "load_avg_start": os.getloadavg()[0], "variants": {}}
    for variant in args.variants.split(","):
        packing = variant == "packing"
        runs: dict[str, list[dict]] = {"ft": [], "lf": []}
        for rep in range(args.reps):
            runs["ft"].append(run_ft(work / f"ft_{variant}_{rep}", data_dir, model, packing))
            runs["lf"].append(run_lf(work / f"lf_{variant}_{rep}", peers, scripts, data_dir, model, packing))
        summary = {}
        for side, items in runs.items():
            secs = statistics.median(r["get_dataset_s"] for r in items)
            summary[side] = {"get_dataset_s": round(secs, 3), "examples_per_s": round(args.n / secs, 1),
                             "tokens_out": items[0]["tokens_out"], "label_tokens_out": items[0]["label_tokens_out"],
                             "rows_out": items[0]["rows_out"],
                             "peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in items), 1)}
            for key in ("rss_before_get_dataset_mib", "largest_worker_peak_rss_mib"):
                if key in items[0]:
                    summary[side][key] = round(statistics.median(r[key] for r in items), 1)
        summary["throughput_ratio_ft_over_lf"] = round(summary["lf"]["get_dataset_s"] / summary["ft"]["get_dataset_s"], 2)
        result["variants"][variant] = summary
    if args.lf_workers:
        lf = run_lf(work / "lf_workers", peers, scripts, data_dir, model, False, args.lf_workers)
        ft_s = result["variants"].get("plain", {}).get("ft", {}).get("get_dataset_s")
        result["lf_plain_with_workers"] = {"workers": args.lf_workers, "get_dataset_s": round(lf["get_dataset_s"], 3),
                                           "examples_per_s": round(args.n / lf["get_dataset_s"], 1),
                                           "peak_rss_mib": lf["peak_rss_mib"],
                                           "throughput_ratio_ft_over_lf": round(lf["get_dataset_s"] / ft_s, 2)
                                           if ft_s else None}
    result["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
