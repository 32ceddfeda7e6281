"""ft-moe-convert: Streamed Mixture-of-Experts checkpoint conversion between per-expert, stacked and fused expert layouts.

Conversions read safetensors headers only, plan every output shard, then copy byte ranges
(``copy_file_range`` when the kernel allows), so memory stays flat and dtypes (bf16, fp8…)
are preserved byte for byte. torch is never imported.

Example:
    >>> from ft_moe_convert import merge, split, verify
    >>> merge("Qwen3-30B-A3B", "qwen3-merged")
    >>> split("qwen3-merged", "qwen3-split", reference_dir="Qwen3-30B-A3B")
    >>> verify("Qwen3-30B-A3B", "qwen3-split").identical
    True
"""

__version__ = "0.1.0"

from .convert import DTYPES, ConversionResult, convert, merge, split
from .layouts import LAYOUTS, ExpertKey, Layout, get_layout, register_layout
from .plan import OutTensor, Piece, Plan, plan_conversion
from .scan import Scan, scan_checkpoint
from .verify import VerifyResult, verify

__all__ = [
    "DTYPES", "LAYOUTS", "ConversionResult", "ExpertKey", "Layout", "OutTensor", "Piece", "Plan", "Scan",
    "VerifyResult", "__version__", "convert", "get_layout", "merge", "plan_conversion", "register_layout",
    "scan_checkpoint", "split", "verify",
]
