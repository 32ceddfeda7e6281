"""ft-testing fixtures: datasets and the real SmolLM2 tokenizer (owned by ft-data).

* ``smollm2_tokenizer`` (session): the real SmolLM2 tokenizer (from ``tiny_llama_dir()``);
  do not mutate it. ``fresh_smollm2_tokenizer`` (per test): a private copy that may be changed
  (``fix_tokenizer`` adds tokens).
* ``demo_data_dir()`` / ``demo_data`` fixture: the repository's ``docs/examples/data`` (skips the
  test when the repository is not at hand, e.g. in an installed wheel).
* ``write_dataset(dir, name, rows, **entry)``: write rows to a file (by extension: .json, .jsonl,
  .csv, .parquet, .txt) and register it in ``dir/dataset_info.json``.

Example:
    >>> def test_alpaca(tmp_path, smollm2_tokenizer):
    ...     write_dataset(tmp_path, "tiny", [{"instruction": "hi", "output": "hello"}])
"""

from __future__ import annotations

import copy
import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

__all__ = ["demo_data", "demo_data_dir", "fresh_smollm2_tokenizer", "load_smollm2_tokenizer",
           "smollm2_tokenizer", "write_dataset"]


def load_smollm2_tokenizer() -> Any:
    """The real SmolLM2 tokenizer (fast), loaded from the cached tiny Llama directory."""
    from transformers import AutoTokenizer

    from ft_testing.models import tiny_llama_dir

    return AutoTokenizer.from_pretrained(str(tiny_llama_dir()))


@pytest.fixture(scope="session")
def smollm2_tokenizer() -> Any:
    return load_smollm2_tokenizer()


@pytest.fixture
def fresh_smollm2_tokenizer(smollm2_tokenizer: Any) -> Any:
    return copy.deepcopy(smollm2_tokenizer)


def demo_data_dir() -> Path:
    """``docs/examples/data`` of the repository holding this file (skip when absent)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "docs" / "examples" / "data"
        if (candidate / "dataset_info.json").is_file():
            return candidate
    pytest.skip("docs/examples/data is not available (not running from the repository)")


@pytest.fixture
def demo_data() -> Path:
    return demo_data_dir()


def write_dataset(directory: str | Path, name: str, rows: Sequence[Any], file_name: str | None = None,
                  **entry: Any) -> Path:
    """Write ``rows`` to ``directory/file_name`` (default ``<name>.json``) and register ``name``.

    ``entry`` holds the other ``dataset_info.json`` keys (formatting, columns, ranking, ...).
    Rows are written as given, so broken rows can be written too (a str row in .jsonl is written raw).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    file_name = file_name or f"{name}.json"
    path = directory / file_name
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(json.dumps(list(rows), ensure_ascii=False), encoding="utf-8")
    elif suffix == ".jsonl":
        path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                                for r in rows), encoding="utf-8")
    elif suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif suffix == ".parquet":
        import pyarrow as pa
        from pyarrow import parquet

        parquet.write_table(pa.Table.from_pylist(list(rows)), path)
    elif suffix == ".txt":
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    else:
        raise ValueError(f"write_dataset: unsupported file type {suffix!r}")
    info_path = directory / "dataset_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    info[name] = {"file_name": file_name, **entry}
    info_path.write_text(json.dumps(info, indent=1))
    return path
