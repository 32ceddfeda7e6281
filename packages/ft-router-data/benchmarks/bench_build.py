"""Benchmark: ``build`` on a FusionBench-size routing log vs the reference-style implementations.

Writes (once, cached) a synthetic log of 6,396 queries x 40 rows = 255,840 rows with realistic
text lengths (~1.4k-character responses, 768-d stringified embeddings on each block's first
row; ~730 MB), then for every setting runs, each in a fresh process:

* ``ours``: ``build_sft`` (grouping by query, one pass);
* ``ours_legacy``: ``build_sft(legacy_blocks=True)`` (fixed 40-row blocks, byte-compatible);
* ``ours_low_memory``: ``build_sft(low_memory=True)`` (two passes, only selected texts kept);
* ``reference_pandas``: the reference script's procedure (pandas read_csv, per-block copy,
  apply, sort_values, iterrows, json.dump) - see reference_impl.py;
* ``reference_python``: the same per-block loop over plain Python rows.

It reports wall time (whole process, imports included), CPU time and peak RSS per run, the
speed, CPU and memory ratios against each baseline, and whether ``ours_legacy`` wrote the same
bytes as the baselines. ``--million`` adds one-pass and low-memory builds of a 1,000,000-row
log (25,000 queries, shorter texts). Prints progress on stderr and one JSON line on stdout.

Usage:
    uv run python packages/ft-router-data/benchmarks/bench_build.py [--settings perf,judge] [--k 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMPLS = ("ours", "ours_legacy", "ours_low_memory", "reference_pandas", "reference_python")


def _peak_rss_mb() -> float:
    """Peak RSS of this process: VmHWM (reset by exec, unlike ru_maxrss, which keeps the forking
    parent's size), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _child(impl: str, setting: str, k: int, log: str, out: str) -> None:
    start = time.perf_counter()
    if impl.startswith("ours"):
        from ft_router_data import build_sft

        result = build_sft(log, out, setting=setting, k=k, legacy_blocks=impl == "ours_legacy",
                           low_memory=impl == "ours_low_memory")
        path, records = result.path, result.records
    else:
        sys.path.insert(0, str(HERE))
        import reference_impl

        text = getattr(reference_impl, impl)(log, setting, k, False)
        path = Path(out) / f"{setting}_sft_top_{k}.json"
        Path(out).mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:  # as the reference writes it
            fh.write(text)
        records = text.count('\n    "instruction": ')
    inner = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(json.dumps({"inner_s": round(inner, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
                      "records": records, "sha256": digest, "peak_rss_mb": _peak_rss_mb()}))


def _generate(path: Path, queries: int, **kwargs) -> None:
    # In a child process, so that this (parent) process stays small: a forked child starts with
    # its parent's RSS.
    start = time.perf_counter()
    tmp = path.with_suffix(".tmp.csv")
    code = ("import sys; from ft_testing.routing_logs import write_routing_log; "
            f"write_routing_log(sys.argv[1], n_queries={queries}, seed=0, **{kwargs!r})")
    subprocess.run([sys.executable, "-c", code, str(tmp)], check=True)
    os.replace(tmp, path)
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s", file=sys.stderr)


def _ensure_log(path: Path, queries: int) -> dict:
    if not path.exists():
        _generate(path, queries, text_scale=1.0, embedding_dim=768)
    return {"path": str(path), "mb": round(path.stat().st_size / 2**20, 1), "rows": queries * 40}


def _run(impl: str, setting: str, k: int, log: Path, workdir: Path, timeout: float) -> dict:
    out = workdir / impl / setting
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", impl, setting, str(k), str(log), str(out)],
                          capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{impl} {setting} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(wall, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=5, metavar=("IMPL", "SETTING", "K", "LOG", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--queries", type=int, default=6396)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--settings", default="perf,judge,hybrid,baseline")
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--log", type=Path, default=None, help="log to use (default: a cached synthetic one)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--million", action="store_true",
                        help="also build (perf) from a 1,000,000-row log with shorter texts, one pass and low-memory")
    args = parser.parse_args()
    if args.child:
        impl, setting, k, log, out = args.child
        _child(impl, setting, int(k), log, out)
        return
    impls = [i for i in args.impls.split(",") if i]
    if "reference_pandas" in impls:
        try:
            import pandas  # noqa: F401
        except ImportError:
            impls.remove("reference_pandas")
            print("pandas not installed: reference_pandas skipped", file=sys.stderr)
    cache = Path(tempfile.gettempdir()) / "ft-router-bench"
    cache.mkdir(exist_ok=True)
    log_path = args.log or cache / f"router_data_{args.queries}q_seed0.csv"
    log = _ensure_log(log_path, args.queries)
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="ft-router-bench-") as tmp:
        for setting in args.settings.split(","):
            results[setting] = {}
            for impl in impls:
                r = _run(impl, setting, args.k, log_path, Path(tmp), args.timeout)
                results[setting][impl] = r
                print(f"{setting:<9}{impl:<18}{r['wall_s']:>8.2f} s wall{r['cpu_s']:>8.2f} s cpu"
                      f"{r['peak_rss_mb']:>7.0f} MB  {r['records']} records", file=sys.stderr)
            row = results[setting]
            if "ours" in row:
                for base in ("reference_pandas", "reference_python"):
                    if base in row:
                        row[f"speedup_vs_{base}"] = round(row[base]["wall_s"] / row["ours"]["wall_s"], 2)
                        row[f"cpu_ratio_vs_{base}"] = round(row[base]["cpu_s"] / row["ours"]["cpu_s"], 2)
                        row[f"memory_ratio_vs_{base}"] = round(row[base]["peak_rss_mb"] / row["ours"]["peak_rss_mb"], 2)
                        if "ours_legacy" in row:
                            row[f"legacy_identical_to_{base}"] = row["ours_legacy"]["sha256"] == row[base]["sha256"]
        if args.million:
            big_path = cache / "router_data_25000q_short_seed0.csv"
            if not big_path.exists():
                _generate(big_path, 25000, text_scale=0.3, embedding_dim=64)
            million = {"log": {"path": str(big_path), "mb": round(big_path.stat().st_size / 2**20, 1), "rows": 1_000_000}}
            for impl in ("ours", "ours_low_memory"):
                r = _run(impl, "perf", args.k, big_path, Path(tmp), args.timeout)
                million[impl] = r
                print(f"1M rows  {impl:<18}{r['wall_s']:>8.2f} s wall{r['peak_rss_mb']:>7.0f} MB", file=sys.stderr)
            results["million_rows_perf"] = million
    summary = {"benchmark": "ft-router-data build", "log": log, "k": args.k, "cpus": os.cpu_count(),
               "load_avg_1m": round(os.getloadavg()[0], 2), "results": results}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
