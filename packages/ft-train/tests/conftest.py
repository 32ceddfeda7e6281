"""Shared fixtures of ft-train's tests: a tiny dataset directory and tiny run configs."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

# Same as `import ft_train` does, but before any test module loads torch (the machine is shared).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _rows() -> list[dict[str, str]]:
    rng = random.Random(0)
    rows = []
    for _ in range(48):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        rows.append({"instruction": f"What is {a} plus {b}?", "input": "", "output": str(a + b)})
    return rows


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``add`` (48 alpaca rows), ``add_eval`` (8 rows), ``text`` (pre-training text), and the same
    sums as ``pairs``/``pairs_eval`` (40 + 8, ``ranking: true``: right sum chosen, a wrong one
    rejected; ``pairs_sharegpt`` the 40 in sharegpt form) and ``feedback`` (48)
    (``kto_tag``: every other answer wrong)."""
    root = tmp_path_factory.mktemp("data")
    rows = _rows()
    (root / "add.json").write_text(json.dumps(rows[:40]))
    (root / "add_eval.json").write_text(json.dumps(rows[40:]))
    texts = [{"text": f"Numbers {i} and {i + 1} follow each other. " * 4} for i in range(24)]
    (root / "text.json").write_text(json.dumps(texts))
    wrong = [f"{int(r['output']) + 1 + i % 4} or so" for i, r in enumerate(rows)]
    pairs = [{"instruction": r["instruction"], "input": "", "chosen": r["output"], "rejected": w}
             for r, w in zip(rows, wrong, strict=True)]
    (root / "pairs.json").write_text(json.dumps(pairs[:40]))
    (root / "pairs_eval.json").write_text(json.dumps(pairs[40:]))
    (root / "feedback.json").write_text(json.dumps([
        {"instruction": r["instruction"], "input": "", "output": r["output"] if i % 2 == 0 else wrong[i],
         "tag": i % 2 == 0} for i, r in enumerate(rows)]))
    (root / "pairs_sharegpt.json").write_text(json.dumps([
        {"conversations": [{"from": "human", "value": r["instruction"]}], "chosen": {"from": "gpt", "value": r["output"]},
         "rejected": {"from": "gpt", "value": w}} for r, w in zip(rows[:40], wrong, strict=False)]))
    pair_columns = {"prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected"}
    feedback_columns = {"prompt": "instruction", "query": "input", "response": "output", "kto_tag": "tag"}
    info = {"add": {"file_name": "add.json"}, "add_eval": {"file_name": "add_eval.json"},
            "text": {"file_name": "text.json", "columns": {"prompt": "text"}},
            "pairs": {"file_name": "pairs.json", "ranking": True, "columns": pair_columns},
            "pairs_eval": {"file_name": "pairs_eval.json", "ranking": True, "columns": pair_columns},
            "pairs_sharegpt": {"file_name": "pairs_sharegpt.json", "formatting": "sharegpt", "ranking": True,
                               "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}},
            "feedback": {"file_name": "feedback.json", "columns": feedback_columns}}
    (root / "dataset_info.json").write_text(json.dumps(info))
    return root


@pytest.fixture
def tiny_config(tiny_llama_path: Path, data_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """A LoRA SFT config on the tiny Llama that trains in seconds."""
    return {
        "model_name_or_path": str(tiny_llama_path), "stage": "sft", "do_train": True, "finetuning_type": "lora",
        "lora_target": "all", "lora_rank": 8, "dataset": "add", "dataset_dir": str(data_dir),
        "template": "smollm2", "cutoff_len": 64, "output_dir": str(tmp_path / "out"), "logging_steps": 1,
        "save_strategy": "no", "per_device_train_batch_size": 4, "learning_rate": 5.0e-3, "max_steps": 8,
        "lr_scheduler_type": "constant", "report_to": "none", "seed": 7, "overwrite_output_dir": True,
        "disable_shuffling": False,
    }


class Helpers:
    """Small helpers shared by the tests (a fixture, because test modules cannot import conftest)."""

    @staticmethod
    def write_yaml(path: Path, cfg: dict[str, Any]) -> Path:
        """Write ``cfg`` as YAML at ``path``; returns the path."""
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    @staticmethod
    def losses(output_dir: Path) -> list[float]:
        """The logged training losses of a finished run (from trainer_state.json)."""
        state = json.loads((Path(output_dir) / "trainer_state.json").read_text())
        return [e["loss"] for e in state["log_history"] if "loss" in e]


@pytest.fixture
def helpers() -> type[Helpers]:
    """:class:`Helpers`."""
    return Helpers
