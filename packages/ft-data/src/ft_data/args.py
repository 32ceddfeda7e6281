"""``DataArgs``: the data settings of a run, with LLaMA-Factory's ``DataArguments`` key names.

Comma-separated strings become lists (``dataset: "a,b"``), as in LLaMA-Factory's YAML files.
Unknown keys are errors (``extra="forbid"``); ``ft_core.load_config`` turns them into one line
with the closest valid key.

Example:
    >>> args = DataArgs(dataset="identity,alpaca_rg", dataset_dir="docs/examples/data", cutoff_len=512)
    >>> args.dataset
    ['identity', 'alpaca_rg']
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic

MixStrategy = Literal["concat", "interleave_under", "interleave_over", "interleave_once"]


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class DataArgs(pydantic.BaseModel):
    """Data settings; defaults are LLaMA-Factory's (``cutoff_len`` 2048, ``mix_strategy`` concat, ...)."""

    model_config = pydantic.ConfigDict(extra="forbid", validate_assignment=True)

    template: str | None = None
    dataset: list[str] | None = None
    eval_dataset: list[str] | None = None
    dataset_dir: str = "data"
    media_dir: str | None = None
    cutoff_len: int = pydantic.Field(default=2048, ge=1)
    train_on_prompt: bool = False
    mask_history: bool = False
    streaming: bool = False
    buffer_size: int = pydantic.Field(default=16384, ge=1)
    mix_strategy: MixStrategy = "concat"
    interleave_probs: list[float] | None = None
    overwrite_cache: bool = False
    preprocessing_batch_size: int = pydantic.Field(default=1000, ge=1)
    preprocessing_num_workers: int | None = None
    max_samples: int | None = pydantic.Field(default=None, ge=1)
    eval_num_beams: int | None = None
    ignore_pad_token_for_loss: bool = True
    val_size: float = pydantic.Field(default=0.0, ge=0)
    eval_on_each_dataset: bool = False
    packing: bool | None = None
    neat_packing: bool = False
    tool_format: str | None = None
    default_system: str | None = None
    enable_thinking: bool | None = True
    preserve_thinking: bool = False
    tokenized_path: str | None = None
    data_shared_file_system: bool = False
    # ft additions
    on_bad_row: Literal["skip", "error"] = "skip"
    cache_dir: str | None = None

    @pydantic.field_validator("dataset", "eval_dataset", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _split_list(value) or None

    @pydantic.field_validator("interleave_probs", mode="before")
    @classmethod
    def _probs(cls, value: Any) -> Any:
        value = _split_list(value)
        return [float(v) for v in value] if isinstance(value, list) else value

    @pydantic.model_validator(mode="after")
    def _check(self) -> DataArgs:
        if self.mask_history and self.train_on_prompt:
            raise ValueError("mask_history and train_on_prompt cannot both be true")
        if self.val_size and self.eval_dataset:
            raise ValueError("val_size and eval_dataset are mutually exclusive; set one of them")
        if self.streaming and self.val_size and float(self.val_size) != int(self.val_size):
            raise ValueError("streaming needs an integer val_size (a number of rows), got a fraction")
        if self.streaming and self.max_samples is not None:
            raise ValueError("max_samples is not supported with streaming; remove one of them")
        if self.interleave_probs is not None and self.dataset and len(self.interleave_probs) != len(self.dataset):
            raise ValueError(f"interleave_probs has {len(self.interleave_probs)} values for "
                             f"{len(self.dataset)} datasets; give one probability per dataset")
        if self.interleave_probs is not None and self.mix_strategy == "concat":
            raise ValueError("interleave_probs needs mix_strategy interleave_under, interleave_over or interleave_once")
        return self

    def packing_for(self, stage: str) -> bool:
        """Whether rows are packed: ``packing`` when set, else True for ``pt`` only; ``neat_packing`` forces it."""
        if self.neat_packing:
            return True
        return self.packing if self.packing is not None else stage == "pt"
