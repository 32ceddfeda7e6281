"""The ``dpo`` stage: TRL's ``DPOTrainer`` on ft-data's pairwise rows, LLaMA-Factory's ``pref_*`` keys.

What ft adds to TRL (and nothing else):

- the rows come tokenized by ft-data's pairwise processor (ft's template, LLaMA-Factory's
  cut of prompt and answers to ``cutoff_len``), so TRL's own text pipeline is skipped;
- LLaMA-Factory's keys map to TRL's: ``pref_beta`` -> ``beta``, ``pref_loss`` -> ``loss_type``,
  ``pref_ftx`` -> an ``sft`` term with that weight, ``pref_bco_weight`` -> a ``bco_pair`` term,
  ``ld_alpha`` as is;
- for a freshly initialised LoRA adapter the reference is the same model with the adapter
  disabled: TRL would keep a frozen copy of the adapter, which for a zero-initialised adapter
  computes the same log-probs. A resumed adapter (``adapter_name_or_path``) or PiSSA keeps TRL's
  copy, so the reference is the model as training started (LLaMA-Factory uses the bare base).

``orpo``, ``simpo`` and ``kto_pair`` (LLaMA-Factory computes them itself; TRL 1.x has no such loss
types) and a separate ``ref_model`` are not built yet: asking for them is a config error.

Example:
    >>> check_preference_config(cfg)          # one-line ConfigError before anything loads
    >>> trainer = build_dpo_trainer(cfg, model, tokenizer, data)
"""

from __future__ import annotations

from typing import Any

from ft_core import ConfigError

from .args import _Section

# TRL 1.16's DPOTrainer loss types (its `loss_type` help lists them), accepted by name.
TRL_LOSSES = ("sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
              "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm")
# LLaMA-Factory's own losses that ft does not compute yet.
NOT_BUILT_LOSSES = ("orpo", "simpo", "kto_pair")


class PreferenceArgs(_Section):
    """LLaMA-Factory's preference keys (FinetuningArguments), for the ``dpo`` stage."""

    pref_beta: float = 0.1
    pref_ftx: float = 0.0
    pref_bco_weight: float = 0.0
    pref_loss: str = "sigmoid"
    dpo_label_smoothing: float = 0.0
    ld_alpha: float | None = None
    precompute_ref_log_probs: bool = False


def check_preference_config(cfg: Any) -> None:
    """Raise the first problem of the preference keys as a one-line ``ConfigError`` (exit 2)."""
    if cfg.stage != "dpo":
        return
    if cfg.pref_loss in NOT_BUILT_LOSSES:
        raise ConfigError(f"key 'pref_loss': {cfg.pref_loss!r} is not built in ft yet; use one of "
                          f"{', '.join(TRL_LOSSES)}")
    if cfg.pref_loss not in TRL_LOSSES:
        raise ConfigError(f"key 'pref_loss': unknown loss {cfg.pref_loss!r}; use one of {', '.join(TRL_LOSSES)}")
    if cfg.dpo_label_smoothing:
        raise ConfigError("key 'dpo_label_smoothing': conservative DPO is not built in ft yet; use "
                          "'pref_loss: robust' (TRL's robust DPO reads the same smoothing) or remove it")
    if cfg.pref_beta <= 0:
        raise ConfigError(f"key 'pref_beta': must be > 0 (got {cfg.pref_beta})")
    if cfg.ld_alpha is not None and not 0.0 <= cfg.ld_alpha <= 1.0:
        raise ConfigError(f"key 'ld_alpha': must be in [0, 1] (got {cfg.ld_alpha})")
    if getattr(cfg, "loraplus_lr_ratio", None):
        # LoRA+ parameter groups are built by ft's own Trainer subclass, which the dpo stage does not use
        raise ConfigError("key 'loraplus_lr_ratio': LoRA+ is not built for stage 'dpo' yet; remove it")
    if cfg.finetuning_type != "lora":
        raise ConfigError("stage 'dpo' in ft needs 'finetuning_type: lora' for now (the reference is the model "
                          "with its adapter disabled); a separate ref_model for full/freeze tuning is not built yet")


def loss_types(cfg: Any) -> tuple[list[str], list[float]]:
    """TRL's ``loss_type`` and ``loss_weights`` for the config's ``pref_*`` keys.

    Example:
        >>> loss_types(SimpleNamespace(pref_loss="sigmoid", pref_bco_weight=0.5, pref_ftx=0.1))
        (['sigmoid', 'bco_pair', 'sft'], [1.0, 0.5, 0.1])
    """
    types, weights = [cfg.pref_loss], [1.0]
    if cfg.pref_bco_weight:
        types.append("bco_pair")
        weights.append(float(cfg.pref_bco_weight))
    if cfg.pref_ftx:
        types.append("sft")
        weights.append(float(cfg.pref_ftx))
    return types, weights


def to_trl_rows(dataset: Any) -> Any:
    """ft-data's pairwise columns -> TRL's ``prompt_ids``/``chosen_ids``/``rejected_ids`` (+ ``length``).

    The prompt is the masked (label -100) head both sides share; ``length`` (the longer side)
    lets the Trainer's length-grouped sampler batch pairs of similar length.
    """
    from .data import split_prompt_label

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        n = len(split_prompt_label(row["chosen_input_ids"], row["chosen_labels"])[0])
        chosen, rejected = row["chosen_input_ids"], row["rejected_input_ids"]
        return {"prompt_ids": chosen[:n], "chosen_ids": chosen[n:], "rejected_ids": rejected[n:],
                "length": max(len(chosen), len(rejected))}

    if dataset is None:
        return None
    return dataset.map(convert, remove_columns=dataset.column_names, desc="pairs for TRL")


def _trainer_class() -> type:
    from trl import DPOTrainer

    class FtDPOTrainer(DPOTrainer):
        """TRL's DPOTrainer reading rows ft-data already tokenized."""

        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            # ft-data tokenized the pairs with ft's template and cut them as LLaMA-Factory does;
            # TRL's pipeline would re-render them with the tokenizer's own chat template.
            return dataset

    return FtDPOTrainer


def build_dpo_trainer(cfg: Any, model: Any, tokenizer: Any, train_dataset: Any, eval_dataset: Any,
                      explicit: Any = ()) -> Any:
    """The ``FtDPOTrainer`` for a run: arguments from ``cfg``, the adapter-disabled reference for a new LoRA."""
    from trl import DPOConfig

    from .trainer import build_training_arguments

    types, weights = loss_types(cfg)
    args = build_training_arguments(cfg.model_dump(), explicit=explicit, args_class=DPOConfig, extra={
        "beta": cfg.pref_beta, "loss_type": types, "loss_weights": weights, "ld_alpha": cfg.ld_alpha,
        "label_smoothing": cfg.dpo_label_smoothing, "precompute_ref_log_probs": cfg.precompute_ref_log_probs,
        # ft-data already cut the rows to cutoff_len; padding to a multiple only costs work on CPU
        "max_length": None, "pad_to_multiple_of": None, "disable_dropout": True,
    })
    trainer = _trainer_class()(model=model, args=args, train_dataset=to_trl_rows(train_dataset),
                               eval_dataset=to_trl_rows(eval_dataset), processing_class=tokenizer)
    fresh = not cfg.adapter_name_or_path and not getattr(cfg, "pissa_init", False)
    peft_model = trainer.accelerator.unwrap_model(trainer.model)
    if fresh and "ref" in getattr(peft_model, "peft_config", {}):
        # A new adapter starts at zero (LoRA's B = 0): disabling it gives the reference exactly,
        # without keeping TRL's frozen copy of the adapter.
        peft_model.delete_adapter("ref")
        peft_model.set_adapter("default")
    return trainer
