"""Read a registry entry's raw rows: local files and folders, or hub ids through ``datasets``.

Local formats: ``json`` (a list of rows, or JSON lines), ``jsonl``, ``csv``, ``parquet``,
``arrow`` and ``txt`` (one row ``{"text": line}`` per non-blank line). A folder is read as all
its files, which must share one extension (as in LLaMA-Factory). A broken JSON line is a bad
row (counted in the report), not a crash; a file that cannot be read at all is a one-line
``DataError`` naming it.

Example:
    >>> raw = read_entry("identity", entry, "docs/examples/data")
    >>> raw.rows[0]["instruction"], raw.where(0)
    ('hi', ('docs/examples/data/identity.json', 1))
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_core import DataError, UnsupportedError

from .registry import DatasetEntry
from .report import BAD_JSON, NOT_AN_OBJECT, ValidationReport

EXTENSIONS = ("json", "jsonl", "csv", "parquet", "arrow", "txt")


@dataclass
class RawData:
    """Rows as dicts, with the file and 1-based row (or line) number each came from."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    origin: list[tuple[int, int]] = field(default_factory=list)  # (index in files, row number)

    def where(self, i: int) -> tuple[str, int]:
        file_index, row = self.origin[i]
        return self.files[file_index], row

    def add(self, row: dict[str, Any], file_index: int, number: int) -> None:
        self.rows.append(row)
        self.origin.append((file_index, number))


def local_files(name: str, entry: DatasetEntry, dataset_dir: str | Path) -> list[Path]:
    """The files behind ``entry.file_name`` (a file, or a folder's files of one extension)."""
    path = Path(dataset_dir) / str(entry.file_name)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DataError(f"dataset {name!r}: folder {path} is empty")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"dataset {name!r}: {path} not found (file_name in {Path(dataset_dir) / 'dataset_info.json'})")
    exts = {_ext(p) for p in files}
    if len(exts) > 1:
        raise DataError(f"dataset {name!r}: folder {path} mixes file types {sorted(exts)}; keep one type per folder")
    ext = exts.pop()
    if ext not in EXTENSIONS:
        raise DataError(f"dataset {name!r}: {files[0]} has unsupported type {ext!r}; use one of {', '.join(EXTENSIONS)}")
    return files


def _ext(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def read_entry(name: str, entry: DatasetEntry, dataset_dir: str | Path, report: ValidationReport,
               streaming: bool = False) -> RawData:
    """All raw rows of one dataset (local or hub); unreadable rows go to ``report``."""
    if entry.load_from == "file":
        raw = RawData()
        for path in local_files(name, entry, dataset_dir):
            raw.files.append(str(path))
            _read_file(path, len(raw.files) - 1, raw, report)
        return raw
    return _read_remote(name, entry, streaming)


def _read_file(path: Path, file_index: int, raw: RawData, report: ValidationReport) -> None:
    ext = _ext(path)
    try:
        if ext in ("json", "jsonl"):
            rows = _json_rows(path, ext, file_index, report)
        elif ext == "csv":
            rows = _csv_rows(path)
        elif ext == "txt":
            rows = _text_rows(path)
        else:
            rows = _arrow_rows(path, ext)
        for number, row in rows:
            report.total += 1
            if not isinstance(row, dict):
                report.add(NOT_AN_OBJECT, str(path), number, f"row is {type(row).__name__}, expected an object")
                continue
            raw.add(row, file_index, number)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _json_rows(path: Path, ext: str, file_index: int, report: ValidationReport) -> Iterator[tuple[int, Any]]:
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if not stripped:
        raise DataError(f"{path}: the file is empty")
    if ext == "json" and stripped[0] in "[{":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if stripped[0] == "[" or "\n" not in stripped.rstrip():
                raise DataError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
            data = None  # several top-level objects: read as JSON lines below
        if isinstance(data, list):
            yield from enumerate(data, start=1)
            return
        if isinstance(data, dict):
            lists = [k for k, v in data.items() if isinstance(v, list)]
            hint = f" (the rows may be under key {lists[0]!r})" if lists else ""
            raise DataError(f"{path}: expected a JSON list of rows, got an object{hint}")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            report.total += 1
            report.add(BAD_JSON, str(path), number, f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})")


def _text_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    # Blank lines separate paragraphs; they are not rows (LLaMA-Factory keeps them as empty texts).
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
            if line.strip():
                yield number, {"text": line}


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    # Cells stay text (a numeric answer "4" is a string answer), unlike type-inferring CSV readers.
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        yield from enumerate(csv.DictReader(handle), start=1)


def _arrow_rows(path: Path, ext: str) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow as pa

    try:
        if ext == "parquet":
            from pyarrow import parquet

            table = parquet.read_table(path)
        else:
            try:
                with pa.memory_map(str(path)) as source:
                    table = pa.ipc.open_stream(source).read_all()
            except pa.ArrowInvalid:
                with pa.memory_map(str(path)) as source:
                    table = pa.ipc.open_file(source).read_all()
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{path}: cannot read as {ext}: {str(exc).splitlines()[0]}") from None
    yield from enumerate(table.to_pylist(), start=1)


def _read_remote(name: str, entry: DatasetEntry, streaming: bool) -> RawData:
    """Rows of a hub dataset (Hugging Face only) or a cloud JSON file, through ``datasets``."""
    import datasets

    if entry.load_from in ("ms_hub", "om_hub"):
        raise UnsupportedError(f"dataset {name!r}: ModelScope/Modelers hubs are not supported; give hf_hub_url")
    if entry.load_from == "script":
        raise UnsupportedError(f"dataset {name!r}: dataset scripts are not supported by datasets>=4; "
                               "convert the data to json/parquet and use file_name")
    try:
        if entry.load_from == "cloud_file":
            ds = datasets.load_dataset("json", data_files=entry.cloud_file_name, split=entry.split, streaming=streaming)
        else:
            ds = datasets.load_dataset(entry.hf_hub_url, name=entry.subset, data_dir=entry.folder, split=entry.split,
                                       streaming=streaming, token=os.environ.get("HF_TOKEN"))
    except Exception as exc:  # datasets raises many types (offline, not found, auth): one line, naming the source
        source = entry.hf_hub_url or entry.cloud_file_name
        raise DataError(f"dataset {name!r}: cannot load {source!r} from the hub: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    raw = RawData(files=[str(entry.hf_hub_url or entry.cloud_file_name)])
    for number, row in enumerate(ds, start=1):
        raw.add(dict(row), 0, number)
    return raw
