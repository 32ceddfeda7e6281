"""Lazy tensor reads and streaming sharded safetensors writes.

Reads use plain ``readinto`` at the byte offsets of the header (ft_core's ``TensorInfo``), not a
memory map: a mapped file's touched pages count in the process RSS until it is unmapped, which
would make a streaming merge look (and, under memory pressure, be) as big as its inputs.

Writes know every output tensor's name, dtype and shape before the first byte is produced (they
are the base's), so each shard's header is written first and the data streamed after it: no
shard buffer in memory at all.

Example:
    >>> reader = TensorReader()
    >>> t = reader.read(read_checkpoint("base").tensors["model.norm.weight"])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch

from ft_core import TensorInfo, plan_shards, shard_file_names, write_index

ST_TO_TORCH: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
TORCH_TO_ST = {v: k for k, v in ST_TO_TORCH.items()}
FLOAT_ST = ("F64", "F32", "F16", "BF16")


class TensorReader:
    """Reads tensors by ``TensorInfo``; keeps the last file of each checkpoint open."""

    def __init__(self) -> None:
        self._files: dict[Path, BinaryIO] = {}

    def read(self, info: TensorInfo) -> torch.Tensor:
        """The tensor in its on-disk dtype (a fresh, writable CPU tensor)."""
        if info.dtype not in ST_TO_TORCH:
            raise ValueError(f"{info.file}: tensor {info.name!r} has unsupported dtype {info.dtype}")
        out = torch.empty(info.shape, dtype=ST_TO_TORCH[info.dtype])
        fh = self._files.get(info.file)
        if fh is None:
            fh = self._files[info.file] = open(info.file, "rb")  # noqa: SIM115 (closed in close())
        fh.seek(info.start)
        view = memoryview(out.view(-1).view(torch.uint8).numpy()) if out.numel() else memoryview(b"")
        got = fh.readinto(view) if out.numel() else 0
        if got != info.nbytes:
            raise OSError(f"{info.file}: short read of {info.name!r} ({got} of {info.nbytes} bytes)")
        return out

    def read_f32(self, info: TensorInfo) -> torch.Tensor:
        """The tensor as float32 (no copy when it is stored as F32)."""
        t = self.read(info)
        return t if t.dtype == torch.float32 else t.to(torch.float32)

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()

    def __enter__(self) -> TensorReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class OutSpec:
    """One output tensor: name, safetensors dtype string and shape."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n * torch.empty((), dtype=ST_TO_TORCH[self.dtype]).element_size()


class ShardedWriter:
    """Writes tensors, in the planned order, into ``model[-0000i-of-0000k].safetensors`` + index.

    ``write`` must be called once per planned tensor, in plan order; ``close`` checks that.
    """

    def __init__(self, directory: str | Path, specs: Sequence[OutSpec], max_shard_bytes: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.specs = list(specs)
        by_name = {s.name: s for s in self.specs}
        groups = plan_shards([(s.name, s.nbytes) for s in self.specs], max_shard_bytes)
        self.files = shard_file_names(len(groups))
        self.weight_map = {n: f for f, g in zip(self.files, groups, strict=True) for n in g}
        self._groups = [[by_name[n] for n in g] for g in groups]
        self._shard = -1
        self._pos = 0
        self._fh: BinaryIO | None = None
        self.total_size = sum(s.nbytes for s in self.specs)

    def _open_next(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._shard += 1
        self._pos = 0
        header: dict[str, object] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for s in self._groups[self._shard]:
            header[s.name] = {"dtype": s.dtype, "shape": list(s.shape), "data_offsets": [offset, offset + s.nbytes]}
            offset += s.nbytes
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # 8-byte aligned data start, as safetensors writes it
        self._fh = open(self.directory / self.files[self._shard], "wb")  # noqa: SIM115 (closed in close())
        self._fh.write(len(raw).to_bytes(8, "little"))
        self._fh.write(raw)

    def write(self, name: str, tensor: torch.Tensor) -> None:
        """Append the next planned tensor (cast to its planned dtype)."""
        if self._fh is None or self._pos >= len(self._groups[self._shard]):
            self._open_next()
        spec = self._groups[self._shard][self._pos]
        if spec.name != name or tuple(tensor.shape) != spec.shape:
            raise RuntimeError(f"writer expected {spec.name} {spec.shape}, got {name} {tuple(tensor.shape)}")
        t = tensor.to(ST_TO_TORCH[spec.dtype]).contiguous()
        if t.numel():
            self._fh.write(memoryview(t.view(-1).view(torch.uint8).numpy()))  # type: ignore[union-attr]
        self._pos += 1

    def close(self) -> None:
        """Finish the last shard and write the index (only when there are several shards)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        done = sum(len(g) for g in self._groups[: self._shard]) + self._pos if self._shard >= 0 else 0
        if done != len(self.specs):
            raise RuntimeError(f"writer got {done} of {len(self.specs)} tensors")
        if len(self.files) > 1:
            write_index(self.directory, self.weight_map, self.total_size)
