"""LLaMA-Factory's evaluator tasks (MMLU-format folders) as lm-evaluation-harness tasks.

``task: mmlu_test`` with ``task_dir: evaluation`` names the folder ``evaluation/mmlu`` and its
``test`` split (the split is after the last ``_``; ``validation``/``val`` read ``val/``). The folder
holds ``mapping.json`` (``{subject: {"name": ..., "category": "STEM" | "Humanities" | "Social
Sciences" | "Other"}}``) and per-subject CSVs ``dev/<subject>_dev.csv`` (the few-shot examples) and
``<split>/<subject>_<split>.csv``. A CSV row is ``question, A, B, C, D, answer`` (answer a letter);
there is no header row, as in the original MMLU files, unless the first row names those
columns (then they are read by name and other columns are ignored, as C-Eval's and CMMLU's
files have them).

Each subject becomes a harness ``multiple_choice`` task (``<task>_<subject>``) whose choices are
the letters A-D: the model's log-likelihood of each letter after the prompt decides, which for
one-token letters is LLaMA-Factory's "highest logit among A/B/C/D". The prompt is LLaMA-Factory's
wording: ``lang: en`` "The following are multiple choice questions (with answers) about
{subject}." and each question as ``question\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer:`` (``zh``: its
Chinese wording), ``n_shot`` dev rows as few-shot turns. Subjects are grouped by category, and
the categories into ``<task>``; group scores are averages over questions (weighted by size), as
LLaMA-Factory's per-category and ``Average`` accuracies are.

Example:
    >>> group = legacy_group("mmlu_demo_test", "docs/examples/eval", n_shot=5, lang="en")
    >>> [g.name for g in group]
    ['mmlu_demo_test_stem', 'mmlu_demo_test_social_sciences', 'mmlu_demo_test_humanities', 'mmlu_demo_test_other']
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_core import ConfigError, DataError

__all__ = ["LegacyTask", "legacy_group", "parse_legacy_task"]

CATEGORIES = ("STEM", "Social Sciences", "Humanities", "Other")  # LLaMA-Factory's order
LETTERS = ("A", "B", "C", "D")
COLUMNS = ("question", *LETTERS, "answer")
_SPLIT_DIRS = {"test": "test", "validation": "val", "val": "val", "dev": "dev", "train": "dev"}
_PROMPTS = {
    "en": ("The following are multiple choice questions (with answers) about {subject}.\n\n", "\nAnswer:"),
    "zh": ("以下是中国关于{subject}考试的单项选择题，请选出其中的正确答案。\n\n", "\n答案："),
}


@dataclass(frozen=True)
class LegacyTask:
    """A LLaMA-Factory ``task`` resolved: the group name, its folder and split."""

    name: str
    folder: Path
    split: str


def parse_legacy_task(task: str, task_dir: str | Path) -> LegacyTask:
    """``mmlu_test`` -> folder ``task_dir/mmlu``, split ``test`` (ConfigError when it is not there)."""
    folder_name, sep, split = task.rpartition("_")
    if not sep or not folder_name or split not in _SPLIT_DIRS:
        raise ConfigError(f"task {task!r}: LLaMA-Factory's form is <folder>_<split> with split test, validation "
                          f"or val, e.g. mmlu_test")
    folder = Path(task_dir) / folder_name
    if not (folder / "mapping.json").is_file():
        raise ConfigError(f"task {task!r}: {folder / 'mapping.json'} not found; task_dir must hold the task folder "
                          f"{folder_name}/ with mapping.json, dev/ and {_SPLIT_DIRS[split]}/")
    return LegacyTask(task, folder, _SPLIT_DIRS[split])


def _read_mapping(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / "mapping.json"
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(mapping, dict) or not mapping:
        raise DataError(f"{path}: must map each subject to {{\"name\": ..., \"category\": ...}}")
    for subject, info in mapping.items():
        if not isinstance(info, dict) or "name" not in info or info.get("category") not in CATEGORIES:
            raise DataError(f"{path}: subject {subject!r} needs a name and a category, one of {', '.join(CATEGORIES)}")
    return mapping


def read_mmlu_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of one MMLU-format CSV as ``{question, A, B, C, D, answer, label}`` (DataError naming the row)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (each subject needs dev/<subject>_dev.csv and the split's CSV)")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    index: dict[str, int] | None = None
    if rows and {c.strip().lower() for c in rows[0]} >= {c.lower() for c in COLUMNS}:
        index = {c.strip().lower(): i for i, c in enumerate(rows[0])}
        rows = rows[1:]
        start = 2
    else:
        start = 1
    out = []
    for n, row in enumerate(rows, start):
        if not row or not any(cell.strip() for cell in row):
            continue
        if index is not None:
            if len(row) < len(index):
                raise DataError(f"{path}: row {n} has {len(row)} fields, the header {len(index)}")
            values = [row[index[c.lower()]] for c in COLUMNS]
        elif len(row) != len(COLUMNS):
            raise DataError(f"{path}: row {n} has {len(row)} fields; MMLU-format rows are question,A,B,C,D,answer "
                            "(no header, or a header row naming those columns)")
        else:
            values = row
        record = dict(zip(COLUMNS, values, strict=True))
        answer = record["answer"].strip().upper()
        if answer not in LETTERS:
            raise DataError(f"{path}: row {n}: answer {record['answer']!r} is not one of A, B, C, D")
        record["answer"] = answer
        record["label"] = LETTERS.index(answer)
        out.append(record)
    if not out:
        raise DataError(f"{path}: no rows")
    return out


def _doc_to_text(answer_word: str) -> Callable[[dict[str, Any]], str]:
    def doc_to_text(doc: dict[str, Any]) -> str:
        choices = "".join(f"\n{letter}. {doc[letter]}" for letter in LETTERS)
        return f"{doc['question']}{choices}{answer_word}"

    return doc_to_text


def _dataset(dev: list[dict[str, Any]], test: list[dict[str, Any]]) -> Callable[..., Any]:
    def load(**_: Any) -> Any:
        import datasets

        return datasets.DatasetDict({"dev": datasets.Dataset.from_list(dev), "test": datasets.Dataset.from_list(test)})

    return load


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def subject_task_configs(legacy: LegacyTask, n_shot: int, lang: str) -> dict[str, list[dict[str, Any]]]:
    """Category -> the harness task configs (dicts) of its subjects, data read and checked now."""
    description, answer_word = _PROMPTS[lang]
    mapping = _read_mapping(legacy.folder)
    by_category: dict[str, list[dict[str, Any]]] = {c: [] for c in CATEGORIES}
    for subject in sorted(mapping):
        info = mapping[subject]
        dev = read_mmlu_csv(legacy.folder / "dev" / f"{subject}_dev.csv")
        test = read_mmlu_csv(legacy.folder / legacy.split / f"{subject}_{legacy.split}.csv")
        by_category[info["category"]].append({
            "task": f"{legacy.name}_{_slug(subject)}",
            "task_alias": info["name"],
            "custom_dataset": _dataset(dev, test),
            "test_split": "test",
            "fewshot_split": "dev",
            "output_type": "multiple_choice",
            "description": description.format(subject=info["name"]),
            "doc_to_text": _doc_to_text(answer_word),
            "doc_to_choice": list(LETTERS),
            "doc_to_target": "label",
            "num_fewshot": min(n_shot, len(dev)),
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
            "metadata": {"version": 1.0, "source": str(legacy.folder), "subject": subject,
                         "category": info["category"]},
        })
    return {c: tasks for c, tasks in by_category.items() if tasks}


def legacy_group(task: str, task_dir: str | Path, n_shot: int = 5, lang: str = "en") -> Any:
    """The harness ``Group`` of a LLaMA-Factory task: categories, each with its subject tasks.

    Built anew on each call (a harness task keeps per-run state), reading and checking the CSVs.
    """
    from lm_eval.api.group import Group
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.config.group import AggMetricConfig

    legacy = parse_legacy_task(task, task_dir)

    def acc() -> list[AggMetricConfig]:
        return [AggMetricConfig(metric="acc", filter_list=["none"], aggregation="mean", weight_by_size=True)]

    top = Group(name=legacy.name, alias=legacy.name, aggregate_metric_list=acc(), metadata={"version": 1.0})
    for category, configs in subject_task_configs(legacy, n_shot, lang).items():
        group = Group(name=f"{legacy.name}_{_slug(category)}", alias=category, aggregate_metric_list=acc(),
                      metadata={"version": 1.0})
        for config in configs:
            try:
                group.add(ConfigurableTask(config=config))
            except (KeyError, ValueError, TypeError) as exc:
                raise DataError(f"{legacy.folder}: subject task {config['task']}: {exc}") from exc
        top.add(group)
    return top
