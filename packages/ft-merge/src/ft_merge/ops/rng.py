"""Reproducible random masks: a stream per (run seed, model index, tensor name), drawn per chunk.

The 64-bit key is blake2b of ``(seed, model_index, name)``; chunk c of the flattened tensor
(elements ``[c·CHUNK, (c+1)·CHUNK)``) draws from PCG64 seeded with ``(key, c)``. So a mask does
not depend on processing order, device or which method asks for it, and a chunk can be drawn
when it is needed instead of holding a tensor-sized mask. Bernoulli draws compare 16-bit
uniforms with round(p·2¹⁶): PCG64 bytes are ~20x faster than torch's CPU mt19937, and 2⁻¹⁶ is
far below any density anyone sets.

Example:
    >>> stream = mask_generator(0, 1, "model.layers.0.mlp.up_proj.weight")
    >>> stream.uniform16(0, 4).shape
    (4,)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from .keep import CHUNK

U16 = 1 << 16


@dataclass(frozen=True)
class MaskStream:
    """The random stream of one (seed, model, tensor)."""

    key: int

    def uniform16(self, s: int, e: int) -> np.ndarray:
        """Uniform uint16 values for flat elements ``[s, e)`` (``s`` on a chunk boundary or inside one chunk)."""
        out = np.empty(e - s, dtype=np.uint16)
        pos = s
        while pos < e:
            c = pos // CHUNK
            c_end = min(e, (c + 1) * CHUNK)
            gen = np.random.Generator(np.random.PCG64([self.key, c]))
            block = np.frombuffer(gen.bytes(2 * (c_end - c * CHUNK)), dtype=np.uint16)
            out[pos - s:c_end - s] = block[pos - c * CHUNK:]
            pos = c_end
        return out

    def multiplier(self, s: int, e: int, density: float, scale: float) -> torch.Tensor:
        """float32 ``scale`` where the Bernoulli(density) draw keeps, 0 elsewhere, for ``[s, e)``."""
        keep = self.uniform16(s, e) < min(round(density * U16), U16)
        mult = keep.astype(np.float32)
        if scale != 1.0:
            mult *= np.float32(scale)
        return torch.from_numpy(mult)


def mask_generator(seed: int, model_index: int, name: str) -> MaskStream:
    """The :class:`MaskStream` of ``(seed, model_index, name)`` (blake2b-64 key)."""
    digest = hashlib.blake2b(f"{seed}\x00{model_index}\x00{name}".encode(), digest_size=8).digest()
    return MaskStream(int.from_bytes(digest, "little"))
