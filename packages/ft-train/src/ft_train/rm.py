"""The ``rm`` stage: a reward model on TRL's ``RewardTrainer`` from ft-data's pairwise rows.

The model is the checkpoint with a one-output score head (``*ForSequenceClassification``,
ft-models' ``head="score"``): the reward of a conversation is the score at its last real token,
and the loss is −log σ(r_chosen − r_rejected) over the pairs; ``accuracy`` is the share of pairs
scored the right way round. What ft adds to TRL: rows tokenized by ft-data's pairwise processor
(TRL's text pipeline is skipped), the saved reward model, and ``{"chosen", "rejected"}``
predictions.

Saved so ft-serve (``/v1/score/evaluation``) and the PPO stage load it as it is: full and freeze
tuning save the reward model in ``output_dir``; LoRA saves the adapter there (it resumes and
exports like any other) and the merged reward model in ``output_dir/reward_model``.

LLaMA-Factory puts a value head on the causal LM and saves it as ``value_head.safetensors``
beside the adapter; a sequence-classification checkpoint is what Transformers, TRL, vLLM and
ft-serve load as a reward model, so ft saves that instead.

Example:
    >>> trainer = build_reward_trainer(cfg, model, tokenizer, train_rows, eval_rows)
    >>> write_reward_predictions(trainer, eval_rows, Path("saves/rm"))   # generated_predictions.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ft_core import atomic_write_text, get_logger

from .preference import PretokenizedRows

log = get_logger("ft.train")

REWARD_MODEL_DIR = "reward_model"


def to_reward_rows(dataset: Any) -> Any:
    """ft-data's pairwise columns -> TRL's ``chosen_ids``/``rejected_ids`` (whole conversations)."""
    if dataset is None:
        return None

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        chosen, rejected = row["chosen_input_ids"], row["rejected_input_ids"]
        return {"chosen_ids": chosen, "rejected_ids": rejected, "length": max(len(chosen), len(rejected))}

    return dataset.map(convert, remove_columns=dataset.column_names, desc="pairs for the reward model")


def _trainer_class() -> type:
    from trl import RewardTrainer

    class FtRewardTrainer(PretokenizedRows, RewardTrainer):
        """TRL's RewardTrainer reading rows ft-data already tokenized."""

    return FtRewardTrainer


def build_reward_trainer(cfg: Any, model: Any, tokenizer: Any, train_dataset: Any, eval_dataset: Any,
                         explicit: Any = ()) -> Any:
    """The ``FtRewardTrainer`` for a run, its arguments from ``cfg``."""
    from trl import RewardConfig

    from .trainer import build_training_arguments

    args = build_training_arguments(cfg.model_dump(), explicit=explicit, args_class=RewardConfig, extra={
        # ft-data already cut the rows to cutoff_len; padding to a multiple only costs work on CPU
        "max_length": None, "pad_to_multiple_of": None, "disable_dropout": True,
    })
    return _trainer_class()(model=model, args=args, train_dataset=to_reward_rows(train_dataset),
                            eval_dataset=to_reward_rows(eval_dataset), processing_class=tokenizer)


def pair_scores(trainer: Any, rows: Any, batch_size: int) -> list[tuple[float, float]]:
    """(chosen, rejected) rewards of every pair of ``rows`` (TRL's reward rows), in order."""
    import torch

    model = trainer.model
    model.eval()
    scores: list[tuple[float, float]] = []
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            batch = trainer.data_collator([rows[i] for i in range(start, min(start + batch_size, len(rows)))])
            logits = model(input_ids=batch["input_ids"].to(model.device),
                           attention_mask=batch["attention_mask"].to(model.device)).logits.squeeze(-1)
            chosen, rejected = logits.float().chunk(2)
            scores.extend(zip(chosen.tolist(), rejected.tolist(), strict=True))
    return scores


def write_reward_predictions(trainer: Any, eval_rows: Any, output_dir: Path, batch_size: int) -> dict[str, float]:
    """Score every evaluation pair into ``generated_predictions.jsonl`` (``{"chosen", "rejected"}``
    per line, LLaMA-Factory's format); returns ``predict_accuracy`` (pairs scored the right way)."""
    scores = pair_scores(trainer, eval_rows, batch_size)
    lines = [json.dumps({"chosen": round(c, 4), "rejected": round(r, 4)}) + "\n" for c, r in scores]
    path = output_dir / "generated_predictions.jsonl"
    atomic_write_text(path, "".join(lines))
    accuracy = sum(c > r for c, r in scores) / max(len(scores), 1)
    log.info("reward predictions written to %s: accuracy %.3f on %d pairs", path, accuracy, len(scores))
    return {"predict_accuracy": round(accuracy, 4)}


def save_reward_model(trainer: Any, tokenizer: Any, output_dir: Path) -> Path:
    """Write the servable reward model; returns its directory (see the module docstring).

    Call it last: a LoRA adapter is merged in place (no second copy of the weights in memory),
    so the trainer's model is the merged one afterwards.
    """
    from ft_core import atomic_output_dir

    model = trainer.accelerator.unwrap_model(trainer.model)
    if not hasattr(model, "merge_and_unload"):
        return output_dir  # full/freeze: trainer.save_model() wrote it there
    merged = model.merge_and_unload()
    target = output_dir / REWARD_MODEL_DIR
    with atomic_output_dir(target, overwrite=True) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    log.info("merged reward model saved to %s (serve it with model_name_or_path=%s)", target, target)
    return target
