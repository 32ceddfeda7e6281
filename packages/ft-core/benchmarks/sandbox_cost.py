"""Benchmark: what OS-level isolation costs per run of generated code, and a code-scoring pass.

1. Start-to-result time (ms) of one ``ft_core.sandbox.execute`` of a trivial program
   (``assert 1 + 1 == 2``), ``--runs`` times (default 50) for each backend: the new sandbox
   (``bwrap``, and ``unshare`` where it works) and the old one (``weak``: the former sandbox's
   logic, i.e. the interpreter on the host with limits, a network namespace and the audit hook;
   what ``allow_weak_isolation`` runs). Runs are interleaved (bwrap, unshare, weak, bwrap, ...)
   so that load on a shared machine hits every backend alike. Median, p10, p90, and the ratio of
   medians new / old.
2. A scoring pass: ``--programs`` (default 1,000) small MBPP-style programs (a function and its
   asserts; one in ten fails an assert) through ``run_untrusted`` with the default backend, in a
   bounded pool of ``os.cpu_count()`` threads (each run is its own process, so every core is
   busy). Wall time and programs per second; the pass counts are checked.

Prints one JSON line.

Usage:
    uv run python packages/ft-core/benchmarks/sandbox_cost.py [--runs 50] [--programs 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from ft_core.sandbox import SandboxLimits, execute, probe_isolation, run_untrusted
from ft_core.sandbox.backends import backend_unavailable

TRIVIAL = "assert 1 + 1 == 2\n"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """Median, p10 and p90 of ``samples_ms`` (milliseconds), rounded to 0.1 ms."""
    deciles = statistics.quantiles(samples_ms, n=10, method="inclusive")
    return {"median_ms": round(statistics.median(samples_ms), 1), "p10_ms": round(deciles[0], 1),
            "p90_ms": round(deciles[-1], 1), "runs": len(samples_ms)}


def start_to_result(runs: int) -> dict[str, dict[str, float]]:
    """Per backend, the time of one sandboxed run of a trivial program (interleaved runs)."""
    backends = [b for b in ("bwrap", "unshare") if not backend_unavailable(b)] + ["weak"]
    limits = SandboxLimits(timeout=30, allow_weak_isolation=True)
    samples: dict[str, list[float]] = {b: [] for b in backends}
    for backend in backends:  # one warm-up each: the seccomp filter is compiled once per process
        assert execute(TRIVIAL, limits, backend).passed
    for _ in range(runs):
        for backend in backends:
            start = time.perf_counter()
            result = execute(TRIVIAL, limits, backend)
            samples[backend].append((time.perf_counter() - start) * 1000)
            assert result.passed, (backend, result)
    return {b: percentiles(s) for b, s in samples.items()}


def program(n: int) -> tuple[str, bool]:
    """The ``n``-th small program and whether it should pass (every tenth has a wrong assert)."""
    expected = n * 3 + (1 if n % 10 == 9 else 0)
    code = (f"def f(x):\n    total = 0\n    for i in range(3):\n        total += x\n    return total\n\n"
            f"assert f({n}) == {expected}\nassert f(0) == 0\n")
    return code, n % 10 != 9


def scoring_pass(count: int) -> dict[str, float]:
    """``count`` programs through run_untrusted in a pool of os.cpu_count() threads."""
    programs = [program(n) for n in range(count)]
    workers = os.cpu_count() or 1
    limits = SandboxLimits(timeout=10)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda p: run_untrusted(p[0], limits=limits), programs))
    wall = time.perf_counter() - start
    wrong = sum(r.passed != expected for r, (_, expected) in zip(results, programs))
    if wrong:
        raise SystemExit(f"scoring pass: {wrong} programs scored wrong, e.g. "
                         f"{next(r for r, (_, e) in zip(results, programs) if r.passed != e)}")
    return {"programs": count, "workers": workers, "wall_s": round(wall, 2),
            "programs_per_s": round(count / wall, 1), "passed": sum(r.passed for r in results),
            "backend": results[0].backend}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="runs per backend for the start-to-result time")
    parser.add_argument("--programs", type=int, default=1000, help="programs in the scoring pass")
    args = parser.parse_args()
    report = probe_isolation()
    times = start_to_result(args.runs)
    new = times.get(report.backend or "weak", times["weak"])
    out = {"backend": report.backend, "seccomp": report.seccomp, "cpu_count": os.cpu_count(),
           "start_to_result": times,
           "ratio_new_over_old_median": round(new["median_ms"] / times["weak"]["median_ms"], 2),
           "scoring": scoring_pass(args.programs), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
