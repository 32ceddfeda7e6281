"""Registering outputs in the save path's ``dataset_info.json`` (through ft-data's registry).

Only the named entry is added or replaced; other entries stay as they are, and the file is
rewritten atomically. ``check_registry`` reads an existing file first, so a broken registry is
reported before any output is written.

Example:
    >>> register_output("data", "perf_sft_top_5", "perf_sft_top_5.json")
"""

from __future__ import annotations

from pathlib import Path


def check_registry(save_path: str | Path) -> None:
    """Raise ``ConfigError`` (exit 2) when ``<save_path>/dataset_info.json`` exists but is unreadable."""
    from ft_data.registry import read_registry_json  # lazy: keeps the CLI start-up light

    read_registry_json(save_path)


def register_output(save_path: str | Path, dataset: str, file_name: str) -> Path:
    """Add ``{dataset: {"file_name": file_name}}`` (Alpaca defaults) to ``<save_path>/dataset_info.json``."""
    from ft_data.registry import register_datasets

    return register_datasets(save_path, {dataset: {"file_name": file_name}})
