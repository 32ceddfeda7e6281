"""The comparison report: ``comparison_results.json`` (seed-compatible), ``run_manifest.json``
(everything else) and the printed table.

Example:
    >>> print_table({"TIES-Magnitude": {"perplexity": 11.2, "avg_loss": 2.41, "merge_time": 3.0}})
"""

from __future__ import annotations

import math
import resource
import sys
from typing import Any

# The seed's report keys for its three methods; other methods are keyed by their own name.
SEED_KEYS = {"ties_magnitude": "TIES-Magnitude", "dare_random": "DARE-Random", "ties_sparsegpt": "TIES-SparseGPT"}


def report_key(method: str) -> str:
    return SEED_KEYS.get(method, method)


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far, GB (Linux reports KiB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb * (1 if sys.platform != "darwin" else 1 / 1024) / 1024**2, 3)


def peak_vram_gb() -> float | None:
    try:
        import torch

        return round(torch.cuda.max_memory_allocated() / 1024**3, 3) if torch.cuda.is_available() else None
    except Exception:
        return None


def _fmt(value: Any, spec: str) -> str:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return format(value, spec)
    return str(value)


def print_table(results: dict[str, dict[str, Any]], file: Any = None) -> None:
    """The seed's table: Method | Perplexity | Avg Loss | Time (s), then the best method by perplexity."""
    out = file or sys.stdout
    line = "=" * 60
    print(f"\n{line}\nMERGE COMPARISON RESULTS\n{line}", file=out)
    print(f"{'Method':<20}{'Perplexity':<12}{'Avg Loss':<12}{'Time (s)':<12}", file=out)
    print("-" * 60, file=out)
    for key, r in results.items():
        print(f"{key:<20}{_fmt(r.get('perplexity', '-'), '.4f'):<12}{_fmt(r.get('avg_loss', '-'), '.4f'):<12}"
              f"{_fmt(r.get('merge_time', '-'), '.2f'):<12}", file=out)
    scored = {k: r["perplexity"] for k, r in results.items()
              if isinstance(r.get("perplexity"), (int, float)) and math.isfinite(r["perplexity"])}
    print(line, file=out)
    if scored:
        best = min(scored, key=scored.__getitem__)
        print(f"BEST METHOD: {best} (perplexity {scored[best]:.4f})", file=out)
    per_task = {k: r["per_task"] for k, r in results.items() if r.get("per_task")}
    if per_task:
        print("\nPER-TASK RETENTION (1.0 = the fine-tune's own gain kept)", file=out)
        for key, tasks in per_task.items():
            cells = ", ".join(f"{t}: {_fmt(v.get('retention'), '.3f')}" for t, v in tasks.items())
            print(f"  {key:<18}{cells}", file=out)
