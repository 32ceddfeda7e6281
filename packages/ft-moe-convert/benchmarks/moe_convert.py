"""Benchmark: merge and split of a synthetic multi-shard bf16 MoE checkpoint vs ``cp -r`` of the same directory.

Writes a per-expert checkpoint of ``--gb`` gigabytes (headers + bytes, no torch) under a
temporary directory in /tmp, then times, in the same run and on the same (warm) page cache:
``cp -r IN``, ``ft-moe-convert merge IN`` and ``ft-moe-convert split MERGED``, each in a child
process under ``/usr/bin/time`` for its peak RSS, each into a fresh directory (cleanup and
``sync`` untimed). Each command runs ``--repeat`` times, in rotating order, and the best time
is kept (the machine may be shared: all times are listed too). ``--rss-gb`` adds a smaller checkpoint whose peak RSS shows memory is flat.
Prints one JSON line; deletes everything it wrote.

Example:
    uv run python packages/ft-moe-convert/benchmarks/moe_convert.py --gb 4.5 --rss-gb 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ft_testing.moe import write_synthetic_moe

HIDDEN, INTER, EXPERTS = 2048, 1024, 32
LAYER_BYTES = 3 * EXPERTS * HIDDEN * INTER * 2  # bf16 expert weights of one layer (~403 MB)
CONVERTER = "from ft_moe_convert.cli import main; main()"


def timed(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds of ``cmd``, wall seconds of ``cmd`` + ``sync`` (data on disk) and peak RSS (MB).

    ``cmd`` runs as a child under /usr/bin/time; earlier writes are synced outside the timed region.
    """
    subprocess.run(["sync"], check=True)
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - start
    subprocess.run(["sync"], check=True)
    wall_sync = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {proc.stderr[-2000:]}")
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    return wall, wall_sync, rss_kb / 1024


def run_size(root: Path, gb: float, repeat: int, do_verify: bool) -> dict:
    layers = max(1, math.ceil(gb * 1e9 / LAYER_BYTES))
    src = root / f"in-{gb}gb"
    t0 = time.perf_counter()
    write_synthetic_moe(src, layers=layers, experts=EXPERTS, hidden=HIDDEN, inter=INTER, shard_bytes=10**9,
                        config={"model_type": "qwen3_moe", "num_experts": EXPERTS, "num_hidden_layers": layers})
    size = sum(p.stat().st_size for p in src.iterdir())
    print(f"wrote {size / 1e9:.2f} GB in {len(list(src.glob('*.safetensors')))} shards "
          f"({time.perf_counter() - t0:.1f}s)", file=sys.stderr)
    results: dict[str, list[tuple[float, float, float]]] = {"cp": [], "merge": [], "split": []}
    merged, back, copy = root / "merged", root / "split", root / "copy"
    commands = {
        "cp": ["cp", "-r", str(src), str(copy)],
        "merge": [sys.executable, "-c", CONVERTER, "merge", "-i", str(src), "-o", str(merged), "--max-shard-size", "2GB"],
        "split": [sys.executable, "-c", CONVERTER, "split", "-i", str(merged), "-o", str(back), "--max-shard-size", "2GB"],
    }
    for i in range(repeat):
        # cp runs first, between, or last in turn, so no command always gets the warmest page cache.
        order = [["cp", "merge", "split"], ["merge", "cp", "split"], ["merge", "split", "cp"]][i % 3]
        for name in order:
            out = {"cp": copy, "merge": merged, "split": back}[name]
            shutil.rmtree(out, ignore_errors=True)  # every command writes a fresh directory, untimed cleanup
            if name == "merge":
                shutil.rmtree(back, ignore_errors=True)
            results[name].append(timed(commands[name]))
            shutil.rmtree(copy, ignore_errors=True)  # less page-cache pressure for the next command
        print({k: [round(x, 2) for x in v[-1]] for k, v in results.items()}, file=sys.stderr)
    verified = None
    if do_verify:
        from ft_moe_convert import verify

        verified = verify(src, back).identical and verify(src, merged).identical
    for path in (src, merged, back):
        shutil.rmtree(path, ignore_errors=True)
    best = {k: min(w for w, _, _ in v) for k, v in results.items()}
    best_sync = {k: min(ws for _, ws, _ in v) for k, v in results.items()}
    return {
        "gb": round(size / 1e9, 3), "layers": layers, "experts": EXPERTS,
        "cp_s": round(best["cp"], 2), "merge_s": round(best["merge"], 2), "split_s": round(best["split"], 2),
        "merge_vs_cp": round(best["merge"] / best["cp"], 3), "split_vs_cp": round(best["split"] / best["cp"], 3),
        # Each round's own ratio (same moment, same load), then the median over rounds.
        "merge_vs_cp_paired_median": _paired(results, "merge", 0),
        "split_vs_cp_paired_median": _paired(results, "split", 0),
        # The same with the data flushed to disk (command + sync): what the disk really had to do.
        "cp_sync_s": round(best_sync["cp"], 2), "merge_sync_s": round(best_sync["merge"], 2),
        "split_sync_s": round(best_sync["split"], 2),
        "merge_vs_cp_sync": round(best_sync["merge"] / best_sync["cp"], 3),
        "split_vs_cp_sync": round(best_sync["split"] / best_sync["cp"], 3),
        "merge_vs_cp_sync_paired_median": _paired(results, "merge", 1),
        "split_vs_cp_sync_paired_median": _paired(results, "split", 1),
        "merge_peak_rss_mb": round(max(r for _, _, r in results["merge"]), 1),
        "split_peak_rss_mb": round(max(r for _, _, r in results["split"]), 1),
        "cp_peak_rss_mb": round(max(r for _, _, r in results["cp"]), 1),
        "all_s": {k: [round(w, 2) for w, _, _ in v] for k, v in results.items()},
        "all_sync_s": {k: [round(ws, 2) for _, ws, _ in v] for k, v in results.items()},
        "verified_identical": verified,
    }


def _paired(results: dict[str, list[tuple[float, float, float]]], name: str, field: int) -> float:
    ratios = [run[field] / cp[field] for run, cp in zip(results[name], results["cp"])]
    return round(statistics.median(ratios), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=4.5, help="size of the main checkpoint in GB (default 4.5)")
    parser.add_argument("--rss-gb", type=float, default=1.0, help="size of the second checkpoint (0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command; the best time is kept")
    parser.add_argument("--verify", action="store_true", help="also check split(merge(x)) == x by hash")
    parser.add_argument("--dir", default="/tmp", help="where the temporary checkpoints go (default /tmp)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ft-moe-bench-", dir=args.dir))
    try:
        main_run = run_size(root, args.gb, args.repeat, args.verify)
        small = run_size(root, args.rss_gb, 1, args.verify) if args.rss_gb > 0 else None
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out = {"bench": "moe_convert", "cpus": os.cpu_count(), "note": "machine shared with other jobs", **main_run}
    if small is not None:
        out["small"] = {k: small[k] for k in ("gb", "merge_s", "split_s", "cp_s", "merge_vs_cp", "split_vs_cp",
                                                "merge_vs_cp_sync", "split_vs_cp_sync", "merge_peak_rss_mb",
                                                "split_peak_rss_mb", "verified_identical")}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
