"""On-the-fly quantization (bitsandbytes 4/8-bit, i.e. QLoRA) and detecting quantized models.

bitsandbytes kernels need CUDA: on a CPU-only machine, or without the package, asking for
``quantization_bit`` raises ``UnsupportedError`` (exit 2) with the way out.

Example:
    >>> config = bnb_config(4, compute_dtype=torch.bfloat16)   # on a CUDA machine
    >>> model = load_model("smollm2-135m-instruct", quantization_config=config)
"""

from __future__ import annotations

import importlib.util
from typing import Any

from ft_core import ConfigError, UnsupportedError


def is_quantized(model_or_config: Any) -> bool:
    """True for a model (or config) carrying a ``quantization_config`` (bnb, GPTQ, AWQ, GGUF, ...)."""
    config = getattr(model_or_config, "config", model_or_config)
    if getattr(model_or_config, "is_quantized", False):
        return True
    qc = config.get("quantization_config") if isinstance(config, dict) else getattr(config, "quantization_config", None)
    return bool(qc)


def bnb_config(bits: int, *, compute_dtype: Any = None, quant_type: str = "nf4", double_quant: bool = True):
    """A ``BitsAndBytesConfig`` for ``bits`` = 4 (NF4/FP4, optional double quantization) or 8."""
    from .patches import cuda_available

    if bits not in (4, 8):
        raise ConfigError(f"quantization_bit={bits}: bitsandbytes supports 4 or 8")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise UnsupportedError(f"quantization_bit={bits} needs bitsandbytes: pip install ft-models[bitsandbytes]")
    if not cuda_available():
        raise UnsupportedError(f"quantization_bit={bits} (QLoRA) needs a CUDA device; on CPU remove quantization_bit "
                               "and train LoRA on the unquantised model")
    from transformers import BitsAndBytesConfig

    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_quant_type=quant_type,
        bnb_4bit_use_double_quant=double_quant,
        bnb_4bit_quant_storage=compute_dtype,
    )
