"""Plan a conversion from headers alone: every output tensor as a list of input byte ranges.

Each layout is decoded into per-expert (out, in) blocks, each block one byte range of an input
shard, and encoded into the target layout by listing those blocks in the target's order:

* ``merged`` ``gate_proj``: gate[0], gate[1], … gate[E-1]
* ``fused-v5`` ``gate_up_proj``: gate[0], up[0], gate[1], up[1], … (gate rows then up rows of
  each expert: concatenation happens inside each expert, so the bytes interleave per expert)
* per-expert layouts: one block per tensor; a stacked input tensor is sliced into E blocks.

Output tensors keep the source order; each expert group takes the place of its first key.
Shards are then cut at ``max_shard_bytes`` and each shard's header is built, so the writer
only has to copy byte ranges.

Example:
    >>> plan = plan_conversion(scan_checkpoint("in", ["separate"]), LAYOUTS["merged"])
    >>> [t.name for t in plan.tensors][:1]
    ['model.embed_tokens.weight']
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ft_core import DTYPE_BYTES, BadInputError, TensorInfo, plan_shards, shard_file_names

from .layouts import DOWN, GATE, GATE_UP, UP, Layout
from .scan import ExpertGroup, Scan, _span


@dataclass(frozen=True)
class Piece:
    """``length`` bytes at absolute offset ``start`` of input file ``file``."""

    file: Path
    start: int
    length: int


@dataclass
class OutTensor:
    """One output tensor: output dtype and shape, its source dtype and the byte ranges it is made of."""

    name: str
    dtype: str
    shape: list[int]
    pieces: list[Piece]
    src_dtype: str

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        if self.dtype == self.src_dtype:  # bytes as stored: also right for packed (F4) or unknown dtypes
            return sum(p.length for p in self.pieces)
        return self.numel * DTYPE_BYTES[self.dtype]


@dataclass
class Shard:
    """One output file: its name, tensors in write order and the encoded header (8-byte prefix included)."""

    name: str
    tensors: list[OutTensor]
    header: bytes

    @property
    def nbytes(self) -> int:
        return len(self.header) + sum(t.nbytes for t in self.tensors)


@dataclass
class Plan:
    """What a conversion will write; ``describe()`` gives the dry-run summary and invariants."""

    input: Path
    layout_in: Layout
    layout_out: Layout
    num_experts: int
    moe_layers: list[int]
    tensors: list[OutTensor]
    shards: list[Shard] = field(default_factory=list)
    n_input_tensors: int = 0
    input_bytes: int = 0
    dtype: str | None = None

    @property
    def output_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def invariants(self) -> dict[str, object]:
        """Tensor counts and byte totals that must hold (checked by ``plan_conversion``)."""
        per_layer = {"separate": 3 * self.num_experts, "merged": 3, "fused": 2}
        n_moe = len(self.moe_layers)
        non_expert = self.n_input_tensors - per_layer[self.layout_in.kind] * n_moe
        return {
            "input_tensors": self.n_input_tensors, "output_tensors": len(self.tensors),
            "non_expert_tensors": non_expert,
            "expected_output_tensors": non_expert + per_layer[self.layout_out.kind] * n_moe,
            "input_bytes": self.input_bytes, "output_bytes": self.output_bytes,
            "bytes_preserved": self.output_bytes == self.input_bytes,
        }

    def describe(self) -> str:
        inv = self.invariants()
        lines = [
            f"input      {self.input} ({self.layout_in.name}, {inv['input_tensors']} tensors, "
            f"{inv['input_bytes']:,} bytes)",
            f"output     {self.layout_out.name}: {inv['output_tensors']} tensors "
            f"(= {inv['non_expert_tensors']} other + expert tensors), {inv['output_bytes']:,} bytes, "
            f"{len(self.shards)} shard(s)" + (f", cast to {self.dtype}" if self.dtype else ""),
            f"experts    {self.num_experts} per layer in {len(self.moe_layers)} MoE layers "
            f"{_span(self.moe_layers)}",
        ]
        lines += [f"  {s.name}  {len(s.tensors)} tensors  {s.nbytes:,} bytes" for s in self.shards]
        return "\n".join(lines)


def _piece(t: TensorInfo) -> Piece:
    return Piece(t.file, t.start, t.nbytes)


def expert_blocks(group: ExpertGroup, layout: Layout, num_experts: int) -> dict[str, tuple[list[int], str, list[Piece]]]:
    """Decode one group into ``{proj: (per-expert shape, dtype, [block of expert 0, 1, …])}``."""
    out: dict[str, tuple[list[int], str, list[Piece]]] = {}
    if layout.kind == "separate":
        for proj in (GATE, UP, DOWN):
            slot = group.tensors[proj]
            out[proj] = (list(slot[0].shape), slot[0].dtype, [_piece(slot[e]) for e in range(num_experts)])
        return out
    for proj, slot in group.tensors.items():
        t = slot[None]
        per = t.nbytes // num_experts
        blocks = [Piece(t.file, t.start + e * per, per) for e in range(num_experts)]
        if proj == GATE_UP:  # each expert's block is gate rows then up rows
            half = per // 2
            rows = [t.shape[1] // 2, t.shape[2]]
            out[GATE] = (rows, t.dtype, [Piece(b.file, b.start, half) for b in blocks])
            out[UP] = (rows, t.dtype, [Piece(b.file, b.start + half, half) for b in blocks])
        else:
            out[proj] = (list(t.shape[1:]), t.dtype, blocks)
    return out


def encode_group(group: ExpertGroup, blocks: dict, layout: Layout, num_experts: int,
                 cast: str | None) -> list[OutTensor]:
    """The output tensors of one group in ``layout`` (per-expert: expert-major, gate, up, down)."""
    def tensor(name: str, shape: list[int], dtype: str, pieces: list[Piece]) -> OutTensor:
        return OutTensor(name, _out_dtype(name, dtype, cast), shape, pieces, dtype)

    p, L, E = group.prefix, group.layer, num_experts
    if layout.kind == "separate":
        return [tensor(layout.key(p, L, proj, e), blocks[proj][0], blocks[proj][1], [blocks[proj][2][e]])
                for e in range(E) for proj in (GATE, UP, DOWN)]
    if layout.kind == "merged":
        return [tensor(layout.key(p, L, proj), [E, *blocks[proj][0]], blocks[proj][1], blocks[proj][2])
                for proj in (GATE, UP, DOWN)]
    (rows, cols), dtype, gate = blocks[GATE]
    interleaved = [b for e in range(E) for b in (gate[e], blocks[UP][2][e])]
    return [tensor(layout.key(p, L, GATE_UP), [E, 2 * rows, cols], dtype, interleaved),
            tensor(layout.key(p, L, DOWN), [E, *blocks[DOWN][0]], blocks[DOWN][1], blocks[DOWN][2])]


CASTABLE = ("F64", "F32", "F16", "BF16")


def _out_dtype(name: str, dtype: str, cast: str | None) -> str:
    if cast is None or dtype == cast or (dtype not in CASTABLE and not dtype.startswith("F")):
        return dtype  # integer and bool tensors (counters, masks) are never cast
    if dtype not in CASTABLE:
        raise BadInputError(f"--dtype {cast}: tensor {name!r} is {dtype}; casting quantized weights needs "
                            "dequantization, which ft-moe-convert does not do; drop --dtype to keep the bytes")
    return cast


def plan_conversion(scan: Scan, layout_out: Layout, *, max_shard_bytes: int = 5 * 10**9,
                    dtype: str | None = None) -> Plan:
    """Every output tensor and shard of converting ``scan`` into ``layout_out``, from headers only."""
    tensors: list[OutTensor] = []
    emitted: set[tuple[str, int]] = set()
    for name in scan.order:
        key = scan.matches.get(name)
        if key is None:
            t = scan.checkpoint.tensors[name]
            tensors.append(OutTensor(name, _out_dtype(name, t.dtype, dtype), list(t.shape), [_piece(t)], t.dtype))
            continue
        gid = (key.prefix, key.layer)
        if gid in emitted:
            continue
        emitted.add(gid)
        group = scan.groups[gid]
        blocks = expert_blocks(group, scan.layout, scan.num_experts)
        tensors += encode_group(group, blocks, layout_out, scan.num_experts, dtype)
    seen: set[str] = set()
    for t in tensors:
        if t.name in seen:
            raise BadInputError(f"{scan.checkpoint.root}: output key {t.name!r} would be written twice "
                                "(an input key already has that name); fix --key-out")
        seen.add(t.name)
    plan = Plan(scan.checkpoint.root, scan.layout, layout_out, scan.num_experts, scan.moe_layers, tensors,
                n_input_tensors=len(scan.order), input_bytes=scan.checkpoint.total_size, dtype=dtype)
    plan.shards = _shards(tensors, max_shard_bytes)
    inv = plan.invariants()
    # Guards against planning bugs: the layout arithmetic must account for every tensor and byte.
    assert inv["output_tensors"] == inv["expected_output_tensors"], inv
    assert dtype is not None or inv["bytes_preserved"], inv
    return plan


def _shards(tensors: list[OutTensor], max_shard_bytes: int) -> list[Shard]:
    by_name = {t.name: t for t in tensors}
    groups = plan_shards([(t.name, t.nbytes) for t in tensors], max_shard_bytes) or [[]]
    names = shard_file_names(len(groups))
    return [Shard(fname, [by_name[n] for n in g], encode_header([by_name[n] for n in g]))
            for fname, g in zip(names, groups)]


def encode_header(tensors: list[OutTensor], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors header of ``tensors`` laid out in order: length prefix, JSON, space padding to 8 bytes."""
    header: dict[str, object] = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for t in tensors:
        header[t.name] = {"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-(8 + len(raw)) % 8)  # tensor data starts 8-byte aligned, as safetensors writes it
    return struct.pack("<Q", len(raw)) + raw
