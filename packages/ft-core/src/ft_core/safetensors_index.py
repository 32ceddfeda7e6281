"""Read and write sharded safetensors checkpoints without loading tensors.

A safetensors file is ``u64 little-endian header length`` + JSON header + raw bytes; the header
maps each tensor name to ``dtype``, ``shape`` and ``data_offsets`` (relative to the end of the
header). Reading headers only lets the toolkit plan merges and conversions of any size in
constant memory. A sharded checkpoint has ``model.safetensors.index.json`` with ``weight_map``
(name -> shard file) and ``metadata.total_size`` (bytes of tensor data).

Example:
    >>> ckpt = read_checkpoint("model_dir")
    >>> ckpt.tensors["lm_head.weight"].shape
    [49152, 576]
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import atomic_write_json
from .errors import DataError

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors itself refuses larger headers

DTYPE_BYTES: dict[str, int] = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "F4": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8, "C64": 8,
}


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives: file, dtype, shape and absolute byte range ``[start, end)`` in the file."""

    name: str
    file: Path
    dtype: str
    shape: list[int]
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start


@dataclass
class SafetensorsHeader:
    """The parsed header of one file: tensors (absolute offsets) and ``__metadata__``."""

    path: Path
    header_size: int  # bytes of the JSON header, excluding the 8-byte length prefix
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def data_start(self) -> int:
        return 8 + self.header_size


def read_header(path: str | Path) -> SafetensorsHeader:
    """Parse the header of one ``.safetensors`` file (reads only the header bytes)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            prefix = fh.read(8)
            if len(prefix) != 8:
                raise DataError(f"{p}: not a safetensors file (shorter than 8 bytes)")
            (size,) = struct.unpack("<Q", prefix)
            if size > MAX_HEADER_BYTES:
                raise DataError(f"{p}: not a safetensors file (header length {size} is implausible)")
            raw = fh.read(size)
    except FileNotFoundError as exc:
        raise DataError(f"{p}: safetensors file not found") from exc
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: safetensors header is not valid JSON ({exc})") from exc
    metadata = header.pop("__metadata__", None) or {}
    base = 8 + size
    tensors: dict[str, TensorInfo] = {}
    file_size = p.stat().st_size
    for name, info in header.items():
        try:
            begin, end = info["data_offsets"]
            tensors[name] = TensorInfo(name, p, info["dtype"], list(info["shape"]), base + begin, base + end)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{p}: tensor {name!r} has a malformed header entry") from exc
        if base + end > file_size:
            raise DataError(f"{p}: tensor {name!r} ends at byte {base + end} but the file has {file_size} bytes (truncated?)")
    return SafetensorsHeader(p, size, tensors, dict(metadata))


@dataclass
class Checkpoint:
    """All tensors of a checkpoint directory (one file or an index of shards)."""

    root: Path
    files: list[Path]
    tensors: dict[str, TensorInfo]
    index_path: Path | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def total_size(self) -> int:
        return sum(t.nbytes for t in self.tensors.values())


def read_checkpoint(path: str | Path, strict_index: bool = True) -> Checkpoint:
    """Read the headers of a checkpoint: a ``.safetensors`` file, or a directory with an index or one file.

    With an index, every shard it names must exist (``DataError`` otherwise); shards in the
    directory that the index does not name raise with ``strict_index`` or are ignored otherwise.
    """
    p = Path(path)
    if p.is_file():
        header = read_header(p)
        return Checkpoint(p.parent, [p], header.tensors, None, header.metadata)
    if not p.is_dir():
        raise DataError(f"{p}: checkpoint not found (give a directory with safetensors files or a .safetensors file)")
    index = p / INDEX_NAME
    if index.is_file():
        try:
            weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{index}: not a valid safetensors index (needs a 'weight_map' object)") from exc
        shard_names = sorted(set(weight_map.values()))
        missing = [s for s in shard_names if not (p / s).is_file()]
        if missing:
            raise DataError(f"{index}: names shard {missing[0]!r} which is missing in {p}")
        stray = sorted({f.name for f in p.glob("*.safetensors")} - set(shard_names))
        if stray and strict_index:
            raise DataError(f"{p}: shard {stray[0]!r} is not named in {INDEX_NAME}; remove it or fix the index")
        tensors: dict[str, TensorInfo] = {}
        for shard in shard_names:
            header = read_header(p / shard)
            for name, info in header.tensors.items():
                if weight_map.get(name) == shard:
                    tensors[name] = info
        absent = [n for n, s in weight_map.items() if n not in tensors]
        if absent:
            raise DataError(f"{index}: tensor {absent[0]!r} is mapped to {weight_map[absent[0]]!r} but not stored there")
        return Checkpoint(p, [p / s for s in shard_names], tensors, index)
    files = sorted(p.glob("*.safetensors"))
    if not files:
        raise DataError(f"{p}: no .safetensors files and no {INDEX_NAME}")
    if len(files) > 1:
        raise DataError(f"{p}: {len(files)} safetensors files but no {INDEX_NAME}; add the index")
    header = read_header(files[0])
    return Checkpoint(p, files, header.tensors, None, header.metadata)


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}


def parse_size(text: str | int) -> int:
    """Bytes from ``"5GB"``, ``"500MB"``, ``"2GiB"`` or an int (decimal units as transformers uses).

    Example:
        >>> parse_size("5GB")
        5000000000
    """
    if isinstance(text, int):
        return text
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ValueError(f"size {text!r}: expected a number with an optional unit, e.g. 5GB or 500MB")
    number, unit = match.groups()
    unit = (unit or "").upper().removesuffix("B")
    return int(float(number) * _UNITS[unit])


def plan_shards(sizes: Iterable[tuple[str, int]], max_shard_bytes: int) -> list[list[str]]:
    """Group tensors, in the given order, into shards of at most ``max_shard_bytes``.

    A tensor larger than the limit gets a shard of its own (as transformers does).

    Example:
        >>> plan_shards([("a", 6), ("b", 5), ("c", 4)], 10)
        [['a'], ['b', 'c']]
    """
    shards: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for name, nbytes in sizes:
        if current and current_bytes + nbytes > max_shard_bytes:
            shards.append(current)
            current, current_bytes = [], 0
        current.append(name)
        current_bytes += nbytes
    if current:
        shards.append(current)
    return shards


def shard_file_names(count: int, prefix: str = "model") -> list[str]:
    """``model.safetensors`` for one shard, ``model-00001-of-00003.safetensors`` … otherwise."""
    if count == 1:
        return [f"{prefix}.safetensors"]
    return [f"{prefix}-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]


def write_index(directory: str | Path, weight_map: Mapping[str, str], total_size: int,
                extra_metadata: Mapping[str, object] | None = None, fsync: bool = True) -> Path:
    """Write ``model.safetensors.index.json`` atomically, keys sorted as transformers does.

    ``fsync=False`` inside an ``atomic_output_dir`` (see ``atomic_write_bytes``).
    """
    meta: dict[str, object] = {"total_size": int(total_size)}
    if extra_metadata:
        meta.update(extra_metadata)
    body = {"metadata": meta, "weight_map": {k: weight_map[k] for k in sorted(weight_map)}}
    return atomic_write_json(Path(directory) / INDEX_NAME, body, indent=2, fsync=fsync)
