"""A key/value cache whose rows can join and leave between decode steps.

The generation core keeps one transformers ``DynamicCache`` for the whole running batch, rows
left-padded to a common width. ``GrowableLayer`` replaces ``DynamicLayer`` so that a decode step
writes its new keys into spare capacity instead of concatenating (``DynamicLayer.update`` copies
the whole cache every step: at 32 rows that is most of the step on CPU). ``join`` left-pads two
caches to one width and stacks them; ``select`` keeps some rows; ``trim_left`` drops columns that
are padding in every row (they pile up once long sequences finish).

Example:
    >>> cache = new_cache(model.config)
    >>> model(input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=True)
    >>> merged = join(cache_a, cache_b)   # rows of a then rows of b
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

__all__ = ["GrowableLayer", "join", "new_cache", "repeat_rows", "select", "trim_left", "width"]

_MIN_SPARE = 32  # columns reserved at each growth, so growth (a copy) happens every 32+ steps, not every step


class GrowableLayer(DynamicLayer):
    """``DynamicLayer`` with spare capacity along the sequence axis: appends are in-place writes.

    ``keys``/``values`` are views of the first ``length`` columns of the buffers.
    """

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        super().lazy_initialization(key_states, value_states)
        self._k = self._v = None
        self.length = 0

    def _set(self, k: torch.Tensor, v: torch.Tensor, spare: int = _MIN_SPARE) -> None:
        b, h, t, d = k.shape
        self._k = k.new_empty((b, h, t + max(spare, t // 2), d))
        self._v = v.new_empty((b, v.shape[1], t + max(spare, t // 2), v.shape[-1]))
        self._k[:, :, :t] = k
        self._v[:, :, :t] = v
        self.length = t
        self.keys, self.values = self._k[:, :, :t], self._v[:, :, :t]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        if self._k is None:
            self._set(key_states, value_states)
            return self.keys, self.values
        new = key_states.shape[-2]
        if self.length + new > self._k.shape[-2]:
            self._set(torch.cat([self.keys, key_states], dim=-2), torch.cat([self.values, value_states], dim=-2))
            return self.keys, self.values
        self._k[:, :, self.length:self.length + new] = key_states
        self._v[:, :, self.length:self.length + new] = value_states
        self.length += new
        self.keys, self.values = self._k[:, :, :self.length], self._v[:, :, :self.length]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length if self.is_initialized and self._k is not None else 0

    def replace(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Hold ``keys``/``values`` (``[batch, heads, length, dim]``) from now on."""
        self._set(keys, values)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.get_seq_length() > 0:
            self._set(self.keys[indices], self.values[indices])

    def batch_repeat_interleave(self, repeats: int) -> None:
        # the base class would replace keys/values but leave the buffers at the old batch size
        if self.get_seq_length() > 0:
            self._set(self.keys.repeat_interleave(repeats, dim=0), self.values.repeat_interleave(repeats, dim=0))

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove < 0 and self.get_seq_length() > 0:
            self._set(self.keys[:, :, :tokens_to_remove], self.values[:, :, :tokens_to_remove])


def new_cache(config: Any) -> DynamicCache:
    """An empty ``DynamicCache`` of ``GrowableLayer`` for a model with ``config``.

    Raises ValueError for models with layers that are not attention (state-space, linear
    attention): their state cannot be padded and joined.
    """
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    # Sliding-window layers get a full cache here and the model still builds a sliding mask
    # over it: the same result, with more memory. Other layer kinds (linear attention, SSM)
    # keep state that cannot be padded and joined.
    kinds = set(getattr(text, "layer_types", None) or ["full_attention"])
    if kinds - {"full_attention", "sliding_attention"}:
        raise ValueError(f"{type(config).__name__} has {', '.join(sorted(kinds))} layers; the batched generation "
                         "core only supports attention layers")
    n_layers = text.num_hidden_layers
    cache = DynamicCache()
    cache.layers = [GrowableLayer() for _ in range(n_layers)]
    return cache


def width(cache: DynamicCache) -> int:
    """Columns (positions, padding included) the cache holds."""
    return cache.get_seq_length()


def _layers(cache: DynamicCache) -> list[GrowableLayer]:
    return cache.layers


def _pad_left(t: torch.Tensor, cols: int) -> torch.Tensor:
    if cols == 0:
        return t
    pad = t.new_zeros((*t.shape[:2], cols, t.shape[-1]))
    return torch.cat([pad, t], dim=-2)


def join(a: DynamicCache | None, b: DynamicCache) -> DynamicCache:
    """Rows of ``a`` then rows of ``b`` in one cache, the narrower left-padded with zeros.

    ``a`` is changed in place and returned (``b`` when ``a`` is None or empty). The caller pads
    its attention masks the same way.
    """
    if a is None or width(a) == 0:
        return b
    wa, wb = width(a), width(b)
    w = max(wa, wb)
    for la, lb in zip(_layers(a), _layers(b)):
        keys = torch.cat([_pad_left(la.keys, w - wa), _pad_left(lb.keys, w - wb)], dim=0)
        values = torch.cat([_pad_left(la.values, w - wa), _pad_left(lb.values, w - wb)], dim=0)
        la.replace(keys, values)
    return a


def repeat_rows(cache: DynamicCache, rows: int, config: Any) -> DynamicCache:
    """A new cache holding ``rows`` copies of the one-row ``cache`` (a shared prompt prefix for a group)."""
    out = new_cache(config)
    for src, dst in zip(_layers(cache), _layers(out)):
        dst.lazy_initialization(src.keys, src.values)
        dst.replace(src.keys.expand(rows, -1, -1, -1), src.values.expand(rows, -1, -1, -1))
    return out


def select(cache: DynamicCache, rows: torch.Tensor) -> None:
    """Keep only ``rows`` (a 1-D index tensor) of the cache, in that order."""
    for layer in _layers(cache):
        layer.batch_select_indices(rows)


def trim_left(cache: DynamicCache, cols: int) -> None:
    """Drop the first ``cols`` columns (padding in every row)."""
    if cols <= 0:
        return
    for layer in _layers(cache):
        layer.replace(layer.keys[:, :, cols:], layer.values[:, :, cols:])
