"""The output directory of a training run: refuse, overwrite or resume, and what goes in it.

LLaMA-Factory's rules (spec 4.7): a non-empty ``output_dir`` is resumed from its last
checkpoint when it has one (unless ``overwrite_output_dir``), refused when it holds results but
no checkpoint, and replaced when ``overwrite_output_dir: true``. Only directories that look
like a previous run are deleted by an overwrite, never an arbitrary folder.

Example:
    >>> resume = prepare_output_dir("saves/run1", overwrite=False, resume=True)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ft_core import OutputExistsError, get_logger

from .trainer import resolve_resume

_RUN_MARKERS = ("run.json", "trainer_state.json", "adapter_config.json", "config.json", "trainer_log.jsonl",
                "all_results.json")


def _looks_like_run(path: Path) -> bool:
    return any((path / m).exists() for m in _RUN_MARKERS) or any(path.glob("checkpoint-*"))


def prepare_output_dir(output_dir: str | Path, *, overwrite: bool, resume: Any, is_main: bool = True) -> str | None:
    """Make ``output_dir`` ready; returns the checkpoint to resume from (or None)."""
    path = Path(output_dir)
    log = get_logger("ft.train")
    explicit = resolve_resume(path, resume)
    if explicit is not None:
        if not Path(explicit).is_dir():
            raise OutputExistsError(f"resume_from_checkpoint: {explicit} is not a checkpoint directory")
        return explicit
    if resume is True:
        log.info("resume_from_checkpoint: true but %s has no checkpoint yet; starting from scratch", path)
    if not path.is_dir() or not any(path.iterdir()):
        return None
    if overwrite:
        if not _looks_like_run(path):
            raise OutputExistsError(f"{path}: overwrite_output_dir would delete a folder that is not a training run; "
                                    "choose another output_dir")
        if is_main:
            shutil.rmtree(path)
        return None
    last = resolve_resume(path, True)
    if last is not None:
        log.info("%s has checkpoints: resuming from %s (set overwrite_output_dir: true to start over)", path, last)
        return last
    raise OutputExistsError(f"{path}: output_dir is not empty and has no checkpoint to resume; "
                            "set overwrite_output_dir: true or choose another output_dir")
