"""Model patches applied around loading: dtype, attention implementation, RoPE scaling, KV cache,
gradient checkpointing, embedding resize and Liger kernels.

Each function takes plain values so it can be used without the pydantic arguments, and raises
``UnsupportedError`` (exit 2) with the way out when the machine cannot do what was asked.

Example:
    >>> resolve_dtype("auto")           # on a CPU-only machine
    torch.float32
    >>> resolve_attn_implementation("fa2")
    UnsupportedError: flash_attn=fa2 needs a CUDA device and the flash-attn package; use flash_attn: sdpa
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any

from ft_core import ConfigError, UnsupportedError, get_logger

log = get_logger(__name__)

DTYPES = ("auto", "bfloat16", "float16", "float32")
_DTYPE_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32"}

# LLaMA-Factory's ``flash_attn`` values and transformers' ``attn_implementation`` names, both accepted.
_ATTN_ALIASES = {
    "auto": "auto", "disabled": "eager", "eager": "eager", "sdpa": "sdpa",
    "fa2": "flash_attention_2", "flash_attention_2": "flash_attention_2",
    "fa3": "flash_attention_3", "flash_attention_3": "flash_attention_3",
}
ATTN_CHOICES = tuple(_ATTN_ALIASES)
ROPE_TYPES = ("linear", "dynamic", "yarn", "llama3")


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_dtype(dtype: Any = "auto"):
    """A ``torch.dtype`` for a name: ``auto`` is float32 on CPU, bfloat16 (else float16) on CUDA.

    Why float32 on CPU: bf16 matmuls on most CPUs are emulated and slower than fp32.
    """
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    name = _DTYPE_ALIASES.get(str(dtype).lower(), str(dtype).lower())
    if name not in DTYPES:
        raise ConfigError(f"dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    if name == "auto":
        if not cuda_available():
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return getattr(torch, name)


def resolve_attn_implementation(value: str | None, config: Any = None) -> str:
    """transformers' ``attn_implementation`` for LLaMA-Factory's ``flash_attn`` value (or an HF name).

    ``auto`` picks ``sdpa`` (eager when the architecture has no SDPA path); FlashAttention needs
    CUDA and the flash-attn package, otherwise ``UnsupportedError``.
    """
    key = "auto" if value is None else str(value).lower()
    if key not in _ATTN_ALIASES:
        raise ConfigError(f"flash_attn {value!r}: expected one of {', '.join(ATTN_CHOICES)}")
    impl = _ATTN_ALIASES[key]
    if impl.startswith("flash_attention"):
        module, dist = ("flash_attn", "flash-attn") if impl == "flash_attention_2" else ("flash_attn_interface", "flash-attn-3")
        if not cuda_available() or importlib.util.find_spec(module) is None:
            raise UnsupportedError(f"flash_attn={value} needs a CUDA device and the {dist} package; "
                                   "use flash_attn: sdpa (or auto)")
    if impl == "auto":
        impl = "sdpa"
    return impl


def apply_rope_scaling(config: Any, rope_scaling: str | dict | None, model_max_length: int | None = None) -> None:
    """Set RoPE scaling on a transformers config in place.

    ``rope_scaling`` is a type (``linear|dynamic|yarn|llama3``; the factor is
    ``ceil(model_max_length / max_position_embeddings)``) or a dict with ``rope_type`` and
    ``factor``. Without a longer ``model_max_length`` the factor would be 1, so scaling is
    skipped with a warning, as LLaMA-Factory does.
    """
    if not rope_scaling:
        return
    spec = dict(rope_scaling) if isinstance(rope_scaling, dict) else {"rope_type": str(rope_scaling)}
    rope_type = spec.pop("rope_type", None) or spec.pop("type", None)
    if rope_type not in ROPE_TYPES:
        raise ConfigError(f"rope_scaling {rope_type!r}: expected one of {', '.join(ROPE_TYPES)}")
    current = getattr(config, "max_position_embeddings", None)
    if current is None:
        raise UnsupportedError(f"rope_scaling: {type(config).__name__} has no max_position_embeddings; "
                               "this architecture does not support RoPE scaling")
    factor = spec.pop("factor", None)
    if factor is None:
        if not model_max_length or model_max_length <= current:
            log.warning("rope_scaling=%s ignored: model_max_length (%s) is not above max_position_embeddings (%s)",
                        rope_type, model_max_length, current)
            return
        factor = float(math.ceil(model_max_length / current))
    params = dict(getattr(config, "rope_parameters", None) or {})
    params.update({"rope_type": rope_type, "factor": float(factor)})
    if rope_type in ("yarn", "llama3"):
        params.setdefault("original_max_position_embeddings", current)
    if rope_type == "llama3":
        params.setdefault("low_freq_factor", 1.0)
        params.setdefault("high_freq_factor", 4.0)
    params.update(spec)
    config.rope_parameters = params
    if rope_type in ("linear", "yarn", "llama3") and model_max_length:
        config.max_position_embeddings = max(current, int(model_max_length))
    log.info("RoPE scaling %s with factor %.1f", rope_type, factor)


def enable_gradient_checkpointing(model: Any, use_reentrant: bool = True) -> None:
    """Gradient checkpointing (recompute activations in backward); turns the KV cache off.

    Inputs get ``requires_grad`` so that checkpointed blocks still backpropagate into adapters
    when every base weight is frozen.
    """
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise UnsupportedError(f"{type(model).__name__} does not support gradient checkpointing; "
                               "set disable_gradient_checkpointing: true")
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": use_reentrant})
    model.enable_input_require_grads()
    model.config.use_cache = False


def resize_embeddings(model: Any, tokenizer: Any, pad_to_multiple_of: int = 64) -> bool:
    """Grow the input/output embeddings to ``len(tokenizer)`` (rounded up); True when resized.

    New rows are initialised to the mean of the old ones (transformers' default), which keeps
    the first loss close to the unresized model's.
    """
    current = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) <= current:
        return False
    model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=pad_to_multiple_of)
    log.info("resized embeddings from %d to %d", current, model.get_input_embeddings().weight.shape[0])
    return True


def apply_liger_kernel(model: Any) -> None:
    """Patch a loaded model with Liger's fused Triton kernels (CUDA only)."""
    if importlib.util.find_spec("liger_kernel") is None:
        raise UnsupportedError("enable_liger_kernel needs the liger-kernel package: pip install ft-models[liger]")
    if not cuda_available():
        raise UnsupportedError("enable_liger_kernel needs a CUDA device (Triton kernels); set enable_liger_kernel: false")
    from liger_kernel.transformers import _apply_liger_kernel_to_instance

    _apply_liger_kernel_to_instance(model=model)
