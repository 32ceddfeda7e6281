"""Casting raw little-endian float bytes between F64, F32, F16 and BF16 (only for ``--dtype``).

numpy has no bfloat16, so BF16 goes through its bit pattern: widening shifts the 16 bits into
the top of a float32; narrowing rounds to nearest even and keeps NaNs NaN.

Example:
    >>> cast_bytes(b"\\x80\\x3f", "BF16", "F32")  # 1.0
    b'\\x00\\x00\\x80?'
"""

from __future__ import annotations

import numpy as np

_NUMPY = {"F64": np.float64, "F32": np.float32, "F16": np.float16}


def _to_f32(data: bytes | memoryview, dtype: str) -> np.ndarray:
    if dtype == "BF16":
        return (np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    return np.frombuffer(data, dtype=np.dtype(_NUMPY[dtype]).newbyteorder("<")).astype(np.float32)


def _f32_to_bf16(values: np.ndarray) -> np.ndarray:
    bits = values.astype("<f4").view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(values)
    rounded[nan] = ((bits[nan] >> 16) | 0x0040).astype(np.uint16)  # quiet NaN, sign kept
    return rounded.astype("<u2")


def cast_bytes(data: bytes | memoryview, src: str, dst: str) -> bytes:
    """``data`` (``src`` dtype, little endian) cast to ``dst``; both among F64, F32, F16, BF16."""
    if src == dst:
        return bytes(data)
    if src == "F64" and dst in _NUMPY:
        return np.frombuffer(data, dtype="<f8").astype(np.dtype(_NUMPY[dst]).newbyteorder("<")).tobytes()
    values = _to_f32(data, src)
    if dst == "BF16":
        return _f32_to_bf16(values).tobytes()
    return values.astype(np.dtype(_NUMPY[dst]).newbyteorder("<")).tobytes()
