"""The conversion verbs: ``merge`` (per-expert -> stacked), ``split`` (stacked -> per-expert), ``convert``.

A conversion validates the input and plans every output byte before it creates anything, then
writes into a temporary sibling of the output directory that is renamed on success.

Example:
    >>> result = merge("Qwen3-30B-A3B", "qwen3-merged")            # stacked, keys without .weight
    >>> split("qwen3-merged", "qwen3-split", reference_dir="Qwen3-30B-A3B")
    >>> verify("Qwen3-30B-A3B", "qwen3-split").identical
    True
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ft_core import (
    BadInputError,
    OutputExistsError,
    atomic_output_dir,
    check_output_dir,
    parse_size,
    write_index,
)

from .assets import copy_assets, list_assets
from .layouts import (
    MIXTRAL_MODEL_TYPES,
    SEPARATE_LAYOUTS,
    STACKED_LAYOUTS,
    Layout,
    get_layout,
    merged_with_suffix,
)
from .plan import Plan, plan_conversion
from .scan import Scan, scan_checkpoint
from .write import write_shards

DTYPES = {"bf16": "BF16", "bfloat16": "BF16", "fp16": "F16", "float16": "F16", "half": "F16",
          "fp32": "F32", "float32": "F32", "float": "F32"}
MODES = ("merge", "split")


@dataclass
class ConversionResult:
    """What a conversion planned and wrote (``files`` is empty for a dry run)."""

    plan: Plan
    output: Path
    files: list[Path] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)
    seconds: float = 0.0
    copy_method: str | None = None


def _dtype(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return DTYPES[name.lower()]
    except KeyError:
        raise BadInputError(f"--dtype {name!r}: expected one of bf16, fp16, fp32") from None


def _input_layouts(mode: str, layout_in: str, key_in: str | None) -> list[Layout]:
    names = (SEPARATE_LAYOUTS if mode == "merge" else STACKED_LAYOUTS) if layout_in == "auto" else (layout_in,)
    layouts = [get_layout(n) for n in names]
    if key_in is not None and layout_in == "auto" and mode == "merge":
        layouts = layouts[:1]  # a custom per-expert regex: its proj spellings are read via the alias table
    return [lay.with_overrides(key_in=key_in) for lay in layouts]


def _output_layout(mode: str, layout_out: str, scan: Scan, key_out: str | None, suffix: str) -> Layout:
    if layout_out == "auto":
        if mode == "merge":
            layout_out = "merged"
        else:
            mixtral = scan.config.get("model_type") in MIXTRAL_MODEL_TYPES or any(
                ".block_sparse_moe." in n for n in scan.passthrough)
            layout_out = "separate-mixtral" if mixtral else "separate"
    layout = get_layout(layout_out)
    wanted = STACKED_LAYOUTS if mode == "merge" else SEPARATE_LAYOUTS
    if layout.name not in wanted:
        raise BadInputError(f"--layout-out {layout.name}: {mode} writes one of {', '.join(wanted)}")
    if layout.kind == "merged":
        layout = merged_with_suffix(layout, suffix)
    return layout.with_overrides(key_out=key_out)


def convert(input_path: str | Path, output_path: str | Path, *, mode: str = "merge", layout_in: str = "auto",
            layout_out: str = "auto", key_in: str | None = None, key_out: str | None = None,
            merged_key_suffix: str = "none", dtype: str | None = None, max_shard_size: str | int = "5GB",
            reference_dir: str | Path | None = None, overwrite: bool = False, dry_run: bool = False,
            set_config: Mapping[str, object] | None = None, copy_method: str | None = None) -> ConversionResult:
    """Convert the checkpoint at ``input_path`` into ``output_path`` (``mode`` ``merge`` or ``split``).

    ``layout_in``/``layout_out`` name layouts of :data:`ft_moe_convert.LAYOUTS` (``auto``: detect
    the input; write ``merged`` for merge, ``separate`` or ``separate-mixtral`` for split).
    ``max_shard_size`` is bytes or a string such as ``"5GB"``. Tensors keep their dtype unless
    ``dtype`` (``bf16``, ``fp16``, ``fp32``) is given. Raises ``BadInputError`` (exit 2) before
    writing anything when the input is invalid.
    """
    if mode not in MODES:
        raise BadInputError(f"--mode {mode!r}: expected merge or split")
    for name in (layout_in, layout_out):
        if name != "auto":
            get_layout(name)  # an unknown name raises, listing the valid ones
    started = time.perf_counter()
    src, out = Path(input_path), Path(output_path)
    if out.resolve() == src.resolve():
        raise BadInputError(f"{out}: the output directory must differ from the input directory")
    try:
        check_output_dir(out, overwrite)
    except OutputExistsError:
        raise OutputExistsError(f"{out}: output directory is not empty; choose another path or pass --overwrite") \
            from None
    try:
        max_bytes = parse_size(max_shard_size)
    except ValueError as exc:
        raise BadInputError(f"--max-shard-size: {exc}") from exc
    cast = _dtype(dtype)
    reference = Path(reference_dir) if reference_dir is not None else None
    if reference is not None:
        list_assets(reference)  # fails now, not after the weights are written
    scan = scan_checkpoint(src, _input_layouts(mode, layout_in, key_in))
    target = _output_layout(mode, layout_out, scan, key_out, merged_key_suffix)
    plan = plan_conversion(scan, target, max_shard_bytes=max_bytes, dtype=cast)
    result = ConversionResult(plan, out)
    if dry_run:
        return result
    with atomic_output_dir(out, overwrite) as tmp:
        result.files, result.copy_method = write_shards(plan, tmp, method=copy_method)
        if len(plan.shards) > 1:
            weight_map = {t.name: s.name for s in plan.shards for t in s.tensors}
            write_index(tmp, weight_map, plan.output_bytes, fsync=False,  # the directory rename is the commit
                        extra_metadata={"total_parameters": sum(t.numel for t in plan.tensors)})
        result.assets = copy_assets(reference or src, tmp, set_config)
    result.files = [out / f.name for f in result.files]
    result.seconds = time.perf_counter() - started
    return result


def merge(input_path: str | Path, output_path: str | Path, **options: object) -> ConversionResult:
    """Stack per-expert weights into ``merged`` (default) or ``fused-v5`` tensors; see :func:`convert`.

    Example:
        >>> merge("qwen3-moe", "qwen3-merged", layout_out="fused-v5", max_shard_size="2GB")
    """
    return convert(input_path, output_path, mode="merge", **options)  # type: ignore[arg-type]


def split(input_path: str | Path, output_path: str | Path, **options: object) -> ConversionResult:
    """Split stacked (``merged`` or ``fused-v5``) expert weights into per-expert tensors; see :func:`convert`.

    Example:
        >>> split("qwen3-merged", "qwen3-split", reference_dir="qwen3-moe")
    """
    return convert(input_path, output_path, mode="split", **options)  # type: ignore[arg-type]
