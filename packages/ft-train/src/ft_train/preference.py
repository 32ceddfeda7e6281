"""LLaMA-Factory's preference keys (``pref_*``, ``dpo_*``, ``kto_*``, ``simpo_gamma``, ``ref_model*``)
and the checks that run on them before anything loads.

Example:
    >>> check_preference_config(cfg)      # one-line ConfigError (exit 2) before the model loads
    >>> dpo_loss_name(cfg)                # which loss a dpo run computes
    'sigmoid'
"""

from __future__ import annotations

from typing import Any

from ft_core import ConfigError

from .args import _Section
from .pref_losses import FT_LOSSES, REFERENCE_FREE

# TRL 1.16's DPOTrainer loss types (its `loss_type` help lists them), accepted by name.
TRL_LOSSES = ("sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
              "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm")
# The names `pref_loss` accepts: TRL's and LLaMA-Factory's own (cDPO is sigmoid + dpo_label_smoothing).
PREF_LOSSES = (*TRL_LOSSES, "orpo", "simpo", "kto_pair")
# TRL losses that read `label_smoothing` themselves.
TRL_SMOOTHED = ("robust", "exo_pair", "aot", "aot_unpaired")
PREFERENCE_STAGES = ("dpo", "kto", "rm")


class PreferenceArgs(_Section):
    """LLaMA-Factory's preference keys (FinetuningArguments), for the ``dpo``, ``kto`` and ``rm`` stages."""

    pref_beta: float = 0.1
    pref_ftx: float = 0.0
    pref_bco_weight: float = 0.0
    pref_loss: str = "sigmoid"
    dpo_label_smoothing: float = 0.0
    simpo_gamma: float = 0.5
    kto_chosen_weight: float = 1.0
    kto_rejected_weight: float = 1.0
    ld_alpha: float | None = None
    precompute_ref_log_probs: bool = False
    ref_model: str | None = None
    ref_model_adapters: str | None = None
    ref_model_quantization_bit: int | None = None


class PretokenizedRows:
    """Mixin for TRL's trainers: the rows arrive tokenized by ft-data, so TRL's text pipeline is skipped.

    ft-data rendered them with ft's template, cut them to ``cutoff_len`` as LLaMA-Factory does and
    (for KTO) built the KL pairs; TRL's pipeline would re-render them with the tokenizer's own
    chat template.
    """

    def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
        return dataset


def dpo_loss_name(cfg: Any) -> str:
    """The loss a dpo run computes: ``pref_loss``, or ``cdpo`` for sigmoid with label smoothing."""
    if cfg.pref_loss == "sigmoid" and cfg.dpo_label_smoothing:
        return "cdpo"
    return cfg.pref_loss


def uses_reference(cfg: Any) -> bool:
    """Whether the run's loss reads a reference model (everything but ORPO and SimPO; KTO does)."""
    return cfg.stage == "kto" or (cfg.stage == "dpo" and dpo_loss_name(cfg) not in REFERENCE_FREE)


def check_preference_config(cfg: Any) -> None:
    """Raise the first problem of the preference keys as a one-line ``ConfigError`` (exit 2)."""
    if cfg.stage not in PREFERENCE_STAGES:
        return
    if cfg.pref_beta <= 0:
        raise ConfigError(f"key 'pref_beta': must be > 0 (got {cfg.pref_beta})")
    if getattr(cfg, "loraplus_lr_ratio", None):
        # LoRA+ parameter groups are built by ft's own Trainer subclass, which TRL's trainers are not
        raise ConfigError(f"key 'loraplus_lr_ratio': LoRA+ is not built for stage {cfg.stage!r} yet; remove it")
    if cfg.stage == "rm":
        if cfg.load_best_model_at_end:
            raise ConfigError("key 'load_best_model_at_end': not allowed for stage 'rm' (as in LLaMA-Factory)")
        if cfg.ref_model:
            raise ConfigError("key 'ref_model': stage 'rm' has no reference model; remove it")
        return
    if cfg.ref_model_adapters and not cfg.ref_model:
        raise ConfigError("key 'ref_model_adapters': needs 'ref_model' (the model the adapters belong to)")
    if cfg.ref_model and not uses_reference(cfg):
        raise ConfigError(f"key 'ref_model': pref_loss {cfg.pref_loss!r} is reference-free; remove ref_model")
    if cfg.ld_alpha is not None and not 0.0 <= cfg.ld_alpha <= 1.0:
        raise ConfigError(f"key 'ld_alpha': must be in [0, 1] (got {cfg.ld_alpha})")
    if cfg.stage == "kto":
        if "pref_loss" in cfg.model_fields_set and cfg.pref_loss != "sigmoid":
            raise ConfigError(f"key 'pref_loss': stage 'kto' has one loss (KTO's); remove pref_loss {cfg.pref_loss!r}")
        if cfg.pref_ftx:
            raise ConfigError("key 'pref_ftx': the SFT term is not built for stage 'kto' yet; remove it")
        for key in ("ld_alpha", "pref_bco_weight", "dpo_label_smoothing"):
            if getattr(cfg, key):
                raise ConfigError(f"key {key!r}: stage 'kto' does not read it (a dpo key); remove it")
        for key in ("kto_chosen_weight", "kto_rejected_weight"):
            if getattr(cfg, key) <= 0:
                raise ConfigError(f"key {key!r}: must be > 0 (got {getattr(cfg, key)})")
        return
    if cfg.pref_loss not in PREF_LOSSES:
        raise ConfigError(f"key 'pref_loss': unknown loss {cfg.pref_loss!r}; use one of {', '.join(PREF_LOSSES)}")
    loss = dpo_loss_name(cfg)
    if not 0.0 <= cfg.dpo_label_smoothing < 0.5:
        raise ConfigError(f"key 'dpo_label_smoothing': must be in [0, 0.5) (got {cfg.dpo_label_smoothing})")
    if cfg.dpo_label_smoothing and loss not in ("cdpo", *TRL_SMOOTHED):
        raise ConfigError(f"key 'dpo_label_smoothing': pref_loss {cfg.pref_loss!r} does not read it; use it with "
                          f"sigmoid (cDPO) or {', '.join(TRL_SMOOTHED)}")
    if loss in FT_LOSSES and cfg.pref_bco_weight:
        raise ConfigError(f"key 'pref_bco_weight': the BCO term is built for TRL's losses only, not for "
                          f"pref_loss {cfg.pref_loss!r}{' with dpo_label_smoothing' if loss == 'cdpo' else ''}")
    if loss in REFERENCE_FREE and cfg.precompute_ref_log_probs:
        raise ConfigError(f"key 'precompute_ref_log_probs': pref_loss {cfg.pref_loss!r} reads no reference")
    if cfg.simpo_gamma < 0:
        raise ConfigError(f"key 'simpo_gamma': must be >= 0 (got {cfg.simpo_gamma})")


def check_reference_vocabulary(cfg: Any, tokenizer: Any) -> None:
    """``ref_model`` must tokenize as the policy does (log-probs are compared token by token).

    Reads only the reference's tokenizer, so a wrong ``ref_model`` fails before any weights load.
    """
    if not getattr(cfg, "ref_model", None):
        return
    import ft_models

    try:
        ref_tokenizer = ft_models.tokenizer_from_args(ft_models.ModelArgs(
            model_name_or_path=cfg.ref_model, trust_remote_code=cfg.trust_remote_code, cache_dir=cfg.cache_dir))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"key 'ref_model': cannot load a tokenizer from {cfg.ref_model!r} ({exc})") from exc
    ours, theirs = tokenizer.get_vocab(), ref_tokenizer.get_vocab()
    if ours != theirs:
        differ = sum(1 for tok, i in theirs.items() if ours.get(tok) != i) + max(0, len(ours) - len(theirs))
        raise ConfigError(f"key 'ref_model': {cfg.ref_model!r} has another vocabulary ({len(theirs)} tokens, "
                          f"{differ} differ from model_name_or_path's {len(ours)}); the reference must share "
                          "the policy's tokenizer")


def reference_model_args(cfg: Any) -> Any:
    """``ft_models.ModelArgs`` of the separate reference model a run loads, or ``None`` for none.

    ``ref_model`` (+ ``ref_model_adapters`` merged, ``ref_model_quantization_bit``) when given;
    otherwise, for full or freeze tuning, the starting model itself (LLaMA-Factory does the same).
    A LoRA run without ``ref_model`` needs none: the reference is the model with its adapter
    disabled. Reference-free losses need none either, nor ``precompute_ref_log_probs`` without
    ``ref_model`` (the policy computes them before it trains).
    """
    from .modeling import model_args

    if not uses_reference(cfg) or (cfg.finetuning_type == "lora" and not cfg.ref_model):
        return None
    if cfg.precompute_ref_log_probs and not cfg.ref_model:
        return None  # TRL precomputes with the policy before its first step: no second copy needed
    base = model_args(cfg, is_trainable=False)
    if not cfg.ref_model:
        return base
    return base.model_copy(update={
        "model_name_or_path": cfg.ref_model,
        "adapter_name_or_path": [cfg.ref_model_adapters] if cfg.ref_model_adapters else None,
        "adapter_folder": None, "quantization_bit": cfg.ref_model_quantization_bit})


def drop_reference_adapter_copy(trainer: Any, cfg: Any) -> None:
    """Delete the frozen copy of the adapter TRL keeps as the reference ("ref") when it is not needed.

    A new LoRA adapter starts at zero (B = 0), so the model with the adapter disabled is the
    reference exactly; reference-free losses need no reference at all. A resumed adapter
    (``adapter_name_or_path``) or PiSSA keeps the copy: the reference is the model as training started.
    """
    fresh = not cfg.adapter_name_or_path and not getattr(cfg, "pissa_init", False)
    peft_model = trainer.accelerator.unwrap_model(trainer.model)
    if (fresh or not uses_reference(cfg)) and "ref" in getattr(peft_model, "peft_config", {}):
        peft_model.delete_adapter("ref")
        peft_model.set_adapter("default")


def load_reference_model(cfg: Any) -> Any:
    """The frozen reference model of a run (see :func:`reference_model_args`), or ``None``."""
    import ft_models

    args = reference_model_args(cfg)
    if args is None:
        return None
    finetuning = ft_models.FinetuningArgs(finetuning_type="lora" if args.adapter_name_or_path else "full")
    model, _ = ft_models.load_model_and_tokenizer(args, finetuning, is_trainable=False)
    return model


__all__ = ["PREF_LOSSES", "TRL_LOSSES", "PreferenceArgs", "PretokenizedRows", "check_preference_config", "check_reference_vocabulary",
           "dpo_loss_name", "drop_reference_adapter_copy", "load_reference_model", "reference_model_args", "uses_reference"]
