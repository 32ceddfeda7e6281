"""ft-models: load models and tokenizers (hub id, local dir, GGUF file, built-in alias), patch them,
add adapters (LoRA, DoRA, rsLoRA, PiSSA, LoRA+, freeze, full) and merge LoRA into a base.

Example:
    >>> from ft_models import load_model, load_tokenizer
    >>> tok = load_tokenizer("smollm2-135m-instruct")
    >>> model = load_model("smollm2-135m-instruct", dtype="float32")
"""

__version__ = "0.1.0"

from .adapters import (
    apply_adapter,
    find_lora_targets,
    freeze_trainable_names,
    is_score_model,
    linear_module_names,
    load_adapters,
)
from .args import UNSUPPORTED_KEYS, FinetuningArgs, ModelArgs, check_args
from .builder import compute_dtype, load_model_and_tokenizer, tokenizer_from_args
from .gguf_import import import_gguf
from .info import model_info
from .loading import HEADS, load_config, load_model, load_tokenizer
from .loraplus import loraplus_param_groups
from .merge import merge_lora, merge_lora_into
from .patches import (
    apply_rope_scaling,
    enable_gradient_checkpointing,
    resize_embeddings,
    resolve_attn_implementation,
    resolve_dtype,
)
from .quantization import bnb_config, is_quantized
from .resolve import ALIASES, build_once, register_alias, resolve_model_path
from .saving import save_adapter, save_pissa_init

__all__ = [
    "ALIASES",
    "HEADS",
    "UNSUPPORTED_KEYS",
    "FinetuningArgs",
    "ModelArgs",
    "__version__",
    "apply_adapter",
    "apply_rope_scaling",
    "bnb_config",
    "build_once",
    "check_args",
    "compute_dtype",
    "enable_gradient_checkpointing",
    "find_lora_targets",
    "freeze_trainable_names",
    "import_gguf",
    "is_quantized",
    "is_score_model",
    "linear_module_names",
    "load_adapters",
    "load_config",
    "load_model",
    "load_model_and_tokenizer",
    "load_tokenizer",
    "loraplus_param_groups",
    "merge_lora",
    "merge_lora_into",
    "model_info",
    "register_alias",
    "resize_embeddings",
    "resolve_attn_implementation",
    "resolve_dtype",
    "resolve_model_path",
    "save_adapter",
    "save_pissa_init",
    "tokenizer_from_args",
]
