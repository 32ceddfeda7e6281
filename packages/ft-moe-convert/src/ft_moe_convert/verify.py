"""``verify A B``: do two checkpoints hold the same tensors, whatever their expert layouts?

Each checkpoint is decoded into logical tensors: every non-expert tensor under its own name, and
every expert weight as one (out, in) matrix per layer, expert and projection (a stacked tensor
contributes E slices, a fused ``gate_up_proj`` 2E). Each logical tensor is compared by dtype,
shape and the SHA-256 of its bytes, read in constant memory. So ``verify x split(merge(x))``
proves a byte-identical round trip even though names, shards and tensor order differ.

Example:
    >>> result = verify("qwen3-moe", "qwen3-split")
    >>> result.identical, result.compared
    (True, 1234)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ft_core import FtError, read_checkpoint

from .layouts import LAYOUTS
from .plan import Piece, expert_blocks
from .scan import read_input_checkpoint, scan_checkpoint
from .write import ByteCopier

MAX_LISTED = 10


@dataclass
class LogicalTensor:
    dtype: str
    shape: list[int]
    piece: Piece


@dataclass
class VerifyResult:
    """Outcome of :func:`verify`: layouts seen, tensors compared and the differences (empty when identical)."""

    a: Path
    b: Path
    layout_a: str
    layout_b: str
    compared: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def describe(self) -> str:
        head = (f"{self.a} ({self.layout_a}) vs {self.b} ({self.layout_b}): {self.compared} logical tensors "
                f"compared, {'identical' if self.identical else f'{len(self.differences)} difference(s)'}")
        shown = self.differences[:MAX_LISTED]
        more = len(self.differences) - len(shown)
        return "\n".join([head, *(f"  {d}" for d in shown), *([f"  ... and {more} more"] if more > 0 else [])])


def logical_tensors(path: str | Path) -> tuple[str, dict[str, LogicalTensor]]:
    """The layout name and the logical tensors of the checkpoint at ``path`` (headers only)."""
    root = Path(path)
    ckpt = read_input_checkpoint(root) if root.is_dir() else read_checkpoint(root)
    names = list(ckpt.tensors)
    if not any(lay.match(n) for lay in LAYOUTS.values() for n in names):
        return "no experts", {n: LogicalTensor(t.dtype, t.shape, Piece(t.file, t.start, t.nbytes))
                              for n, t in ckpt.tensors.items()}
    scan = scan_checkpoint(root, list(LAYOUTS))
    result = {n: LogicalTensor(t.dtype, t.shape, Piece(t.file, t.start, t.nbytes))
              for n in scan.passthrough for t in [ckpt.tensors[n]]}
    for group in scan.groups.values():
        for proj, (shape, dtype, pieces) in expert_blocks(group, scan.layout, scan.num_experts).items():
            for e, piece in enumerate(pieces):
                result[f"{group.prefix}layers.{group.layer}.experts[{e}].{proj}"] = LogicalTensor(dtype, shape, piece)
    return scan.layout.name, result


def _digest(copier: ByteCopier, piece: Piece) -> str:
    h = hashlib.sha256()
    for chunk in copier.read_chunks(piece):
        h.update(chunk)
    return h.hexdigest()


def verify(a: str | Path, b: str | Path) -> VerifyResult:
    """Compare the checkpoints ``a`` and ``b`` tensor by tensor under the layout mapping."""
    layout_a, ta = logical_tensors(a)
    layout_b, tb = logical_tensors(b)
    result = VerifyResult(Path(a), Path(b), layout_a, layout_b)
    diffs = result.differences
    diffs += [f"only in {a}: {n}" for n in ta if n not in tb]
    diffs += [f"only in {b}: {n}" for n in tb if n not in ta]
    copier = ByteCopier("buffered")
    try:
        for name, x in ta.items():
            y = tb.get(name)
            if y is None:
                continue
            result.compared += 1
            if (x.dtype, x.shape) != (y.dtype, y.shape):
                diffs.append(f"{name}: {x.dtype} {x.shape} vs {y.dtype} {y.shape}")
            elif x.piece.length != y.piece.length or _digest(copier, x.piece) != _digest(copier, y.piece):
                diffs.append(f"{name}: bytes differ")
    finally:
        copier.close()
    return result


def require_identical(result: VerifyResult) -> None:
    """Raise ``FtError`` (exit 1) with the summary when ``result`` found differences."""
    if not result.identical:
        raise FtError(result.describe().replace("\n", "; "))
