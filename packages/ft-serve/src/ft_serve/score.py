"""``ft score PREDICTIONS.jsonl``: score a predictions file, the way LLaMA-Factory's eval_bleu_rouge.py does.

* ``metric: bleu_rouge`` (default): per row BLEU-4 (characters, smoothing 3) and ROUGE-1/2/L
  (jieba words) from ``ft_data.scorers``, averaged; the averages are printed and written to
  ``predictions_score.json`` (keys ``bleu-4``, ``rouge-1``, ``rouge-2``, ``rouge-l``, percent),
  as eval_bleu_rouge.py writes them, but beside the predictions instead of the working directory.
* any task scorer of ``ft_data.scorers.SCORERS`` (``exact_match``, ``rg_verifier``, ``GSM8K``,
  ``MATH``, ``cem``, ``em_mc``, ``code_eval``): the mean score in [0, 1] and the row count. The
  reference is each row's ``label``; ``references`` (a JSON/JSONL file, one row per prediction, in
  the same order) adds what a scorer needs beyond it, e.g. the reasoning-gym entry for
  ``rg_verifier``. ``code_eval`` runs the programs in ft_core's sandbox, ``os.cpu_count()`` at
  once, and refuses where the machine has no OS sandbox unless ``allow_weak_isolation``.

Example:
    >>> run_score(Path("saves/generated_predictions.jsonl"))
    {'bleu-4': 21.3, 'rouge-1': 40.1, 'rouge-2': 18.7, 'rouge-l': 30.2}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ft_core import ConfigError, DataError, ProgressCounter, atomic_write_json

from .infer.output import read_predictions

__all__ = ["SCORE_FILE", "load_references", "run_score", "score_rows"]

SCORE_FILE = "predictions_score.json"


def load_references(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON list or JSON-lines file (``DataError`` naming the line when one is not an object)."""
    if not path.exists():
        raise DataError(f"{path}: no such references file")
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        rows = json.loads(text)
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {number} is not JSON ({exc.msg})") from exc
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise DataError(f"{path}: row {number} is not a JSON object")
    return rows


def _example(row: Mapping[str, Any], reference: Mapping[str, Any] | None) -> dict[str, Any]:
    example: dict[str, Any] = {"label": row["label"], "ground_truth": row["label"]}
    if reference is not None:
        if "source_dataset" in (reference.get("metadata") or {}):
            example["entry"] = reference  # a reasoning-gym entry itself
        else:
            example.update(reference)
    return example


def score_rows(rows: list[Mapping[str, Any]], metric: str, references: list[dict[str, Any]] | None = None,
               allow_weak_isolation: bool = False) -> list[float]:
    """The score of each row with task scorer ``metric`` (``DataError`` naming the row that cannot be scored);
    code_eval rows run in parallel sandboxes."""
    from concurrent.futures import ThreadPoolExecutor

    from ft_data.scorers import SCORERS

    scorer = SCORERS[metric]
    examples = [_example(row, references[number] if references else None) for number, row in enumerate(rows)]
    if metric == "code_eval":
        from ft_core.sandbox import SandboxLimits, choose_backend

        limits = SandboxLimits(allow_weak_isolation=allow_weak_isolation)
        choose_backend(limits)  # refuse before scoring anything where there is no OS sandbox
        for example in examples:
            example.setdefault("limits", limits)

    def one(number: int) -> float:
        try:
            return float(scorer(str(rows[number]["predict"]), examples[number]))
        except (KeyError, ValueError) as exc:
            raise DataError(f"row {number + 1}: cannot score with {metric} ({exc}); "
                            + ("give the rows' references with --references" if references is None else
                               "check that the references file holds what the scorer needs")) from exc

    if metric != "code_eval":  # the other scorers are pure Python: threads would only contend
        return [one(number) for number in range(len(rows))]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(one, range(len(rows))))


def run_score(predictions: Path, metric: str = "bleu_rouge", references: Path | None = None,
              output: Path | None = None, allow_weak_isolation: bool = False) -> dict[str, float]:
    """Score ``predictions`` and write the averages (see the module docstring); returns them."""
    from ft_data.scorers import METRIC_NAMES, SCORERS, bleu_rouge, mean_scores

    if metric != "bleu_rouge" and metric not in SCORERS:
        raise ConfigError(f"metric {metric!r} is unknown; valid: bleu_rouge, {', '.join(sorted(SCORERS))}")
    rows = read_predictions(predictions)
    if not rows:
        raise DataError(f"{predictions}: no predictions to score")
    refs = load_references(references) if references is not None else None
    if refs is not None and len(refs) != len(rows):
        raise DataError(f"{references}: {len(refs)} rows for {len(rows)} predictions; give one reference per prediction")
    output = output or predictions.with_name(SCORE_FILE)
    if metric == "bleu_rouge":
        per_row = []
        with ProgressCounter(len(rows), "scoring", unit="rows") as bar:
            for row in rows:
                per_row.append(bleu_rouge(str(row["predict"]), str(row["label"])))
                bar.advance()
        result = mean_scores(per_row, sorted(METRIC_NAMES))
    else:
        scores = score_rows(rows, metric, refs, allow_weak_isolation=allow_weak_isolation)
        result = {metric: sum(scores) / len(scores), "count": len(scores)}
    atomic_write_json(output, result, indent=4)
    return result
