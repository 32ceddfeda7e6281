"""``streaming: true``: a ``datasets.IterableDataset`` tokenized chunk by chunk as it is iterated.

Hub datasets are streamed by ``datasets``; local files are read first (as in LLaMA-Factory).
Rows are aligned, checked and tokenized ``preprocessing_batch_size`` at a time, so nothing is
cached and the first batch is ready at once. ``val_size`` must be a row count: the first
``val_size`` rows (after a shuffle with ``buffer_size``) become the evaluation set.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ft_core import DataError, get_logger

from . import align as _align
from .args import DataArgs
from .processors import PROCESSORS, Ctx
from .registry import DatasetEntry
from .report import BadRow, ValidationReport
from .stages import check_stage

log = get_logger("ft.data")


def _rows(name: str, entry: DatasetEntry, args: DataArgs, stage: str) -> Iterator[dict[str, Any]]:
    report = ValidationReport(name, on_bad_row=args.on_bad_row)
    convert = _align.get_converter(entry, name)
    if entry.load_from == "file":
        from .sources import read_entry

        raw = read_entry(name, entry, args.dataset_dir, report)
        source = ((row, raw.where(i)) for i, row in enumerate(raw.rows))
    else:
        import datasets

        ds = datasets.load_dataset(entry.hf_hub_url, name=entry.subset, data_dir=entry.folder,
                                   split=entry.split, streaming=True)
        source = ((dict(row), (str(entry.hf_hub_url), n)) for n, row in enumerate(ds, start=1))
    good = 0
    for row, (file, number) in source:
        report.total += 1
        try:
            aligned = convert(row)
            check_stage(aligned, stage)
        except BadRow as bad:
            report.add(bad.reason, file, number, bad.detail)
            continue
        good += 1
        yield aligned
    if report.bad:
        log.warning(report.summary())
    if not good:
        report.check_not_empty()


def _tokenized(rows: Iterator[dict[str, Any]], args: DataArgs, stage: str, template: Any,
               tokenizer: Any) -> Iterator[dict[str, Any]]:
    ctx = Ctx(template, tokenizer, args, stage)
    batch: list[dict[str, Any]] = []

    def flush() -> Iterator[dict[str, Any]]:
        columns = PROCESSORS[stage](batch, ctx)
        names = list(columns)
        for values in zip(*(columns[n] for n in names)):
            yield dict(zip(names, values))
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= args.preprocessing_batch_size:
            yield from flush()
    if batch:
        yield from flush()


def get_streaming_dataset(args: DataArgs, stage: str, template: Any, tokenizer: Any, seed: int,
                          train_entries: list, eval_entries: list) -> Any:
    import datasets

    from .loader import DatasetModule

    if args.mix_strategy != "concat" and len(train_entries) > 1:
        raise DataError("streaming supports mix_strategy concat only; set mix_strategy: concat")

    def make(entries: list) -> Any:
        def gen() -> Iterator[dict[str, Any]]:
            for name, entry in entries:
                yield from _tokenized(_rows(name, entry, args, stage), args, stage, template, tokenizer)

        return datasets.IterableDataset.from_generator(gen)

    train = make(train_entries) if train_entries else None
    evaluation = make(eval_entries) if eval_entries else None
    if train is not None and args.val_size:
        train = train.shuffle(seed=seed, buffer_size=args.buffer_size)
        evaluation = train.take(int(args.val_size))
        train = train.skip(int(args.val_size))
    return DatasetModule(train, evaluation)
