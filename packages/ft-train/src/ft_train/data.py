"""Datasets and collator of a run (delegates to ft-data), and the prompt/label split of SFT rows.

Example:
    >>> data = load_data(cfg, "sft", template, tokenizer)
    >>> data.train_dataset[0].keys()
    dict_keys(['input_ids', 'attention_mask', 'labels'])
    >>> prompt, label = split_prompt_label(row["input_ids"], row["labels"])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ft_data
from ft_data.processors import IGNORE_INDEX


@dataclass
class RunData:
    """Tokenized train/eval datasets and the collator that batches them."""

    train_dataset: Any
    eval_dataset: Any
    collator: Any


def data_args(cfg: Any) -> Any:
    """The ``ft_data.DataArgs`` part of a run config."""
    fields = ft_data.DataArgs.model_fields
    return ft_data.DataArgs(**{k: getattr(cfg, k) for k in fields if k in type(cfg).model_fields})


def _attn_implementation(cfg: Any) -> str | None:
    return {"fa2": "flash_attention_2", "fa3": "flash_attention_3"}.get(getattr(cfg, "flash_attn", "auto"))


def load_data(cfg: Any, stage: str, template: Any, tokenizer: Any) -> RunData:
    """Load, align and tokenize the configured datasets for ``stage``."""
    module = ft_data.get_dataset(data_args(cfg), stage=stage, template=template, tokenizer=tokenizer, seed=cfg.seed)
    import torch

    # Padding to a multiple of 8 helps GPU kernels; on CPU it only adds work.
    multiple = 8 if torch.cuda.is_available() else None
    collator = ft_data.make_collator(stage, tokenizer, pad_to_multiple_of=multiple, neat_packing=cfg.neat_packing,
                                     ignore_pad_token_for_loss=cfg.ignore_pad_token_for_loss,
                                     attn_implementation=_attn_implementation(cfg))
    return RunData(module.train_dataset, module.eval_dataset, collator)


def split_prompt_label(input_ids: Sequence[int], labels: Sequence[int]) -> tuple[list[int], list[int]]:
    """(prompt ids, label ids) of one single-turn SFT row: the prompt ends at the first supervised token.

    Generation prompts come from the rows the SFT processor built, so evaluation sees exactly the
    tokens training saw: no second tokenisation path that could drift.

    Example:
        >>> split_prompt_label([5, 6, 7, 8], [-100, -100, 7, 8])
        ([5, 6], [7, 8])
    """
    first = next((i for i, lab in enumerate(labels) if lab != IGNORE_INDEX), len(labels))
    return list(input_ids[:first]), [int(t) for t in labels[first:] if t != IGNORE_INDEX]
