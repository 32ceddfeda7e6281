"""Registering outputs in the save path's ``dataset_info.json`` (through ft-data's registry).

Only the named entry is added or replaced; other entries stay as they are, and the file is
rewritten atomically. ``check_registry`` reads an existing file first, so a broken registry is
reported before any output is written.

Example:
    >>> register_output("data", "perf_sft_top_5", "perf_sft_top_5.json")
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_LIGHT_NAME = "ft_router_data._ft_data_registry"


def _registry() -> ModuleType:
    """``ft_data.registry``, loaded without running ``ft_data/__init__.py`` when possible.

    Why: the package's ``__init__`` pulls in datasets and torch (seconds and hundreds of MB),
    while the registry module itself needs only ft-core and pydantic; building SFT data should
    not pay for a training stack. Falls back to the normal import.
    """
    if "ft_data.registry" in sys.modules:
        return sys.modules["ft_data.registry"]
    if _LIGHT_NAME in sys.modules:
        return sys.modules[_LIGHT_NAME]
    spec = importlib.util.find_spec("ft_data")  # finds the package without importing it
    location = Path(next(iter(spec.submodule_search_locations or ()), "")) / "registry.py" if spec else None
    if location is None or not location.is_file():
        import ft_data.registry

        return ft_data.registry
    module_spec = importlib.util.spec_from_file_location(_LIGHT_NAME, location)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[_LIGHT_NAME] = module
    module_spec.loader.exec_module(module)
    return module


def check_registry(save_path: str | Path) -> None:
    """Raise ``ConfigError`` (exit 2) when ``<save_path>/dataset_info.json`` exists but is unreadable."""
    _registry().read_registry_json(save_path)


def register_output(save_path: str | Path, dataset: str, file_name: str) -> Path:
    """Add ``{dataset: {"file_name": file_name}}`` (Alpaca defaults) to ``<save_path>/dataset_info.json``."""
    return _registry().register_datasets(save_path, {dataset: {"file_name": file_name}})
