"""``score``: predictions (LLaMA-Factory's ``generated_predictions.jsonl``) against a test set.

Line ``i`` of the predictions file (``{"prompt", "predict", "label"}``) answers example ``i`` of
the test set's sidecar (``<name>.meta.jsonl``, written by ``test-gen``). Each prediction is
scored with its example's metric (``scorers.SCORERS``); code runs in the sandbox, in parallel.
A prediction whose scoring fails (a crash, a timeout, an unknown HumanEval id) scores 0 and is
counted under ``errors``; the reference skipped such rows instead (``skip_errors=True``).

Per task: the mean score; per domain (the paper's six): the mean over the pooled examples of
its tasks (a micro-average).

Example:
    >>> report = score_predictions("generated_predictions.jsonl", "data")
    >>> round(report.domains["math"]["score"], 3)
    0.547
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_core import BadInputError, DataError, FtError, atomic_write_json
from ft_core.sandbox import SandboxLimits, choose_backend
from ft_data.scorers import SCORERS

from .schema import DOMAINS, TASK_DOMAINS
from .testgen import META_SUFFIX


@dataclass
class ScoreReport:
    """Scores per task and per domain, with counts (``n``, ``errors``) and mismatched labels."""

    tasks: dict[str, dict[str, Any]]
    domains: dict[str, dict[str, Any]]
    overall: dict[str, Any]
    details: list[dict[str, Any]] = field(default_factory=list)
    label_mismatches: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "domains": self.domains, "overall": self.overall,
                "label_mismatches": self.label_mismatches}

    def table(self) -> str:
        """A plain-text table: one line per task, then one per domain."""
        lines = [f"{'task':<16}{'domain':<17}{'n':>6}{'errors':>8}{'score':>8}"]
        for task, row in self.tasks.items():
            lines.append(f"{task:<16}{row['domain']:<17}{row['n']:>6}{row['errors']:>8}{row['score']:>8.3f}")
        lines.append("")
        lines.append(f"{'domain':<33}{'n':>6}{'errors':>8}{'score':>8}")
        for domain, row in self.domains.items():
            value = f"{row['score']:>8.3f}" if row["score"] is not None else f"{'-':>8}"
            lines.append(f"{domain:<33}{row['n']:>6}{row['errors']:>8}{value}")
        lines.append(f"{'overall (mean of domains)':<33}{self.overall['n']:>6}{self.overall['errors']:>8}"
                     f"{self.overall['score'] if self.overall['score'] is not None else float('nan'):>8.3f}")
        return "\n".join(lines)


def _read_jsonl(path: Path, what: str) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    out = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(item, dict):
                raise DataError(f"{path}:{number}: expected a JSON object")
            out.append(item)
    if not out:
        raise DataError(f"{path}: empty file; expected one JSON object per line")
    return out


def _score_one(prediction: str, example: dict[str, Any], limits: SandboxLimits) -> tuple[float, str | None]:
    metric = example.get("metric")
    if metric not in SCORERS:
        return 0.0, f"unknown metric {metric!r}"
    try:
        return SCORERS[metric](prediction, {**example, "limits": limits}), None
    except FtError:  # the sandbox refused (no isolation here): the whole run stops, no silent zeros
        raise
    except Exception as exc:  # a broken example or prediction: counted, not fatal
        return 0.0, f"{type(exc).__name__}: {exc}"


def score_predictions(predictions: str | Path, test_dir: str | Path, *, name: str = "router_test",
                      output: str | Path | None = None, timeout: float = 3.0, memory_mb: int = 1024,
                      workers: int | None = None, skip_errors: bool = False,
                      allow_weak_isolation: bool = False) -> ScoreReport:
    """Score ``predictions`` against ``<test_dir>/<name>.meta.jsonl``; write the report to ``output``
    (JSON) when given. ``timeout`` (s) and ``memory_mb`` bound each code run; ``workers`` runs that
    many at once (default: CPU count). Code runs only in an OS sandbox (``SandboxUnavailableError``,
    exit 2, before anything is scored where there is none) unless ``allow_weak_isolation``."""
    if timeout <= 0 or memory_mb <= 0:
        raise BadInputError(f"timeout and memory_mb must be positive (got {timeout}, {memory_mb})")
    meta_path = Path(test_dir) / f"{name}{META_SUFFIX}"
    if not meta_path.is_file():
        raise DataError(f"{meta_path}: test-set sidecar not found; run `ft-router-data test-gen` to write it")
    examples = _read_jsonl(meta_path, "test-set sidecar")
    preds = _read_jsonl(Path(predictions), "predictions file")
    if len(preds) != len(examples):
        raise DataError(f"{predictions}: {len(preds)} predictions for {len(examples)} test examples in {meta_path}; "
                        "line i must answer example i")
    if any("predict" not in p for p in preds):
        line = next(i for i, p in enumerate(preds, 1) if "predict" not in p)
        raise DataError(f"{predictions}:{line}: no 'predict' key (expected LLaMA-Factory's generated_predictions.jsonl)")
    limits = SandboxLimits(timeout=timeout, memory_mb=memory_mb, allow_weak_isolation=allow_weak_isolation)
    if any(e.get("metric") == "code_eval" for e in examples):
        choose_backend(limits)  # refuse up front, with the one line saying what is missing
    jobs = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda pe: _score_one(str(pe[0]["predict"]), pe[1], limits), zip(preds, examples)))
    mismatches = sum(1 for p, e in zip(preds, examples)
                     if "label" in p and str(p["label"]).strip() != str(e.get("ground_truth", "")).strip())
    details, tasks = [], {}
    for example, (value, error) in zip(examples, results):
        details.append({"index": example.get("index"), "task_name": example.get("task_name"), "score": value,
                        "error": error})
        if error and skip_errors:
            continue
        task = str(example.get("task_name"))
        row = tasks.setdefault(task, {"domain": TASK_DOMAINS.get(task, "other"), "n": 0, "errors": 0, "sum": 0.0})
        row["n"] += 1
        row["errors"] += int(error is not None)
        row["sum"] += value
    domains: dict[str, dict[str, Any]] = {}
    for domain in [*DOMAINS, *sorted({r["domain"] for r in tasks.values()} - set(DOMAINS))]:
        members = [r for r in tasks.values() if r["domain"] == domain]
        n = sum(r["n"] for r in members)
        domains[domain] = {"n": n, "errors": sum(r["errors"] for r in members),
                           "score": (sum(r["sum"] for r in members) / n) if n else None}
    for row in tasks.values():
        row["score"] = row.pop("sum") / row["n"] if row["n"] else 0.0
    scored = [d["score"] for d in domains.values() if d["score"] is not None]
    overall = {"n": sum(d["n"] for d in domains.values()), "errors": sum(d["errors"] for d in domains.values()),
               "score": sum(scored) / len(scored) if scored else None}
    report = ScoreReport(tasks, domains, overall, details, mismatches)
    if output is not None:
        atomic_write_json(output, report.to_dict())
    return report
