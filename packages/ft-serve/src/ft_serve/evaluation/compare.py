"""Side-by-side results of several models: the table (task x model, value ± stderr), its text for
``results.log``, the bar plot and the rows of ``results.json``.

Rows follow the harness's hierarchy (a group, then its subgroups and tasks, indented); each row is
one metric with one filter (``acc,none``). The stderr is the harness's (the standard error of the
mean for mean-aggregated metrics, pooled over subtasks for a group).

Example:
    >>> rows = comparison_rows({"base": base_results, "lora": lora_results})
    >>> rows[0].task, rows[0].metric, rows[0].scores["lora"]
    ('rg_gsm_symbolic', 'acc', (0.25, 0.0316))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ComparisonRow", "comparison_rows", "plot_comparison", "render_table", "table_text"]

_INFO_KEYS = {"alias", "name", "sample_len", "sample_count", "samples"}


@dataclass
class ComparisonRow:
    """One metric of one task: ``scores[model] = (value, stderr or None)``; ``depth`` is the nesting level."""

    task: str
    alias: str
    metric: str
    filter: str
    depth: int
    samples: int | None
    higher_is_better: bool | None
    scores: dict[str, tuple[float, float | None]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "alias": self.alias, "metric": self.metric, "filter": self.filter,
                "samples": self.samples, "higher_is_better": self.higher_is_better,
                "scores": {m: {"value": v, "stderr": s} for m, (v, s) in self.scores.items()}}


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def ordered_tasks(results: Mapping[str, Any]) -> list[tuple[str, int]]:
    """``(name, depth)`` of every task and group of one harness result, groups before their members."""
    names = list(results.get("results", {}))
    children: Mapping[str, list[str]] = results.get("group_subtasks", {}) or {}
    inner = {c for members in children.values() for c in members}
    out: list[tuple[str, int]] = []

    def visit(name: str, depth: int) -> None:
        if name in results.get("results", {}):
            out.append((name, depth))
        for child in children.get(name, []):
            visit(child, depth + 1)

    for name in [n for n in children if n not in inner] + [n for n in names if n not in inner and n not in children]:
        visit(name, 0)
    return out


def comparison_rows(results_by_model: Mapping[str, Mapping[str, Any]]) -> list[ComparisonRow]:
    """Rows of the comparison table from each model's ``simple_evaluate`` result (same tasks for all)."""
    models = list(results_by_model)
    first = results_by_model[models[0]]
    rows: list[ComparisonRow] = []
    for task, depth in ordered_tasks(first):
        metrics = first["results"][task]
        higher = (first.get("higher_is_better", {}) or {}).get(task, {})
        for key in metrics:
            if key in _INFO_KEYS or "_stderr," in key or "," not in key:
                continue
            metric, _, filt = key.partition(",")
            if _number(metrics[key]) is None:
                continue
            samples = (first.get("n-samples", {}) or {}).get(task, {}).get("effective") or metrics.get("sample_len")
            row = ComparisonRow(task, str(metrics.get("alias", task)).strip(" -"), metric, filt, depth,
                                int(samples) if samples is not None else None, higher.get(metric))
            for model in models:
                entry = results_by_model[model].get("results", {}).get(task, {})
                value = _number(entry.get(key))
                if value is not None:
                    row.scores[model] = (value, _number(entry.get(f"{metric}_stderr,{filt}")))
            rows.append(row)
    return rows


def _cell(score: tuple[float, float | None] | None) -> str:
    if score is None:
        return "-"
    value, stderr = score
    return f"{value:.4f} ± {stderr:.4f}" if stderr is not None else f"{value:.4f}"


def render_table(rows: list[ComparisonRow], models: list[str], title: str = "ft eval") -> Any:
    """A rich ``Table``: task, metric, n, then value ± stderr per model."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("task", no_wrap=True)
    table.add_column("metric")
    table.add_column("n", justify="right")
    for model in models:
        table.add_column(model, justify="right")
    for row in rows:
        metric = row.metric if row.filter == "none" else f"{row.metric} ({row.filter})"
        table.add_row("  " * row.depth + row.alias, metric, "" if row.samples is None else str(row.samples),
                      *(_cell(row.scores.get(m)) for m in models))
    return table


def table_text(rows: list[ComparisonRow], models: list[str]) -> str:
    """The table as Markdown (what ``results.log`` holds and the docs quote)."""
    head = ["task", "metric", "n", *models]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        metric = row.metric if row.filter == "none" else f"{row.metric} ({row.filter})"
        cells = ["&nbsp;&nbsp;" * row.depth + row.alias, metric, "" if row.samples is None else str(row.samples),
                 *(_cell(row.scores.get(m)) for m in models)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_comparison(rows: list[ComparisonRow], models: list[str], path: Path, title: str = "ft eval") -> Path:
    """Grouped bars (one group per task and metric, one bar per model) with stderr error bars, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.alias}\n{r.metric}" if r.filter == "none" else f"{r.alias}\n{r.metric} ({r.filter})" for r in rows]
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 + len(rows) * (0.5 + 0.35 * len(models))), 4.2))
    for i, model in enumerate(models):
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(rows))]
        values = [r.scores.get(model, (math.nan, None))[0] for r in rows]
        errors = [r.scores.get(model, (0.0, None))[1] or 0.0 for r in rows]
        ax.bar(xs, values, width, yerr=errors, capsize=3, label=model)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("score (± stderr)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
