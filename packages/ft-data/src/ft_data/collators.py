"""Collators: lists of tokenized rows → padded torch tensors, one per stage family.

* ``sft``/``pt``: right padding (labels with IGNORE_INDEX). Neat-packed rows (attention_mask holds
  the 1-based index of each packed conversation) become either a 4-D block-diagonal causal mask
  ``(batch, 1, L, L)`` (0.0 allowed, dtype-min masked) or, for ``flash_attention_2``, one unpadded
  row per batch with ``position_ids`` restarting per conversation and no attention mask (the
  varlen path transformers takes when it sees reset positions).
* ``rm``/``dpo``/...: all chosen rows first, then all rejected rows, padded together.
* ``kto``: the target rows and the KL rows padded separately, plus ``kto_tags``.
* ``ppo``/``unsupervised``: left padding for generation.

torch is imported when a collator is built (it comes with ft-models/ft-train).

Example:
    >>> collate = make_collator("sft", tokenizer, pad_to_multiple_of=8)
    >>> batch = collate([ds[0], ds[1]])
    >>> batch["input_ids"].shape[1] % 8
    0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ft_core import ConfigError

from .processors.base import IGNORE_INDEX

COLLATORS: dict[str, type] = {}


def _register(*stages: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        for stage in stages:
            COLLATORS[stage] = cls
        return cls

    return add


def _pad(rows: list[list[int]], value: int, length: int, left: bool = False) -> Any:
    import torch

    out = torch.full((len(rows), length), value, dtype=torch.long)
    for i, row in enumerate(rows):
        if len(row):
            if left:
                out[i, length - len(row):] = torch.as_tensor(row, dtype=torch.long)
            else:
                out[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
    return out


def _length(rows: list[list[int]], multiple: int | None) -> int:
    longest = max((len(r) for r in rows), default=0)
    if multiple:
        longest = -(-longest // multiple) * multiple
    return longest


def block_diagonal_mask(index_mask: Any, dtype: Any = None) -> Any:
    """4-D additive mask from an index mask: token i sees token j iff same non-zero index and j <= i.

    Example:
        >>> block_diagonal_mask(torch.tensor([[1, 1, 2, 2, 2, 0]]))[0, 0]  # two causal blocks, pad row masked
    """
    import torch

    dtype = dtype or torch.float32
    length = index_mask.shape[-1]
    same = index_mask[:, None, :, None] == index_mask[:, None, None, :]
    real = (index_mask != 0)[:, None, :, None] & (index_mask != 0)[:, None, None, :]
    causal = torch.tril(torch.ones(length, length, dtype=torch.bool))
    allowed = same & real & causal
    return torch.where(allowed, torch.tensor(0.0, dtype=dtype), torch.tensor(torch.finfo(dtype).min, dtype=dtype))


@dataclass
class _Base:
    tokenizer: Any
    pad_to_multiple_of: int | None = None
    label_pad_token_id: int = IGNORE_INDEX
    attn_implementation: str | None = None
    neat_packing: bool = False
    dtype: Any = None

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.tokenizer.eos_token_id

    def pad_group(self, features: list[dict[str, Any]], prefix: str = "", left: bool = False) -> dict[str, Any]:
        ids = [list(f[f"{prefix}input_ids"]) for f in features]
        length = _length(ids, self.pad_to_multiple_of)
        masks = [list(f.get(f"{prefix}attention_mask") or [1] * len(i)) for f, i in zip(features, ids)]
        out = {"input_ids": _pad(ids, self.pad_id, length, left), "attention_mask": _pad(masks, 0, length, left)}
        if f"{prefix}labels" in features[0]:
            out["labels"] = _pad([list(f[f"{prefix}labels"]) for f in features], self.label_pad_token_id, length)
        if f"{prefix}position_ids" in features[0]:
            out["position_ids"] = _pad([list(f[f"{prefix}position_ids"]) for f in features], 0, length, left)
        return out


@_register("sft", "pt")
class SFTCollator(_Base):
    """Right-padded ``input_ids``/``attention_mask``/``labels`` (+ ``position_ids`` for packed rows)."""

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        if self.neat_packing and self.attn_implementation == "flash_attention_2":
            # one row holding every packed conversation; reset positions mark the boundaries
            ids = [t for f in features for t in f["input_ids"]]
            labels = [t for f in features for t in f["labels"]]
            positions = [t for f in features for t in f["position_ids"]]
            return {"input_ids": torch.tensor([ids]), "labels": torch.tensor([labels]),
                    "position_ids": torch.tensor([positions])}
        batch = self.pad_group(features)
        if self.neat_packing:
            batch["attention_mask"] = block_diagonal_mask(batch["attention_mask"], self.dtype)
        return batch


@_register("rm", "dpo", "orpo", "simpo")
class PairwiseCollator(_Base):
    """2n rows: the n chosen rows, then the n rejected rows, padded to one length."""

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        rows = [{"input_ids": f[f"{side}_input_ids"], "attention_mask": f.get(f"{side}_attention_mask"),
                 "labels": f[f"{side}_labels"]} for side in ("chosen", "rejected") for f in features]
        return self.pad_group(rows)


@_register("kto")
class KTOCollator(_Base):
    """Target rows and KL rows padded separately; ``kl_*`` keys and a bool ``kto_tags`` tensor."""

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        batch = self.pad_group(features)
        kl = self.pad_group(features, prefix="kl_")
        batch.update({f"kl_{k}": v for k, v in kl.items()})
        batch["kto_tags"] = torch.tensor([bool(f["kto_tags"]) for f in features])
        return batch


@_register("ppo", "unsupervised")
class GenerationCollator(_Base):
    """Left-padded prompts for generation; ``labels`` (reference answers) right-padded."""

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.pad_group([{"input_ids": f["input_ids"], "attention_mask": f.get("attention_mask")}
                                for f in features], left=True)
        if "labels" in features[0]:
            labels = [list(f["labels"]) for f in features]
            batch["labels"] = _pad(labels, self.label_pad_token_id, _length(labels, None))
        return batch


def make_collator(stage: str, tokenizer: Any, *, pad_to_multiple_of: int | None = None,
                  ignore_pad_token_for_loss: bool = True, neat_packing: bool = False,
                  attn_implementation: str | None = None, dtype: Any = None) -> Any:
    """The collator for ``stage`` (see the module doc); ``dtype`` is the 4-D mask's float type."""
    if stage not in COLLATORS:
        raise ConfigError(f"no collator for stage {stage!r}; use one of {', '.join(sorted(COLLATORS))}")
    label_pad = IGNORE_INDEX if ignore_pad_token_for_loss else (tokenizer.pad_token_id or 0)
    return COLLATORS[stage](tokenizer, pad_to_multiple_of, label_pad, attn_implementation, neat_packing, dtype)
