"""Model, tokenizer and template for a run, from the config (delegates to ft-models and ft-templates).

Example:
    >>> tokenizer, template = load_tokenizer_and_template(cfg)
    >>> model = load_trainable_model(cfg, tokenizer)
"""

from __future__ import annotations

from typing import Any

import ft_models
from ft_core import ConfigError, get_logger

log = get_logger("ft.train")


def _attn(cfg: Any) -> str | None:
    return None if cfg.flash_attn == "auto" else cfg.flash_attn


def load_tokenizer_and_template(cfg: Any) -> tuple[Any, Any]:
    """The tokenizer (right padding, pad token set) and the chat template fixed up for it."""
    import ft_templates

    tokenizer = ft_models.load_tokenizer(
        cfg.model_name_or_path, revision=cfg.model_revision, cache_dir=cfg.cache_dir,
        trust_remote_code=cfg.trust_remote_code, use_fast=cfg.use_fast_tokenizer,
        split_special_tokens=cfg.split_special_tokens, add_tokens=cfg.add_tokens,
        add_special_tokens=cfg.add_special_tokens)
    thinking = {True: None, False: "off", None: None}.get(getattr(cfg, "enable_thinking", None))
    try:
        template = ft_templates.prepare_template(
            getattr(cfg, "template", None), tokenizer, tool_format=getattr(cfg, "tool_format", None),
            default_system=getattr(cfg, "default_system", None), thinking=thinking,
            preserve_thinking=getattr(cfg, "preserve_thinking", None))
    except ValueError as exc:
        raise ConfigError(f"key 'template': {exc}") from exc
    try:
        # The chat template saved with every checkpoint and the final model is the one trained on.
        tokenizer.chat_template = template.to_jinja()
    except ValueError as exc:
        log.warning("template %r has no Jinja form (%s); keeping the tokenizer's own chat template",
                    template.name, exc)
    return tokenizer, template


def load_trainable_model(cfg: Any, tokenizer: Any, *, is_trainable: bool = True) -> Any:
    """The model with its adapter (LoRA/freeze/full) set up for training."""
    import torch

    on_cuda = torch.cuda.is_available()
    # On CPU gradient checkpointing costs ~30% of the step time to save memory that CPU machines
    # have; it stays on for GPUs (LLaMA-Factory's default) unless disabled in the config.
    checkpointing = is_trainable and on_cuda and not cfg.disable_gradient_checkpointing
    dtype = "float32" if not on_cuda and cfg.infer_dtype == "auto" else cfg.infer_dtype
    if getattr(cfg, "bf16", False) or getattr(cfg, "pure_bf16", False):
        dtype = "bfloat16" if cfg.pure_bf16 else dtype
    model = ft_models.load_model(
        cfg.model_name_or_path, dtype=dtype, attn_implementation=_attn(cfg), revision=cfg.model_revision,
        cache_dir=cfg.cache_dir, trust_remote_code=cfg.trust_remote_code, rope_scaling=cfg.rope_scaling,
        model_max_length=getattr(cfg, "cutoff_len", None), use_cache=not is_trainable,
        gradient_checkpointing=checkpointing, use_reentrant_gc=cfg.use_reentrant_gc,
        enable_liger_kernel=cfg.enable_liger_kernel, train_from_scratch=cfg.train_from_scratch)
    if cfg.resize_vocab or cfg.add_tokens or cfg.add_special_tokens:
        ft_models.resize_embeddings(model, tokenizer)
    return ft_models.apply_adapter(model, cfg, is_trainable=is_trainable)
