"""The Hugging Face Trainer as ft runs it: arguments translated from the run config, token counting.

``build_training_arguments`` turns the flat config (LLaMA-Factory keys) into
``Seq2SeqTrainingArguments``, applying LLaMA-Factory's fixed choices (``remove_unused_columns``
off, ``ddp_find_unused_parameters`` off for LoRA, ``generation_max_length`` = ``cutoff_len``)
and translating keys transformers 5 dropped (``warmup_ratio``, ``group_by_length``,
``logging_dir``). ``FtTrainer`` counts non-padding tokens (segment ids of neat packing count
once each) so tokens/s in logs and benchmarks are real tokens.

Example:
    >>> args = build_training_arguments(cfg.model_dump())
    >>> trainer = FtTrainer(model=model, args=args, train_dataset=ds, data_collator=collator)
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import Seq2SeqTrainingArguments, Trainer
from transformers.trainer_utils import get_last_checkpoint

from .args import TRAINER_KEYS
from .loss import linear_cross_entropy


def build_training_arguments(cfg: Mapping[str, Any], explicit: Collection[str] = (),
                             args_class: type = Seq2SeqTrainingArguments,
                             extra: Mapping[str, Any] | None = None) -> Any:
    """``Seq2SeqTrainingArguments`` (or ``args_class``, e.g. TRL's ``DPOConfig``) from a flat run config.

    ``cfg`` is a ``TrainConfig.model_dump()``; keys ``args_class`` lacks (the Seq2Seq generation
    keys for a TRL config) are left out, ``extra`` is added last (a stage's own arguments).

    ``explicit`` names the keys the user set; ft's own defaults apply only to the others. ft's
    default sampling for unpacked SFT/pt rows is ``group_by_length`` (shuffled mega-batches sorted
    by length, as the Trainer implements it): batches of similar lengths carry far less padding
    (LLaMA-Factory's random batches are ~40 % padding on the demo data).
    """
    kw = {k: cfg[k] for k in TRAINER_KEYS if k in cfg}
    packed = cfg.get("neat_packing") or cfg.get("packing") or (cfg.get("packing") is None and cfg.get("stage") == "pt")
    if not packed and not ({"train_sampling_strategy", "group_by_length", "disable_shuffling"} & set(explicit)):
        kw["train_sampling_strategy"] = "group_by_length"
    if cfg.get("warmup_ratio") and not kw.get("warmup_steps"):
        kw["warmup_steps"] = float(cfg["warmup_ratio"])  # transformers 5: a float < 1 is a ratio
    if cfg.get("group_by_length"):
        kw["train_sampling_strategy"] = "group_by_length"
    if cfg.get("disable_shuffling"):
        kw["train_sampling_strategy"] = "sequential"
    if cfg.get("logging_dir"):
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(cfg["logging_dir"])
    if isinstance(kw.get("resume_from_checkpoint"), bool):
        kw["resume_from_checkpoint"] = None  # resolved by resolve_resume(); the Trainer wants a path
    kw["remove_unused_columns"] = False  # collators need every column the processor wrote
    kw["disable_tqdm"] = True  # ft's ProgressCallback shows the progress
    kw["include_num_input_tokens_seen"] = "non_padding"
    if cfg.get("finetuning_type", "lora") == "lora" and kw.get("ddp_find_unused_parameters") is None:
        kw["ddp_find_unused_parameters"] = False
    if kw.get("generation_max_length") is None and cfg.get("cutoff_len"):
        kw["generation_max_length"] = cfg["cutoff_len"]
    if not torch.cuda.is_available():
        # accelerate sets up a CPU process group (gloo) under torchrun only with use_cpu
        kw["use_cpu"] = True
        kw["dataloader_pin_memory"] = False
    import dataclasses

    accepted = {f.name for f in dataclasses.fields(args_class) if f.init}
    kw = {k: v for k, v in kw.items() if k in accepted}
    kw.update(extra or {})
    return args_class(**kw)


def resolve_resume(output_dir: str | Path, resume: Any) -> str | None:
    """The checkpoint to resume from: ``true`` -> the last ``checkpoint-N`` in ``output_dir``, a path as is."""
    if resume is True or (isinstance(resume, str) and resume.lower() == "true"):
        return get_last_checkpoint(str(output_dir)) if Path(output_dir).is_dir() else None
    if resume in (None, False) or (isinstance(resume, str) and resume.lower() in ("false", "")):
        return None
    return str(resume)


def _causal_lm_parts(model: Any) -> tuple[Any, Any] | None:
    """(decoder body, output head) of a plain causal LM (peft-wrapped or not), or None when the model
    does anything to its logits besides the head (soft-capping, scaling) or is wrapped for DDP/DeepSpeed."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(base, "config", None)
    if config is None or not type(base).__name__.endswith("ForCausalLM") or config.is_encoder_decoder:
        return None
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    body = getattr(base, getattr(base, "base_model_prefix", "model"), None)
    head = base.get_output_embeddings()
    if body is None or head is None or body is base:
        return None
    return body, head


class FtTrainer(Trainer):
    """``transformers.Trainer`` that counts real tokens and computes logits only where there are labels.

    Counting: positions whose attention mask is non-zero (segment ids of neat packing count once).
    Loss: the output head (49k-wide for SmolLM2) runs only on positions whose next token is
    supervised, instead of on every position (SFT masks the prompt: ~3/4 of the positions), and
    a chunk of positions at a time (:func:`ft_train.loss.linear_cross_entropy`), so the full
    logits never exist; the loss value and gradients are the same as the model's own loss. Used
    for a single process without label smoothing or a custom loss; otherwise the Trainer's loss
    runs unchanged.
    """

    loraplus: dict[str, float] | None = None
    """``{"loraplus_lr_ratio": r, "loraplus_lr_embedding": e}`` for LoRA+ parameter groups (ft-models)."""

    def create_optimizer(self, model: Any = None) -> Any:
        if self.loraplus is None or self.optimizer is not None:
            return super().create_optimizer(model) if model is not None else super().create_optimizer()
        import ft_models

        groups = ft_models.loraplus_param_groups(self.model, lr=self.args.learning_rate,
                                                 weight_decay=self.args.weight_decay, **self.loraplus)
        optimizer_cls, optimizer_kwargs = Trainer.get_optimizer_cls_and_kwargs(self.args, self.model)
        self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        parts = None
        if (not return_outputs and "labels" in inputs and self.label_smoother is None
                and self.compute_loss_func is None and self.accelerator.num_processes == 1
                and model is self.model):
            parts = _causal_lm_parts(model)
        if parts is None:
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        body, head = parts
        labels = inputs["labels"]
        batch = {k: v for k, v in inputs.items() if k != "labels"}
        hidden = body(**batch, use_cache=False).last_hidden_state
        targets = labels[:, 1:]
        keep = targets != -100
        rows = hidden[:, :-1][keep]
        if type(head) is torch.nn.Linear:
            loss = linear_cross_entropy(rows, head.weight, head.bias, targets[keep])
        else:  # an adapted head (LoRA on lm_head, modules_to_save): its own forward
            loss = torch.nn.functional.cross_entropy(head(rows).float(), targets[keep], reduction="sum")
        if num_items_in_batch is None:
            return loss / keep.sum().clamp(min=1)
        return loss / num_items_in_batch.to(loss.device)

    def _track_num_input_tokens(self, inputs: Mapping[str, Any]) -> None:
        if self.args.include_num_input_tokens_seen == "no":
            return
        mask = inputs.get("attention_mask")
        if mask is not None and mask.dim() == 2:
            tokens = (mask != 0).sum()
        elif "input_ids" in inputs:
            tokens = torch.tensor(inputs["input_ids"].numel())
        else:
            return
        tokens = torch.as_tensor(tokens, device=self.args.device, dtype=torch.int64)
        self.state.num_input_tokens_seen += int(self.accelerator.gather(tokens).sum().item())


def token_accuracy_metrics() -> tuple[Any, Any]:
    """(``compute_metrics``, ``preprocess_logits_for_metrics``) giving next-token accuracy on label positions."""
    import numpy as np

    def preprocess(logits: Any, labels: Any) -> Any:
        if isinstance(logits, tuple):
            logits = logits[0]
        return logits.argmax(dim=-1)

    def compute(eval_pred: Any) -> dict[str, float]:
        preds, labels = eval_pred.predictions, eval_pred.label_ids
        preds, labels = np.asarray(preds)[:, :-1], np.asarray(labels)[:, 1:]
        keep = labels != -100
        return {"accuracy": float((preds[keep] == labels[keep]).mean()) if keep.any() else 0.0}

    return compute, preprocess
