"""The ``dpo`` stage: TRL's ``DPOTrainer`` on ft-data's pairwise rows, LLaMA-Factory's ``pref_*`` keys.

What ft adds to TRL (and nothing else):

- the rows come tokenized by ft-data's pairwise processor (ft's template, LLaMA-Factory's
  cut of prompt and answers to ``cutoff_len``), so TRL's own text pipeline is skipped;
- LLaMA-Factory's keys map to TRL's: ``pref_beta`` -> ``beta``, ``pref_loss`` -> ``loss_type``,
  ``pref_ftx`` -> an ``sft`` term with that weight, ``pref_bco_weight`` -> a ``bco_pair`` term,
  ``ld_alpha`` as is;
- LLaMA-Factory's own losses that TRL 1.x lacks (``orpo``, ``simpo``, ``kto_pair``, cDPO =
  ``sigmoid`` with ``dpo_label_smoothing``) are computed by :mod:`ft_train.pref_losses` in
  ``FtDPOTrainer._compute_loss``; ORPO and SimPO hold no reference model at all;
- the reference: ``ref_model`` (+ adapters, quantization) loaded by ft-models when given, the
  starting model for full/freeze tuning, and for a freshly initialised LoRA adapter the same
  model with the adapter disabled (TRL would keep a frozen copy of the adapter, which for a
  zero-initialised adapter computes the same log-probs). A resumed adapter
  (``adapter_name_or_path``) or PiSSA keeps TRL's copy, so the reference is the model as training
  started (LLaMA-Factory uses the bare base).

Example:
    >>> check_preference_config(cfg)          # one-line ConfigError before anything loads
    >>> trainer = build_dpo_trainer(cfg, model, tokenizer, train_rows, eval_rows, ref_model=None)
"""

from __future__ import annotations

from typing import Any

from .logprobs import install_labelled_heads
from .pref_losses import (
    FT_LOSSES,
    LENGTH_AVERAGED,
    REFERENCE_FREE,
    cdpo_loss,
    kto_pair_loss,
    orpo_loss,
    simpo_loss,
)
from .preference import PretokenizedRows, dpo_loss_name, drop_reference_adapter_copy


def loss_types(cfg: Any) -> tuple[list[str], list[float]]:
    """TRL's ``loss_type`` and ``loss_weights`` for the config's ``pref_*`` keys.

    ft's own losses give TRL a plain ``sigmoid`` (it validates the name; ft computes the loss).

    Example:
        >>> loss_types(SimpleNamespace(pref_loss="sigmoid", pref_bco_weight=0.5, pref_ftx=0.1, ...))
        (['sigmoid', 'bco_pair', 'sft'], [1.0, 0.5, 0.1])
    """
    if dpo_loss_name(cfg) in FT_LOSSES:
        return ["sigmoid"], [1.0]
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


def _answer_logps(per_token: Any, mask: Any, ld_alpha: float | None) -> Any:
    """Per-sequence answer log-probs: the sum, or LD-DPO's shared part + α · the longer side's tail."""
    import torch

    if ld_alpha is None:
        return (per_token * mask).sum(dim=1)
    position = mask.cumsum(dim=1)
    chosen_len, rejected_len = mask.sum(dim=1).chunk(2)
    shared = torch.minimum(chosen_len, rejected_len).repeat(2).unsqueeze(1)
    in_shared = (position > 0) & (position <= shared) & mask.bool()
    in_tail = (position > shared) & mask.bool()
    return (per_token * in_shared).sum(dim=1) + ld_alpha * (per_token * in_tail).sum(dim=1)


def _trainer_class() -> type:
    from trl import DPOTrainer

    class FtDPOTrainer(PretokenizedRows, DPOTrainer):
        """TRL's DPOTrainer reading rows ft-data already tokenized, with LLaMA-Factory's own losses."""

        def __init__(self, *args: Any, ft_loss: str | None = None, ft_params: dict[str, float] | None = None,
                     **kwargs: Any) -> None:
            # Set before TRL's __init__: it precomputes reference log-probs inside, which reads ft_loss.
            self.ft_loss, self.ft_params = ft_loss, ft_params or {}
            super().__init__(*args, **kwargs)

        def _precompute_ref_logps(self, dataset: Any, name: str, batch_size: int) -> Any:
            # TRL has no reference-free mode: `precompute_ref_log_probs=True` is the one switch that
            # stops it from holding a reference model, and for ORPO/SimPO there is nothing to precompute.
            if self.ft_loss in REFERENCE_FREE:
                return dataset
            return super()._precompute_ref_logps(dataset, name, batch_size)

        def _compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool) -> Any:
            if self.ft_loss is None:
                return super()._compute_loss(model, inputs, return_outputs)
            if return_outputs:
                raise ValueError("ft's preference losses return no logits (compute_metrics is not supported)")
            return self._ft_loss(model, inputs)

        def _ft_loss(self, model: Any, inputs: dict[str, Any]) -> Any:
            mode = "train" if self.model.training else "eval"
            reference_keys = ("completion_mask", "ref_chosen_logps", "ref_rejected_logps")
            model_kwargs = {k: v for k, v in inputs.items() if k not in reference_keys}
            completion_mask = inputs["completion_mask"]
            labels = inputs["input_ids"].masked_fill(completion_mask == 0, -100)
            outputs = model(**model_kwargs, labels=labels, use_cache=False, fused_lm_head=True)
            mask = completion_mask[..., 1:]
            per_token = outputs.log_probs[:, -mask.size(1):]
            logps = _answer_logps(per_token, mask, self.ld_alpha)
            chosen, rejected = logps.chunk(2)
            chosen_len, rejected_len = mask.sum(dim=1).clamp(min=1).chunk(2)
            chosen_avg, rejected_avg = chosen / chosen_len, rejected / rejected_len
            beta = self.beta
            if self.ft_loss in REFERENCE_FREE:
                if self.ft_loss == "orpo":
                    losses, chosen_rewards, rejected_rewards = orpo_loss(chosen_avg, rejected_avg, beta)
                else:
                    losses, chosen_rewards, rejected_rewards = simpo_loss(chosen_avg, rejected_avg, beta,
                                                                          self.ft_params["simpo_gamma"])
            else:
                if self.precompute_ref_logps:
                    ref_chosen, ref_rejected = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
                else:  # TRL's reference pass: ref_model, or the model with its adapter disabled
                    ref_chosen, ref_rejected = self.compute_ref_log_probs(
                        self.ref_model if self.ref_model is not None else self.model, inputs)
                if self.ft_loss == "kto_pair":
                    losses, chosen_rewards, rejected_rewards = kto_pair_loss(chosen, rejected, ref_chosen,
                                                                             ref_rejected, beta)
                else:
                    losses, chosen_rewards, rejected_rewards = cdpo_loss(chosen, rejected, ref_chosen, ref_rejected,
                                                                         beta, self.ft_params["label_smoothing"])
            loss = losses.mean()
            if self.ft_params.get("pref_ftx"):
                # LLaMA-Factory's SFT term: the chosen answers' length-averaged NLL.
                loss = loss + self.ft_params["pref_ftx"] * (-chosen_avg).mean()
            self._log_pairs(mode, chosen_rewards, rejected_rewards,
                            *((chosen_avg, rejected_avg) if self.ft_loss in LENGTH_AVERAGED else (chosen, rejected)))
            if mode == "train":
                tokens = self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
                self._total_train_tokens += tokens
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return loss

        def _log_pairs(self, mode: str, chosen_rewards: Any, rejected_rewards: Any, chosen: Any,
                       rejected: Any) -> None:
            gather = self.accelerator.gather
            metrics = self._metrics[mode]
            metrics["rewards/chosen"].append(gather(chosen_rewards).mean().item())
            metrics["rewards/rejected"].append(gather(rejected_rewards).mean().item())
            metrics["rewards/accuracies"].append(gather((chosen_rewards > rejected_rewards).float()).mean().item())
            metrics["rewards/margins"].append(gather(chosen_rewards - rejected_rewards).mean().item())
            metrics["logps/chosen"].append(gather(chosen.detach()).mean().item())
            metrics["logps/rejected"].append(gather(rejected.detach()).mean().item())

    return FtDPOTrainer


def build_dpo_trainer(cfg: Any, model: Any, tokenizer: Any, train_dataset: Any, eval_dataset: Any,
                      explicit: Any = (), ref_model: Any = None) -> Any:
    """The ``FtDPOTrainer`` for a run: arguments from ``cfg``, the reference as the module docstring says.

    ``ref_model`` is the separate frozen reference (:func:`ft_train.preference.load_reference_model`)
    or ``None``.
    """
    from trl import DPOConfig

    from .trainer import build_training_arguments

    loss = dpo_loss_name(cfg)
    ft_loss = loss if loss in FT_LOSSES else None
    types, weights = loss_types(cfg)
    args = build_training_arguments(cfg.model_dump(), explicit=explicit, args_class=DPOConfig, extra={
        "beta": cfg.pref_beta, "loss_type": types, "loss_weights": weights, "ld_alpha": cfg.ld_alpha,
        "label_smoothing": 0.0 if ft_loss else cfg.dpo_label_smoothing,
        "precompute_ref_log_probs": cfg.precompute_ref_log_probs or loss in REFERENCE_FREE,
        # ft-data already cut the rows to cutoff_len; padding to a multiple only costs work on CPU
        "max_length": None, "pad_to_multiple_of": None, "disable_dropout": True,
    })
    trainer = _trainer_class()(
        model=model, ref_model=ref_model, args=args, train_dataset=to_trl_rows(train_dataset),
        eval_dataset=to_trl_rows(eval_dataset), processing_class=tokenizer, ft_loss=ft_loss,
        ft_params={"simpo_gamma": cfg.simpo_gamma, "label_smoothing": cfg.dpo_label_smoothing,
                   "pref_ftx": cfg.pref_ftx})
    drop_reference_adapter_copy(trainer, cfg)
    install_labelled_heads(trainer)  # CPU: TRL's fallback head scores every position (see ft_train.logprobs)
    return trainer
