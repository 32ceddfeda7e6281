"""The ``dataset_info.json`` registry: LLaMA-Factory's dataset entries, validated.

A registry is a JSON object mapping a dataset name to an entry (``DatasetEntry``) that says
where the data is (``file_name``, a hub url, ``script_url`` or ``cloud_file_name``), its
``formatting`` (alpaca, sharegpt, openai), whether it is ``ranking`` (preference) data, and
how its columns and sharegpt tags are named. Every key LLaMA-Factory accepts is accepted;
an unknown key is an error naming the dataset, the key and the closest valid one.

Example:
    >>> entries = load_dataset_info("data")
    >>> entries["identity"].file_name
    'identity.json'
    >>> register_datasets("out", {"router_sft": {"file_name": "perf_sft_top_3.json"}})
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic

from ft_core import ConfigError, DataError, atomic_write_json, describe_validation_error

REGISTRY_FILE = "dataset_info.json"

Formatting = Literal["alpaca", "sharegpt", "openai"]


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)


class DatasetColumns(_Strict):
    """Names of the raw data's columns (value = column name in the file)."""

    prompt: str | None = None
    query: str | None = None
    response: str | None = None
    history: str | None = None
    messages: str | None = None
    system: str | None = None
    tools: str | None = None
    images: str | None = None
    videos: str | None = None
    audios: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    kto_tag: str | None = None


class DatasetTags(_Strict):
    """Keys and role names inside sharegpt messages."""

    role_tag: str = "from"
    content_tag: str = "value"
    user_tag: str = "human"
    assistant_tag: str = "gpt"
    observation_tag: str = "observation"
    function_tag: str = "function_call"
    system_tag: str = "system"


class DatasetEntry(_Strict):
    """One ``dataset_info.json`` entry (LLaMA-Factory's ``DatasetAttr`` keys)."""

    file_name: str | None = None
    hf_hub_url: str | None = None
    ms_hub_url: str | None = None
    om_hub_url: str | None = None
    script_url: str | None = None
    cloud_file_name: str | None = None
    formatting: Formatting = "alpaca"
    ranking: bool = False
    subset: str | None = None
    split: str = "train"
    folder: str | None = None
    num_samples: int | None = pydantic.Field(default=None, ge=1)
    columns: DatasetColumns = pydantic.Field(default_factory=DatasetColumns)
    tags: DatasetTags = pydantic.Field(default_factory=DatasetTags)

    @property
    def load_from(self) -> Literal["hf_hub", "ms_hub", "om_hub", "script", "cloud_file", "file"]:
        """Which source wins, in LLaMA-Factory's priority order (hub, script, cloud file, local file)."""
        if self.hf_hub_url or self.ms_hub_url or self.om_hub_url:
            if self.hf_hub_url:
                return "hf_hub"
            return "ms_hub" if self.ms_hub_url else "om_hub"
        if self.script_url:
            return "script"
        if self.cloud_file_name:
            return "cloud_file"
        return "file"

    @pydantic.model_validator(mode="after")
    def _has_source(self) -> DatasetEntry:
        if not any((self.file_name, self.hf_hub_url, self.ms_hub_url, self.om_hub_url,
                    self.script_url, self.cloud_file_name)):
            raise ValueError("needs one of file_name, hf_hub_url, ms_hub_url, om_hub_url, script_url, cloud_file_name")
        return self

    def to_json(self) -> dict[str, Any]:
        """The entry as written to ``dataset_info.json`` (defaults and empty sections left out)."""
        return self.model_dump(mode="json", exclude_defaults=True)


def parse_entry(name: str, raw: Mapping[str, Any], source: str = REGISTRY_FILE) -> DatasetEntry:
    """Validate one raw entry; errors name the file, the dataset and the key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: dataset {name!r} must be an object, got {type(raw).__name__}")
    try:
        return DatasetEntry.model_validate(dict(raw))
    except pydantic.ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, DatasetEntry, f"{source}: dataset {name!r}")) from exc


def read_registry_json(dataset_dir: str | Path) -> dict[str, Any]:
    """The raw JSON object of ``<dataset_dir>/dataset_info.json`` ({} when the file does not exist)."""
    path = Path(dataset_dir) / REGISTRY_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected an object mapping dataset names to entries")
    return data


def load_dataset_info(dataset_dir: str | Path) -> dict[str, DatasetEntry]:
    """All entries of ``<dataset_dir>/dataset_info.json``, validated (``ConfigError`` on a bad one)."""
    path = Path(dataset_dir) / REGISTRY_FILE
    if not path.is_file():
        raise DataError(f"{path}: dataset registry not found (set dataset_dir to the folder holding {REGISTRY_FILE})")
    return {name: parse_entry(name, raw, str(path)) for name, raw in read_registry_json(dataset_dir).items()}


def get_dataset_entry(name: str, dataset_dir: str | Path) -> DatasetEntry:
    """One entry by name; an unknown name is a ``DataError`` listing the closest names."""
    from ft_core import closest_keys

    entries = load_dataset_info(dataset_dir)
    if name not in entries:
        hints = closest_keys(name, entries)
        hint = f"; did you mean {' or '.join(map(repr, hints))}?" if hints else f" (it has {len(entries)} datasets)"
        raise DataError(f"{Path(dataset_dir) / REGISTRY_FILE}: undefined dataset {name!r}{hint}")
    return entries[name]


def register_datasets(dataset_dir: str | Path, entries: Mapping[str, DatasetEntry | Mapping[str, Any]]) -> Path:
    """Add or replace ``entries`` in ``<dataset_dir>/dataset_info.json`` atomically.

    Other entries stay as they were, in their order; the file is created when missing.
    """
    directory = Path(dataset_dir)
    if directory.exists() and not directory.is_dir():
        raise DataError(f"{directory}: is a file; give a directory for {REGISTRY_FILE}")
    current = read_registry_json(directory)
    for name, entry in entries.items():
        parsed = entry if isinstance(entry, DatasetEntry) else parse_entry(name, entry, "new entry")
        current[name] = parsed.to_json()
    directory.mkdir(parents=True, exist_ok=True)
    return atomic_write_json(directory / REGISTRY_FILE, current, indent=2)
