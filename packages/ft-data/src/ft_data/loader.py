"""``get_dataset``: registry → raw rows → aligned rows → mixed/split → tokenized ``datasets.Dataset``.

Every bad row is counted in a ``ValidationReport`` per dataset (summary logged, or ``DataError``
at once with ``on_bad_row: error``); a dataset with no valid row left is an error that says why.
The tokenized result is cached (see :mod:`ft_data.cache`): a second run with the same inputs
loads it instead of preprocessing.

Example:
    >>> args = DataArgs(dataset="alpaca_rg", dataset_dir="docs/examples/data", cutoff_len=512)
    >>> module = get_dataset(args, stage="sft", template=get_template("smollm2"), tokenizer=tok)
    >>> module.train_dataset.column_names
    ['input_ids', 'attention_mask', 'labels']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ft_core import ConfigError, DataError, get_logger

from . import align as _align
from .args import DataArgs
from .cache import cache_key, cache_root, load_cached, save_cached
from .mixing import mix, resample, split
from .processors import PROCESSORS, Ctx, to_dataset
from .registry import DatasetEntry, get_dataset_entry, load_dataset_info
from .report import BadRow, ValidationReport
from .sources import RawData, local_files, read_entry
from .stages import check_stage, ranking_stages

log = get_logger("ft.data")


@dataclass
class DatasetModule:
    """The datasets of a run: ``train_dataset``, ``eval_dataset`` (a dict with ``eval_on_each_dataset``)."""

    train_dataset: Any = None
    eval_dataset: Any = None
    reports: list[ValidationReport] = field(default_factory=list)
    cache_path: Path | None = None
    from_cache: bool = False

    def __getitem__(self, key: str) -> Any:  # LLaMA-Factory's dict-style access
        return getattr(self, key)


@dataclass
class AlignedSet:
    """Aligned rows of one dataset plus where each came from (for reports of later drops)."""

    name: str
    rows: list[dict[str, Any]]
    where: list[tuple[str, int]]
    report: ValidationReport


def resolve_entries(names: list[str], dataset_dir: str) -> list[tuple[str, DatasetEntry]]:
    """Registry entries for ``names``; ``dataset_dir: ONLINE`` treats each name as a hub id (alpaca)."""
    if dataset_dir == "ONLINE":
        return [(n, DatasetEntry(hf_hub_url=n)) for n in names]
    load_dataset_info(dataset_dir)  # one clear error for a missing or broken registry
    return [(n, get_dataset_entry(n, dataset_dir)) for n in names]


def check_columns(name: str, entry: DatasetEntry, raw: RawData, stage: str) -> None:
    """A configured column that no row has is a dataset-level error naming the dataset and key."""
    if not raw.rows:
        return
    present: set[str] = set()
    for row in raw.rows[:1000]:
        present.update(row)
    for key, column in _align.required_columns(entry, stage).items():
        if column not in present and not any(column in row for row in raw.rows[1000:]):
            have = ", ".join(sorted(present)[:12])
            raise DataError(f"dataset {name!r}: column {column!r} (columns.{key}) not found; "
                            f"the rows have: {have}. Fix 'columns' in dataset_info.json")


def align_dataset(name: str, entry: DatasetEntry, args: DataArgs, stage: str,
                  rng: np.random.Generator) -> AlignedSet:
    """Read, sample and align one dataset; bad rows go to its report."""
    report = ValidationReport(name, on_bad_row=args.on_bad_row)
    if entry.ranking != (stage in ranking_stages()) and stage not in ("ppo", "unsupervised"):
        want = "a ranking dataset (ranking: true)" if stage in ranking_stages() else "a non-ranking dataset"
        raise DataError(f"dataset {name!r} cannot be used for stage {stage!r}: it needs {want}")
    raw = read_entry(name, entry, args.dataset_dir, report, streaming=False)
    file_bad = report.bad  # unreadable lines, counted while reading
    check_columns(name, entry, raw, stage)
    order = list(range(len(raw.rows)))
    if entry.num_samples is not None:
        order = resample(len(order), entry.num_samples, rng)
    if args.max_samples is not None:
        order = order[: args.max_samples]
    convert = _align.get_converter(entry, name)
    rows, where = [], []
    for i in order:
        file, number = raw.where(i)
        try:
            aligned = convert(raw.rows[i])
            check_stage(aligned, stage)
        except BadRow as bad:
            report.add(bad.reason, file, number, bad.detail)
            continue
        rows.append(aligned)
        where.append((file, number))
    report.total = len(order) + file_bad
    return AlignedSet(name, rows, where, report)


def _sources(entries: list[tuple[str, DatasetEntry]], args: DataArgs) -> tuple[list[str], list[str]]:
    files, sources = [], []
    for name, entry in entries:
        sources.append(f"{name}={entry.model_dump_json()}")
        if entry.load_from == "file" and args.dataset_dir != "ONLINE":
            files += [str(p) for p in local_files(name, entry, args.dataset_dir)]
    return files, sources


def _settings(args: DataArgs, stage: str, seed: int) -> dict[str, Any]:
    keys = ("dataset", "eval_dataset", "cutoff_len", "train_on_prompt", "mask_history", "mix_strategy",
            "interleave_probs", "max_samples", "val_size", "eval_on_each_dataset", "packing", "neat_packing",
            "on_bad_row")
    return {"stage": stage, "seed": seed, "packing_effective": args.packing_for(stage),
            **{k: getattr(args, k) for k in keys}}


def _process(sets: list[AlignedSet], pairs: list[tuple[int, int]], ctx_args: tuple) -> Any:
    """Tokenize the rows named by (set, row) ``pairs``; template errors are counted as bad rows."""
    template, tokenizer, args, stage = ctx_args
    rows = [sets[d].rows[i] for d, i in pairs]

    def on_bad(k: int, reason: str, detail: str) -> None:
        d, i = pairs[k]
        file, number = sets[d].where[i]
        sets[d].report.add(reason, file, number, detail)

    ctx = Ctx(template, tokenizer, args, stage, on_bad)
    return to_dataset(PROCESSORS[stage](rows, ctx))


def _finish_reports(sets: list[AlignedSet], show: bool) -> None:
    for s in sets:
        if show and s.report.bad:
            log.warning(s.report.summary())
            for line in s.report.details()[1:]:
                log.warning("  %s", line)
        s.report.check_not_empty()


def _resolve_template(template: Any, tokenizer: Any, args: DataArgs) -> Any:
    if isinstance(template, str) or template is None:
        from ft_templates import prepare_template

        thinking = {True: "on", False: "off", None: "mixed"}[args.enable_thinking]
        return prepare_template(template or args.template, tokenizer, tool_format=args.tool_format,
                                default_system=args.default_system, thinking=thinking,
                                preserve_thinking=args.preserve_thinking)
    return template


def _from_disk(path: Path) -> DatasetModule:
    cached = load_cached(path.name, path.parent)
    if cached is None:
        raise DataError(f"tokenized_path {path}: not a dataset saved by ft-data (no meta.json); "
                        "give an empty or new folder to save one there")
    evals = {p[len("eval_"):]: cached[p] for p in cached["meta"]["parts"] if p.startswith("eval_")}
    return DatasetModule(cached.get("train"), cached.get("eval") or evals or None, [], path, True)


def get_dataset(data_args: DataArgs, *, stage: str, template: Any, tokenizer: Any, seed: int = 42) -> DatasetModule:
    """Load, validate, align, mix, split and tokenize the datasets of ``data_args`` for ``stage``.

    ``stage`` is one of pt, sft, rm, dpo, orpo, simpo, kto, ppo; ``template`` a ft-templates
    ``Template`` (or a name, prepared with ``prepare_template``). Returns a ``DatasetModule``.

    Example:
        >>> get_dataset(DataArgs(dataset="identity", dataset_dir="docs/examples/data"),
        ...             stage="sft", template=template, tokenizer=tok).train_dataset.num_rows
        91
    """
    if stage not in PROCESSORS:
        raise ConfigError(f"unknown stage {stage!r}; use one of {', '.join(sorted(PROCESSORS))}")
    if not data_args.dataset and not data_args.eval_dataset:
        raise ConfigError("no dataset given: set dataset (names from dataset_info.json, comma-separated)")
    if data_args.tokenized_path and Path(data_args.tokenized_path).is_dir() and any(Path(data_args.tokenized_path).iterdir()):
        log.warning("loading the tokenized dataset from tokenized_path %s: the other data settings are ignored",
                    data_args.tokenized_path)
        return _from_disk(Path(data_args.tokenized_path))
    template = _resolve_template(template, tokenizer, data_args)
    if stage == "sft" and data_args.train_on_prompt and getattr(template, "efficient_eos", False):
        raise ConfigError(f"train_on_prompt cannot be used with template {getattr(template, 'name', '?')!r} "
                          "(efficient_eos); remove train_on_prompt")
    train_entries = resolve_entries(data_args.dataset or [], data_args.dataset_dir)
    eval_entries = resolve_entries(data_args.eval_dataset or [], data_args.dataset_dir)
    if data_args.streaming:
        from .streaming import get_streaming_dataset

        return get_streaming_dataset(data_args, stage, template, tokenizer, seed, train_entries, eval_entries)

    files, sources = _sources(train_entries + eval_entries, data_args)
    root = cache_root(data_args.cache_dir)
    key = cache_key(files, sources, template, tokenizer, _settings(data_args, stage, seed))
    if not data_args.overwrite_cache and not data_args.tokenized_path and (root / key / "meta.json").is_file():
        log.info("loaded the tokenized dataset from the cache %s", root / key)
        return _from_disk(root / key)

    rng = np.random.default_rng(seed)
    ctx_args = (template, tokenizer, data_args, stage)
    train_sets = [align_dataset(n, e, data_args, stage, rng) for n, e in train_entries]
    eval_sets = [align_dataset(n, e, data_args, stage, rng) for n, e in eval_entries]
    _finish_reports(train_sets + eval_sets, show=False)

    train_ds = eval_ds = None
    if train_sets:
        pairs = mix([len(s.rows) for s in train_sets], data_args.mix_strategy, data_args.interleave_probs, rng)
        train_idx, val_idx = split(len(pairs), data_args.val_size, rng)
        train_ds = _process(train_sets, [pairs[i] for i in train_idx], ctx_args)
        if val_idx:
            eval_ds = _process(train_sets, [pairs[i] for i in val_idx], ctx_args)
    if eval_sets:
        if data_args.eval_on_each_dataset:
            eval_ds = {s.name: _process([s], [(0, i) for i in range(len(s.rows))], ctx_args) for s in eval_sets}
        else:
            pairs = mix([len(s.rows) for s in eval_sets], data_args.mix_strategy, data_args.interleave_probs, rng)
            eval_ds = _process(eval_sets, pairs, ctx_args)
    _finish_reports(train_sets + eval_sets, show=True)  # with the template errors found while tokenizing
    if train_ds is not None and train_ds.num_rows == 0:
        raise DataError(f"no training row left after tokenization ({'; '.join(s.report.summary() for s in train_sets)})")

    reports = [s.report for s in train_sets + eval_sets]
    parts = {"train": train_ds}
    if isinstance(eval_ds, dict):
        parts.update({f"eval_{k}": v for k, v in eval_ds.items()})
    else:
        parts["eval"] = eval_ds
    meta = {"reports": [r.to_json() for r in reports], "stage": stage, "key": key}
    if data_args.tokenized_path:
        target = Path(data_args.tokenized_path)
        path = save_cached(target.name, target.parent, parts, meta)
        log.info("saved the tokenized dataset to %s; later runs with tokenized_path load it", path)
    else:
        path = save_cached(key, root, parts, meta)
    return DatasetModule(train_ds, eval_ds, reports, path, False)
