"""Load a tokenizer and a causal LM from anything :func:`resolve_model_path` accepts.

Example:
    >>> tok = load_tokenizer("smollm2-135m-instruct")
    >>> model = load_model("smollm2-135m-instruct", dtype="float32")
    >>> model.config.num_hidden_layers
    30
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ft_core import BadInputError, get_logger

from .patches import (
    apply_liger_kernel,
    apply_rope_scaling,
    enable_gradient_checkpointing,
    resolve_attn_implementation,
    resolve_dtype,
)
from .resolve import resolve_model_path

# The heads `load_model` puts on a checkpoint: the LM head, or a one-output score (reward models).
HEADS = ("lm", "score")

log = get_logger(__name__)


def load_tokenizer(
    name_or_path: str,
    *,
    revision: str | None = None,
    cache_dir: str | None = None,
    trust_remote_code: bool = False,
    use_fast: bool = True,
    padding_side: str = "right",
    split_special_tokens: bool = False,
    add_tokens: Sequence[str] | None = None,
    add_special_tokens: Sequence[str] | None = None,
    **kwargs: Any,
):
    """An ``AutoTokenizer`` with right padding and a pad token (the EOS token when it has none).

    ``add_tokens`` / ``add_special_tokens`` add new tokens; the model's embeddings then need
    :func:`ft_models.patches.resize_embeddings` (``load_model_and_tokenizer`` does it).

    Example:
        >>> load_tokenizer("smollm2-135m-instruct").eos_token
        '<|im_end|>'
    """
    from transformers import AutoTokenizer

    path = resolve_model_path(name_or_path, revision=revision, cache_dir=cache_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(path), use_fast=use_fast, trust_remote_code=trust_remote_code, padding_side=padding_side,
            split_special_tokens=split_special_tokens, **kwargs,
        )
    except (OSError, ValueError) as exc:
        raise BadInputError(f"model {name_or_path!r}: cannot load its tokenizer: {str(exc).splitlines()[0]}") from exc
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    if add_tokens:
        added = tokenizer.add_tokens(list(add_tokens), special_tokens=False)
        log.info("added %d tokens", added)
    if add_special_tokens:
        added = tokenizer.add_tokens(list(add_special_tokens), special_tokens=True)
        log.info("added %d special tokens", added)
    return tokenizer


def load_config(name_or_path: str, *, revision: str | None = None, cache_dir: str | None = None,
                trust_remote_code: bool = False):
    """The transformers config of a model (resolving aliases and GGUF files first)."""
    from transformers import AutoConfig

    path = resolve_model_path(name_or_path, revision=revision, cache_dir=cache_dir)
    try:
        return AutoConfig.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as exc:
        raise BadInputError(f"model {name_or_path!r}: cannot read its config: {str(exc).splitlines()[0]}") from exc


def load_model(
    name_or_path: str,
    *,
    dtype: Any = "auto",
    attn_implementation: str | None = None,
    revision: str | None = None,
    cache_dir: str | None = None,
    trust_remote_code: bool = False,
    rope_scaling: str | dict | None = None,
    model_max_length: int | None = None,
    use_cache: bool | None = None,
    gradient_checkpointing: bool = False,
    use_reentrant_gc: bool = True,
    enable_liger_kernel: bool = False,
    device_map: Any = None,
    quantization_config: Any = None,
    train_from_scratch: bool = False,
    head: str = "lm",
    **kwargs: Any,
):
    """A causal LM (``AutoModelForCausalLM``) ready to train or evaluate, or a reward model.

    ``head``: ``lm`` (the language-model head) or ``score`` (``AutoModelForSequenceClassification``
    with one output: a scalar reward read at the last non-padding token; a new head is initialised
    randomly when the checkpoint is a causal LM).

    ``dtype``: ``auto|bfloat16|float16|float32`` (auto = float32 on CPU). ``attn_implementation``:
    ``auto|sdpa|eager|fa2|fa3`` (LLaMA-Factory's ``flash_attn`` values, HF names also accepted).
    ``rope_scaling``: ``linear|dynamic|yarn|llama3`` with ``model_max_length`` (tokens).
    ``train_from_scratch`` builds random weights from the config.

    Example:
        >>> model = load_model("smollm2-135m-instruct", dtype="float32", attn_implementation="sdpa")
    """
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if head not in HEADS:
        raise ValueError(f"head {head!r}: use one of {', '.join(HEADS)}")
    auto_cls = AutoModelForSequenceClassification if head == "score" else AutoModelForCausalLM
    torch_dtype = resolve_dtype(dtype)
    config = load_config(name_or_path, revision=revision, cache_dir=cache_dir, trust_remote_code=trust_remote_code)
    if head == "score":
        config.num_labels = 1
    apply_rope_scaling(config, rope_scaling, model_max_length)
    if use_cache is not None:
        config.use_cache = use_cache
    attn = resolve_attn_implementation(attn_implementation, config)
    path = resolve_model_path(name_or_path, revision=revision, cache_dir=cache_dir)
    common = {"dtype": torch_dtype, "trust_remote_code": trust_remote_code}
    try:
        if train_from_scratch:
            model = _from_config(auto_cls, config, attn, common)
        else:
            model = _from_pretrained(auto_cls, path, config, attn, common,
                                     device_map=device_map, quantization_config=quantization_config, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise BadInputError(f"model {name_or_path!r}: cannot load it: {str(exc).splitlines()[0]}") from exc
    if gradient_checkpointing:
        enable_gradient_checkpointing(model, use_reentrant=use_reentrant_gc)
    if enable_liger_kernel:
        apply_liger_kernel(model)
    return model


def _from_pretrained(auto_cls: Any, path: Any, config: Any, attn: str, common: dict, **kwargs: Any):
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        return auto_cls.from_pretrained(str(path), config=config, attn_implementation=attn, **common, **kwargs)
    except ValueError as exc:
        # Architectures without an SDPA path refuse it; "auto" means "the best available", so fall back.
        if attn != "sdpa" or "sdpa" not in str(exc).lower():
            raise
        log.info("%s has no SDPA attention; using eager", type(config).__name__)
        return auto_cls.from_pretrained(str(path), config=config, attn_implementation="eager", **common, **kwargs)


def _from_config(auto_cls: Any, config: Any, attn: str, common: dict):
    try:
        return auto_cls.from_config(config, attn_implementation=attn, **common)
    except ValueError:
        return auto_cls.from_config(config, attn_implementation="eager", **common)
