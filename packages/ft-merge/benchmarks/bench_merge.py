"""ft-merge vs mergekit 0.1.5 on three SmolLM2-135M "fine-tunes" (CPU), measured in the same run.

Cases (each a separate process under ``/usr/bin/time -v``: wall time and peak RSS):
  ties       TIES, density 0.2, weight 1, fp32           ft-merge vs mergekit
  dare_ties  DARE-TIES, density 0.5, weight 1, fp32      ft-merge vs mergekit
  seed3      ties_magnitude + dare_random + ties_sparsegpt in one pass, density 0.2, with the
             calibration cache already warm (the calibration itself is timed separately)

Inputs (paths given by --model and --variants, not built here): the fp32 SmolLM2 export and
three noisy variants (seeds 1-3, sigma 1e-3). Prints one JSON line; ratios are mergekit / ft-merge
(speed-up) and ft-merge / mergekit (RSS).

Usage:
    uv run python packages/ft-merge/benchmarks/bench_merge.py [--reps 1] [--calib-samples 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors import safe_open


def timed(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``cmd`` under /usr/bin/time -v; wall seconds and peak RSS MiB (fails loudly)."""
    tfile = log.with_suffix(".time")
    full = ["/usr/bin/time", "-v", "-o", str(tfile), *cmd]
    with log.open("w") as fh:
        rc = subprocess.run(full, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    text = tfile.read_text()
    if rc != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}... failed (rc {rc}); see {log}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)  # type: ignore[union-attr]
    parts = [float(p) for p in wall.split(":")]
    secs = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) == 3 else 0)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))  # type: ignore[union-attr]
    return {"wall_s": round(secs, 2), "rss_mib": round(rss_kb / 1024, 1)}


def mergekit_config(method: str, density: float, model: Path, variants: list[Path]) -> str:
    lines = [f"merge_method: {method}", f"base_model: {model}", "dtype: float32", "models:"]
    for v in variants:
        lines += [f"  - model: {v}", f"    parameters: {{density: {density}, weight: 1.0}}"]
    return "\n".join(lines) + "\n"


def max_diff(a: Path, b: Path) -> dict[str, float]:
    """Largest |a − b| over all tensors and the fraction of differing entries (parity check)."""
    worst, diff, total = 0.0, 0, 0
    with safe_open(a / "model.safetensors", "pt") as fa, safe_open(b / "model.safetensors", "pt") as fb:
        for k in fa.keys():  # noqa: SIM118 (safe_open has keys(), no iteration)
            x, y = fa.get_tensor(k).float(), fb.get_tensor(k).float()
            d = (x - y).abs()
            worst = max(worst, float(d.max()))
            diff += int((d > 0).sum())
            total += d.numel()
    return {"max_abs_diff": worst, "frac_differing": round(diff / total, 6)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mk-venv", default="/tmp/peers/mk")
    ap.add_argument("--model", default="/tmp/peers/smollm2")
    ap.add_argument("--variants", default="/tmp/peers/variants/v")
    ap.add_argument("--runs", default="/tmp/ft_merge_bench")
    ap.add_argument("--calib-data", default="/tmp/peers-scripts/data/rg_alpaca.json")
    ap.add_argument("--calib-samples", type=int, default=8)
    ap.add_argument("--calib-seq", type=int, default=128)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--skip-mergekit", action="store_true")
    ap.add_argument("--keep-cache", action="store_true",
                    help="reuse RUNS/cache from a previous run (skips the calibration step)")
    args = ap.parse_args()

    mk_python = Path(args.mk_venv) / "bin" / "python"
    mk_yaml = Path(args.mk_venv) / "bin" / "mergekit-yaml"
    model = Path(args.model)
    variants = [Path(f"{args.variants}{i}") for i in (1, 2, 3)]
    here = Path(__file__).resolve()
    scripts = Path(os.environ.get("PEERS_SCRIPTS", "/tmp/peers-scripts"))
    if not (variants[-1] / "model.safetensors").is_file():
        subprocess.run([str(mk_python), str(scripts / "make_variants.py"), str(model), args.variants, "3", "1e-3"],
                       check=True)
    runs = Path(args.runs)
    warm = args.keep_cache and (runs / "cache" / "hessians").is_dir()
    if runs.is_dir():
        for child in runs.iterdir():
            if not (warm and child.name == "cache"):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    runs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", FT_PLAIN_PROGRESS="1")
    ft = [sys.executable, "-m", "ft_merge", "run", "--base_model", str(model), "--finetuned_models",
          *map(str, variants), "--eval", "none", "--dtype", "float32"]
    cache = runs / "cache"
    data = ["--datasets", *[args.calib_data] * 3, "--cache_dir", str(cache),
            "--num_calibration_samples", str(args.calib_samples), "--calibration_seq_length", str(args.calib_seq)]
    t0 = time.perf_counter()
    calib: dict[str, object] = {"cached": True}
    calib_manifest: dict[str, object] = {}
    if not warm:
        calib = dict(timed([*ft, "--methods", "ties_sparsegpt", *data, "--output_dir", str(runs / "calib")],
                           runs / "calib.log", env))
        calib_manifest = json.loads((runs / "calib" / "run_manifest.json").read_text())
        shutil.rmtree(runs / "calib")

    results: dict[str, list[dict[str, float]]] = {}
    for rep in range(args.reps):
        for case, method, density in (("ties", "ties", 0.2), ("dare_ties", "dare_ties", 0.5)):
            if not args.skip_mergekit:
                d = runs / f"mk_{case}_{rep}"
                d.mkdir()
                (d / "config.yaml").write_text(mergekit_config(method, density, model, variants))
                r = timed([str(mk_yaml), str(d / "config.yaml"), str(d / "out"), "--random-seed", "42", "--quiet"],
                          d / "log.txt", env)
                results.setdefault(f"mk_{case}", []).append(r)
            out = runs / f"ft_{case}_{rep}"
            r = timed([*ft, "--methods", method, "--density", str(density), "--output_dir", str(out)],
                      runs / f"ft_{case}_{rep}.log", env)
            r["pass_s"] = json.loads((out / "run_manifest.json").read_text())["timings"][method]["pass_time"]
            results.setdefault(f"ft_{case}", []).append(r)
        out = runs / f"ft_seed3_{rep}"
        r = timed([*ft, "--methods", "ties_magnitude", "dare_random", "ties_sparsegpt", "--density", "0.2", *data,
                   "--output_dir", str(out)], runs / f"ft_seed3_{rep}.log", env)
        manifest = json.loads((out / "run_manifest.json").read_text())
        assert all(c["cache_hit"] for c in manifest["calibration"]), "calibration cache was not warm"
        r["pass_s"] = manifest["timings"]["ties_magnitude"]["pass_time"]
        results.setdefault("ft_seed3", []).append(r)

    def med(key: str, field: str) -> float:
        vals = sorted(x[field] for x in results[key])
        return vals[len(vals) // 2]

    summary: dict[str, object] = {"bench": "ft-merge vs mergekit 0.1.5, 3x SmolLM2-135M fp32, CPU",
                                  "reps": args.reps, "torch_threads_ft_merge": 1,
                                  "calibration": {**calib, "samples": args.calib_samples, "seq_len": args.calib_seq,
                                                  "time_in_process_s": calib_manifest.get("calibration_time")}}
    for case in ("ties", "dare_ties"):
        entry: dict[str, float] = {"ft_wall_s": med(f"ft_{case}", "wall_s"), "ft_pass_s": med(f"ft_{case}", "pass_s"),
                                   "ft_rss_mib": med(f"ft_{case}", "rss_mib")}
        if not args.skip_mergekit:
            entry.update({"mk_wall_s": med(f"mk_{case}", "wall_s"), "mk_rss_mib": med(f"mk_{case}", "rss_mib")})
            entry["speedup_vs_mk"] = round(entry["mk_wall_s"] / entry["ft_wall_s"], 2)
            entry["rss_ratio_vs_mk"] = round(entry["ft_rss_mib"] / entry["mk_rss_mib"], 3)
        summary[case] = entry
    seed3: dict[str, float] = {"ft_wall_s": med("ft_seed3", "wall_s"), "ft_pass_s": med("ft_seed3", "pass_s"),
                               "ft_rss_mib": med("ft_seed3", "rss_mib")}
    if not args.skip_mergekit:
        seed3["wall_ratio_vs_mk_ties"] = round(seed3["ft_wall_s"] / med("mk_ties", "wall_s"), 3)
        seed3["rss_ratio_vs_mk_ties"] = round(seed3["ft_rss_mib"] / med("mk_ties", "rss_mib"), 3)
        summary["ties_parity_vs_mk"] = max_diff(runs / "ft_ties_0" / "ties", runs / "mk_ties_0" / "out")
    summary["seed3_one_pass"] = seed3
    summary["load_avg"] = os.getloadavg()
    summary["cpu_count"] = os.cpu_count()
    summary["total_bench_s"] = round(time.perf_counter() - t0, 1)
    summary["torch"] = torch.__version__
    summary["script"] = str(here)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
