"""One call from ``ModelArgs`` + ``FinetuningArgs`` to a (model, tokenizer) pair ready to train or infer.

Order, as in LLaMA-Factory: tokenizer (added tokens) → config patches (attention, RoPE, KV cache,
quantization) → model → model patches (embedding resize, gradient checkpointing, layer-norm and
LM-head upcast, MoE auxiliary loss) → adapter.

Example:
    >>> model, tok = load_model_and_tokenizer(
    ...     ModelArgs(model_name_or_path="smollm2-135m-instruct"),
    ...     FinetuningArgs(finetuning_type="lora", lora_target="all"), is_trainable=True)
"""

from __future__ import annotations

from typing import Any

from ft_core import get_logger

from .adapters import apply_adapter
from .args import FinetuningArgs, ModelArgs, check_args
from .loading import load_model, load_tokenizer
from .patches import resize_embeddings, resolve_dtype
from .quantization import bnb_config

log = get_logger(__name__)


def compute_dtype(model_args: ModelArgs):
    """The dtype weights are loaded in: ``compute_dtype`` when ft-train set it, else ``infer_dtype``."""
    return resolve_dtype(model_args.compute_dtype or model_args.infer_dtype)


def tokenizer_from_args(model_args: ModelArgs):
    """The tokenizer ``ModelArgs`` describes (``use_fast_tokenizer``, added tokens, revision...)."""
    return load_tokenizer(
        model_args.model_name_or_path, revision=model_args.model_revision, cache_dir=model_args.cache_dir,
        trust_remote_code=model_args.trust_remote_code, use_fast=model_args.use_fast_tokenizer,
        split_special_tokens=model_args.split_special_tokens, add_tokens=model_args.add_tokens,
        add_special_tokens=model_args.add_special_tokens,
    )


def _upcast_layernorm(model: Any) -> None:
    import torch

    for name, param in model.named_parameters():
        if param.ndim == 1 and "norm" in name:
            param.data = param.data.to(torch.float32)


def _upcast_lmhead_output(model: Any) -> None:
    import torch

    head = model.get_output_embeddings()
    if head is not None:
        head.register_forward_hook(lambda module, args, output: output.to(torch.float32))


def _moe_aux_loss(model_or_config: Any, coef: float) -> bool:
    config = getattr(model_or_config, "config", model_or_config)
    for key in ("router_aux_loss_coef", "aux_loss_coef"):
        if hasattr(config, key):
            setattr(config, key, coef)
            config.output_router_logits = True
            return True
    log.warning("moe_aux_loss_coef ignored: %s is not a mixture-of-experts model", type(config).__name__)
    return False


def load_model_and_tokenizer(model_args: ModelArgs, finetuning_args: FinetuningArgs | None = None,
                             is_trainable: bool = False, head: str = "lm"):
    """Load tokenizer and model, patch them and apply the adapter; returns ``(model, tokenizer)``.

    ``head="score"`` loads a reward model (see :func:`ft_models.load_model`); its padding token is
    the tokenizer's, so the score is read at the last real token of right-padded rows.

    ``is_trainable=False`` loads for inference: adapters merged, every parameter frozen, eval mode,
    KV cache on (``use_kv_cache``). ``is_trainable=True`` turns gradient checkpointing on unless
    ``disable_gradient_checkpointing`` and the KV cache off.

    Example:
        >>> model, tok = load_model_and_tokenizer(ModelArgs(model_name_or_path=path), FinetuningArgs(), True)
    """
    finetuning_args = finetuning_args or FinetuningArgs()
    check_args(model_args, finetuning_args, is_trainable)
    dtype = compute_dtype(model_args)
    quant = None
    if model_args.quantization_bit is not None:  # before any loading: fail fast on a CPU-only machine
        quant = bnb_config(model_args.quantization_bit, compute_dtype=dtype, quant_type=model_args.quantization_type,
                           double_quant=model_args.double_quantization)
    tokenizer = tokenizer_from_args(model_args)
    use_cache = model_args.use_cache if model_args.use_cache is not None else (
        model_args.use_kv_cache and not is_trainable)
    device_map = None
    if quant is not None:
        import torch

        device_map = {"": torch.cuda.current_device()}  # bnb weights must be placed at load time
    model = load_model(
        model_args.model_name_or_path, dtype=dtype, attn_implementation=model_args.flash_attn,
        revision=model_args.model_revision, cache_dir=model_args.cache_dir,
        trust_remote_code=model_args.trust_remote_code, rope_scaling=model_args.rope_scaling,
        model_max_length=model_args.model_max_length, use_cache=use_cache,
        enable_liger_kernel=model_args.enable_liger_kernel, quantization_config=quant, device_map=device_map,
        train_from_scratch=model_args.train_from_scratch, head=head,
    )
    if head == "score" and model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if model_args.resize_vocab:
        resize_embeddings(model, tokenizer)
    if model_args.moe_aux_loss_coef is not None:
        _moe_aux_loss(model, model_args.moe_aux_loss_coef)
    if is_trainable:
        if quant is not None:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=not model_args.disable_gradient_checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": model_args.use_reentrant_gc})
        elif not model_args.disable_gradient_checkpointing:
            from .patches import enable_gradient_checkpointing

            enable_gradient_checkpointing(model, use_reentrant=model_args.use_reentrant_gc)
        if model_args.upcast_layernorm:
            _upcast_layernorm(model)
        if model_args.upcast_lmhead_output:
            _upcast_lmhead_output(model)
    model = apply_adapter(model, finetuning_args, adapters=model_args.adapters, is_trainable=is_trainable,
                          resize_vocab=model_args.resize_vocab)
    if is_trainable:
        model.train()
    else:
        model.eval()
    if model_args.print_param_status:
        for name, param in model.named_parameters():
            print(f"{name}: {param.dtype} {tuple(param.shape)} trainable={param.requires_grad}")
    return model, tokenizer
