"""The ``kto`` stage: TRL's ``KTOTrainer`` on ft-data's feedback rows (LLaMA-Factory's ``kto_tag`` data).

Each row is one answer marked desirable (``kto_tag: true``) or not; the loss pulls desirable
answers' log-ratio above the batch's KL estimate and pushes undesirable ones below it, weighted
by ``kto_chosen_weight`` and ``kto_rejected_weight`` (TRL's desirable/undesirable weights), with
``pref_beta`` as β. The reference is as for ``dpo`` (:mod:`ft_train.dpo`): the model with its new
LoRA adapter disabled, the starting model for full/freeze tuning, or ``ref_model``.

What ft adds to TRL: the rows come tokenized by ft-data's feedback processor, whose KL pairs are
LLaMA-Factory's (each prompt with the previous row's answer, fixed at preprocessing). TRL builds
its KL pairs by rotating answers inside each batch, which only holds in a sequential sampling
order, so it insists on one; with fixed pairs any order is valid and ft keeps the sampling the
config asks for, and a batch of one row is valid too (TRL refuses it for the same reason).

Example:
    >>> trainer = build_kto_trainer(cfg, model, tokenizer, train_rows, eval_rows, ref_model=None)
"""

from __future__ import annotations

from typing import Any

from .logprobs import install_labelled_heads
from .preference import PretokenizedRows, drop_reference_adapter_copy


def to_trl_rows(dataset: Any) -> Any:
    """ft-data's feedback columns -> TRL's ``prompt_ids``/``completion_ids``/``KL_completion_ids``/``label``."""
    from .data import split_prompt_label

    if dataset is None:
        return None

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        prompt, _ = split_prompt_label(row["input_ids"], row["labels"])
        kl_prompt, _ = split_prompt_label(row["kl_input_ids"], row["kl_labels"])
        return {"prompt_ids": prompt, "completion_ids": row["input_ids"][len(prompt):],
                "KL_completion_ids": row["kl_input_ids"][len(kl_prompt):], "label": bool(row["kto_tags"]),
                "length": len(row["input_ids"])}

    return dataset.map(convert, remove_columns=dataset.column_names, desc="feedback rows for TRL")


def _trainer_class() -> type:
    from trl import KTOTrainer

    class FtKTOTrainer(PretokenizedRows, KTOTrainer):
        """TRL's KTOTrainer reading rows ft-data already tokenized (with their KL pairs)."""

    return FtKTOTrainer


def build_kto_trainer(cfg: Any, model: Any, tokenizer: Any, train_dataset: Any, eval_dataset: Any,
                      explicit: Any = (), ref_model: Any = None) -> Any:
    """The ``FtKTOTrainer`` for a run, its arguments from ``cfg``."""
    from trl import KTOConfig

    from .trainer import build_training_arguments

    args = build_training_arguments(cfg.model_dump(), explicit=explicit, args_class=KTOConfig, extra={
        "beta": cfg.pref_beta, "loss_type": "kto", "desirable_weight": cfg.kto_chosen_weight,
        "undesirable_weight": cfg.kto_rejected_weight, "precompute_ref_log_probs": cfg.precompute_ref_log_probs,
        "max_length": None, "pad_to_multiple_of": None, "disable_dropout": True,
    })
    # TRL's two checks guard its in-batch KL pairs (see the module docstring); ft-data's pairs are
    # fixed per row, so the configured order and a batch of one (LLaMA-Factory's example) are valid.
    sampling, batch_size = args.train_sampling_strategy, args.per_device_train_batch_size
    args.train_sampling_strategy, args.per_device_train_batch_size = "sequential", max(2, batch_size)
    trainer = _trainer_class()(model=model, ref_model=ref_model, args=args, train_dataset=to_trl_rows(train_dataset),
                               eval_dataset=to_trl_rows(eval_dataset), processing_class=tokenizer)
    trainer.args.train_sampling_strategy, trainer.args.per_device_train_batch_size = sampling, batch_size
    drop_reference_adapter_copy(trainer, cfg)
    install_labelled_heads(trainer)  # CPU: TRL's fallback head scores every position (see ft_train.logprobs)
    return trainer
