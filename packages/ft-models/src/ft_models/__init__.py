"""ft-models: load models and tokenizers (hub id, local dir, GGUF file, built-in alias), patch them,
add adapters (LoRA, DoRA, rsLoRA, PiSSA, LoRA+, freeze, full) and merge LoRA into a base.

Example:
    >>> from ft_models import load_model, load_tokenizer
    >>> tok = load_tokenizer("smollm2-135m-instruct")
    >>> model = load_model("smollm2-135m-instruct", dtype="float32")
"""

__version__ = "0.1.0"

from .gguf_import import import_gguf
from .loading import load_config, load_model, load_tokenizer
from .patches import (
    enable_gradient_checkpointing,
    resize_embeddings,
    resolve_attn_implementation,
    resolve_dtype,
)
from .resolve import ALIASES, build_once, register_alias, resolve_model_path

__all__ = [
    "ALIASES",
    "__version__",
    "build_once",
    "enable_gradient_checkpointing",
    "import_gguf",
    "load_config",
    "load_model",
    "load_tokenizer",
    "register_alias",
    "resize_embeddings",
    "resolve_attn_implementation",
    "resolve_dtype",
    "resolve_model_path",
]
