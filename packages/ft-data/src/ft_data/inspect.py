"""What the CLI shows: dataset listing, validation, preview with trained spans, length statistics.

Example:
    >>> report = validate_dataset("rg_alpaca", "docs/examples/data", stage="sft")
    >>> report.summary()
    'rg_alpaca: 250 rows, none bad'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ft_core import BadInputError, ft_home

from .args import DataArgs
from .loader import AlignedSet, align_dataset, resolve_entries
from .processors import IGNORE_INDEX, PROCESSORS, Ctx
from .registry import load_dataset_info
from .report import ValidationReport


def list_datasets(dataset_dir: str) -> list[dict[str, Any]]:
    """One dict per registry entry: name, formatting, ranking, source and whether a local file exists."""
    rows = []
    for name, entry in load_dataset_info(dataset_dir).items():
        source = entry.file_name or entry.hf_hub_url or entry.ms_hub_url or entry.om_hub_url or entry.script_url \
            or entry.cloud_file_name
        exists = (Path(dataset_dir) / str(entry.file_name)).exists() if entry.load_from == "file" else None
        rows.append({"name": name, "formatting": entry.formatting, "ranking": entry.ranking,
                     "kto": bool(entry.columns.kto_tag), "text": is_text(entry), "source": source, "load_from": entry.load_from,
                     "exists": exists})
    return rows


def default_stage(dataset: str, dataset_dir: str) -> str:
    entry = resolve_entries([dataset], dataset_dir)[0][1]
    if entry.ranking:
        return "dpo"
    if entry.columns.kto_tag:
        return "kto"
    if is_text(entry):
        return "pt"
    return "sft"


def is_text(entry: Any) -> bool:
    """Pre-training text: an alpaca entry mapping only a prompt column (e.g. ``columns: {prompt: text}``)."""
    cols = entry.columns
    return (entry.formatting == "alpaca" and "columns" in entry.model_fields_set and cols.prompt is not None
            and cols.response is None and cols.chosen is None and cols.history is None)


def align_rows(dataset: str, dataset_dir: str, stage: str | None = None) -> AlignedSet:
    """Every aligned row of ``dataset`` for ``stage`` (default: from the entry) and the report."""
    stage = stage or default_stage(dataset, dataset_dir)
    args = DataArgs(dataset=dataset, dataset_dir=dataset_dir)
    name, entry = resolve_entries([dataset], dataset_dir)[0]
    return align_dataset(name, entry, args, stage, np.random.default_rng(0))


def validate_dataset(dataset: str, dataset_dir: str, stage: str | None = None) -> ValidationReport:
    """Read and align every row of ``dataset`` for ``stage``; the report counts the bad ones."""
    return align_rows(dataset, dataset_dir, stage).report


def load_tokenizer(name_or_path: str) -> Any:
    """A tokenizer from a folder, an ft model alias already converted under ``ft_home()/models``, or a hub id."""
    from transformers import AutoTokenizer

    path = Path(name_or_path)
    if not path.exists() and (ft_home() / "models" / name_or_path).is_dir():
        path = ft_home() / "models" / name_or_path
    try:
        return AutoTokenizer.from_pretrained(str(path) if path.exists() else name_or_path)
    except Exception as exc:  # transformers raises OSError/ValueError/HF errors: one line
        raise BadInputError(f"cannot load tokenizer {name_or_path!r}: {str(exc).splitlines()[0]} "
                            "(give a model folder, or a hub id when online)") from None


def process_rows(dataset: str, dataset_dir: str, template_name: str, tokenizer: Any, stage: str,
                 n: int | None, cutoff_len: int = 2048) -> tuple[list[dict[str, Any]], dict[str, Any], Any]:
    """Aligned rows (first ``n``), their tokenized columns and the template, without caching."""
    from ft_templates import prepare_template

    template = prepare_template(template_name, tokenizer)
    args = DataArgs(dataset=dataset, dataset_dir=dataset_dir, max_samples=n, cutoff_len=cutoff_len, packing=False)
    name, entry = resolve_entries([dataset], dataset_dir)[0]
    aligned = align_dataset(name, entry, args, stage, np.random.default_rng(0))
    aligned.report.check_not_empty()
    columns = PROCESSORS[stage](aligned.rows, Ctx(template, tokenizer, args, stage))
    return aligned.rows, columns, template


def spans(ids: list[int], labels: list[int]) -> list[tuple[bool, list[int]]]:
    """Consecutive (trained?, ids) runs: a token is trained when its label is not IGNORE_INDEX."""
    out: list[tuple[bool, list[int]]] = []
    for tok, lab in zip(ids, labels):
        trained = lab != IGNORE_INDEX
        if out and out[-1][0] == trained:
            out[-1][1].append(tok)
        else:
            out.append((trained, [tok]))
    return out


def length_stats(lengths: list[int]) -> dict[str, float]:
    arr = np.asarray(lengths, dtype=float)
    if not len(arr):
        return {"rows": 0}
    return {"rows": len(arr), "min": int(arr.min()), "mean": round(float(arr.mean()), 1),
            "p50": float(np.percentile(arr, 50)), "p90": float(np.percentile(arr, 90)),
            "p99": float(np.percentile(arr, 99)), "max": int(arr.max())}


def plot_histogram(lengths: list[int], title: str, out: str | Path) -> Path:
    """A PNG histogram of ``lengths`` (needs the ``plot`` extra: matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BadInputError("--plot needs matplotlib: pip install 'ft-data[plot]'") from None
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(lengths, bins=min(50, max(5, len(set(lengths)))), color="#4c72b0")
    ax.set_xlabel("length")
    ax.set_ylabel("rows")
    ax.set_title(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
