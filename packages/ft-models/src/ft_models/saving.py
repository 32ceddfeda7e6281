"""Saving adapters, including PiSSA → plain LoRA conversion (``pissa_convert``).

A PiSSA adapter is trained on a *modified* base (its top singular directions moved into the
adapter), so it does not apply to the original base. peft converts it into an ordinary LoRA of
rank 2r that does, given the adapter as it was before training. So: call
:func:`save_pissa_init` once before training, and :func:`save_adapter` with ``pissa_init_dir``
at the end.

Example:
    >>> save_pissa_init(model, "runs/sft/pissa_init")
    >>> ...  # train
    >>> save_adapter(model, "runs/sft", pissa_init_dir="runs/sft/pissa_init")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_pissa_init(model: Any, directory: str | Path, adapter_name: str = "default") -> Path:
    """Save the untrained PiSSA adapter (needed later to convert the trained one)."""
    config = model.peft_config[adapter_name]
    init = config.init_lora_weights
    # Saved as a plain LoRA config: reloading it must not run the SVD again on an already-modified base.
    config.init_lora_weights = True
    try:
        model.save_pretrained(str(directory), selected_adapters=[adapter_name])
    finally:
        config.init_lora_weights = init
    return Path(directory)


def save_adapter(model: Any, out: str | Path, *, pissa_init_dir: str | Path | None = None) -> Path:
    """Save a peft adapter; with ``pissa_init_dir``, converted into a LoRA for the original base."""
    if pissa_init_dir is None:
        model.save_pretrained(str(out))
    else:
        model.save_pretrained(str(out), path_initial_model_for_weight_conversion=str(pissa_init_dir))
    return Path(out)
