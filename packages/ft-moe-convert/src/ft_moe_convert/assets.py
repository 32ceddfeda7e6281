"""Copy a checkpoint's non-weight files so the converted directory loads without manual steps.

Every regular top-level file is copied except weights and their indexes: ``config.json``,
``generation_config.json``, tokenizer files, chat templates, ``configuration_*.py`` /
``modeling_*.py`` (remote code), README and license. ``--reference-dir`` takes them from the
original base model instead of the input (dFactory's manual "copy the modeling file" step).

Example:
    >>> copy_assets(Path("base-model"), Path("out"))
    ['chat_template.jinja', 'config.json', 'generation_config.json', 'modeling_llada2_moe.py', ...]
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from ft_core import BadInputError, get_logger

log = get_logger("ft.moe_convert")

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".npz")
INDEX_SUFFIXES = (".index.json",)


def is_asset(path: Path) -> bool:
    """True for files worth copying: not weights, not shard indexes, not hidden files."""
    name = path.name
    return (path.is_file() and not name.startswith(".") and not name.endswith(WEIGHT_SUFFIXES)
            and not name.endswith(INDEX_SUFFIXES))


def list_assets(source: Path) -> list[Path]:
    """The files of ``source`` that :func:`copy_assets` copies, sorted by name."""
    if not source.is_dir():
        raise BadInputError(f"{source}: reference directory not found")
    return sorted(p for p in source.iterdir() if is_asset(p))


def copy_assets(source: Path, target: Path, set_config: Mapping[str, object] | None = None) -> list[str]:
    """Copy the asset files of ``source`` into ``target``; apply ``set_config`` to ``config.json``."""
    names = []
    for path in list_assets(source):
        shutil.copy2(path, target / path.name)
        names.append(path.name)
    if not any(n == "config.json" for n in names):
        log.warning("%s has no config.json; the output will not load in transformers without one", source)
    if set_config:
        config_path = target / "config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        config.update(set_config)
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return names


def parse_set_config(items: list[str] | None) -> dict[str, object]:
    """``["model_type=llada2_moe", "num_experts=8"]`` -> dict (values parsed as JSON when they parse)."""
    result: dict[str, object] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInputError(f"--set-config {item!r}: expected KEY=VALUE, e.g. model_type=llada2_moe")
        try:
            result[key] = json.loads(value)
        except json.JSONDecodeError:
            result[key] = value
    return result
