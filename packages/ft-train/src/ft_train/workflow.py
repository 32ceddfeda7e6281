"""One training run from a ``TrainConfig``: data, model, Trainer, outputs, evaluation, prediction.

Outputs in ``output_dir``: the adapter (or full model) with tokenizer and chat template,
``checkpoint-N/`` every ``save_steps`` (``save_total_limit`` kept), ``trainer_state.json``,
``train_results.json``/``eval_results.json``/``all_results.json``, ``trainer_log.jsonl``,
``run.json``, ``training_loss.png`` (+ ``eval_loss.png``) with ``plot_loss``, TensorBoard logs
under ``runs/`` with ``report_to: tensorboard``, and ``generated_predictions.jsonl`` with
``predict_with_generate``.

Example:
    >>> metrics = run_train(load_train_config("docs/examples/quickstart.yaml"))
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ft_core import ConfigError, RunRecorder, get_logger
from ft_data.scorers import text_scores

from .callbacks import LogFileCallback, NonFiniteGuard, ProgressCallback
from .config import TrainConfig, config_dict
from .data import load_data, split_prompt_label
from .dpo import build_dpo_trainer
from .kto import build_kto_trainer
from .launch import under_torchrun
from .modeling import load_tokenizer_and_template, load_trainable_model
from .outputs import prepare_output_dir
from .plots import plot_losses
from .preference import check_preference_config, check_reference_vocabulary, load_reference_model
from .rm import build_reward_trainer, save_reward_model, write_reward_predictions
from .stages import get_stage
from .trainer import FtTrainer, build_training_arguments, token_accuracy_metrics
from .validation import Runtime, validate_train_args

log = get_logger("ft.train")


def current_runtime() -> Runtime:
    """The runtime this process sees (world size, torchrun, CUDA, bf16 support)."""
    import torch

    cuda = torch.cuda.is_available()
    return Runtime(world_size=int(os.environ.get("WORLD_SIZE", "1")), launched_distributed=under_torchrun(),
                   cuda=cuda, bf16_supported=(torch.cuda.is_bf16_supported() if cuda else True))


def check_train_config(cfg: TrainConfig, runtime: Runtime | None = None) -> None:
    """Raise the first cross-argument violation as a one-line ``ConfigError`` (exit 2)."""
    get_stage(cfg.stage)
    check_preference_config(cfg)
    if cfg.do_train and not cfg.output_dir:
        raise ConfigError("'output_dir' is required: where checkpoints, the adapter and the plots go")
    errors = validate_train_args(cfg.model_dump(), runtime or current_runtime())
    if errors:
        raise ConfigError(errors[0])


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def run_train(cfg: TrainConfig, runtime: Runtime | None = None) -> dict[str, Any]:
    """Train (and evaluate / predict) as ``cfg`` says; returns the metrics written to ``all_results.json``."""
    from transformers import EarlyStoppingCallback, set_seed
    from transformers.trainer_callback import PrinterCallback

    check_train_config(cfg, runtime)
    stage = get_stage(cfg.stage)
    output_dir = Path(cfg.output_dir or "saves/ft-run")
    resume = prepare_output_dir(output_dir, overwrite=cfg.overwrite_output_dir,
                                resume=cfg.resume_from_checkpoint, is_main=_is_main())
    set_seed(cfg.seed)
    tokenizer, template = load_tokenizer_and_template(cfg)
    check_reference_vocabulary(cfg, tokenizer)
    data = load_data(cfg, stage.data_stage, template, tokenizer)
    set_seed(cfg.seed)  # adapter initialisation does not depend on how much data loading consumed
    model = load_trainable_model(cfg, is_trainable=cfg.do_train, head="score" if cfg.stage == "rm" else "lm")
    ref_model = load_reference_model(cfg) if cfg.stage in ("dpo", "kto") else None
    compute_metrics = preprocess = None
    if cfg.compute_accuracy:
        compute_metrics, preprocess = token_accuracy_metrics()
    if cfg.stage == "dpo":
        trainer = build_dpo_trainer(cfg, model, tokenizer, data.train_dataset, data.eval_dataset,
                                    explicit=cfg.model_fields_set, ref_model=ref_model)
    elif cfg.stage == "kto":
        trainer = build_kto_trainer(cfg, model, tokenizer, data.train_dataset, data.eval_dataset,
                                    explicit=cfg.model_fields_set, ref_model=ref_model)
    elif cfg.stage == "rm":
        trainer = build_reward_trainer(cfg, model, tokenizer, data.train_dataset, data.eval_dataset,
                                       explicit=cfg.model_fields_set)
    else:
        args = build_training_arguments(cfg.model_dump(), explicit=cfg.model_fields_set)
        trainer = FtTrainer(model=model, args=args, train_dataset=data.train_dataset,
                            eval_dataset=data.eval_dataset, data_collator=data.collator, processing_class=tokenizer,
                            compute_metrics=compute_metrics, preprocess_logits_for_metrics=preprocess)
    if cfg.loraplus_lr_ratio:
        trainer.loraplus = {"loraplus_lr_ratio": cfg.loraplus_lr_ratio, "loraplus_lr_embedding": cfg.loraplus_lr_embedding}
    pissa_init_dir = None
    if cfg.do_train and cfg.pissa_init and cfg.pissa_convert and _is_main():
        import ft_models

        pissa_init_dir = output_dir / "pissa_init"
        ft_models.save_pissa_init(model, pissa_init_dir)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(ProgressCallback())
    trainer.add_callback(LogFileCallback(output_dir))
    trainer.add_callback(NonFiniteGuard())
    if cfg.early_stopping_steps:
        trainer.add_callback(EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_steps))

    results: dict[str, Any] = {}
    recorder = RunRecorder(output_dir, config=config_dict(cfg)) if _is_main() else None
    with recorder if recorder is not None else _Null():
        if cfg.do_train:
            out = trainer.train(resume_from_checkpoint=resume)
            trainer.save_model()
            if pissa_init_dir is not None:
                import ft_models

                # PiSSA trains against a modified base; save it as a plain LoRA of the original base.
                ft_models.save_adapter(trainer.model, output_dir, pissa_init_dir=pissa_init_dir)
            metrics = dict(out.metrics)
            tokens = trainer.state.num_input_tokens_seen
            if tokens and metrics.get("train_runtime"):
                metrics["train_tokens_per_second"] = round(tokens / metrics["train_runtime"], 3)
            trainer.log_metrics("train", metrics)
            trainer.save_metrics("train", metrics)
            trainer.save_state()
            results.update(metrics)
            if cfg.plot_loss and trainer.is_world_process_zero():
                keys = ("loss", "eval_loss", "rewards/accuracies", "eval_rewards/accuracies", "accuracy",
                        "eval_accuracy")
                plot_losses(trainer.state.log_history, output_dir, keys=keys)
        if cfg.do_eval and data.eval_dataset is not None:
            metrics = trainer.evaluate(metric_key_prefix="eval")
            trainer.log_metrics("eval", metrics)
            trainer.save_metrics("eval", metrics)
            results.update(metrics)
        if cfg.do_predict and cfg.stage == "rm" and data.eval_dataset is not None:
            # the trainer's eval rows are already in reward-row form: no second conversion
            metrics = write_reward_predictions(trainer, trainer.eval_dataset, output_dir,
                                               cfg.per_device_eval_batch_size)
            trainer.save_metrics("predict", metrics)
            results.update(metrics)
        if cfg.do_predict and cfg.predict_with_generate and data.eval_dataset is not None:
            if not stage.supports_generation:
                raise ConfigError(f"'predict_with_generate' needs prompt/response data; stage {cfg.stage!r} has none")
            metrics = predict_with_generate(cfg, trainer.model, tokenizer, template, data.eval_dataset, output_dir)
            trainer.save_metrics("predict", metrics)
            results.update(metrics)
        if cfg.stage == "rm" and cfg.do_train and _is_main():
            save_reward_model(trainer, tokenizer, output_dir)
        if recorder is not None:
            recorder.metrics.update(results)
    return results


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def predict_with_generate(cfg: TrainConfig, model: Any, tokenizer: Any, template: Any, dataset: Any,
                          output_dir: Path) -> dict[str, float]:
    """Generate for every evaluation row, write ``generated_predictions.jsonl`` and return BLEU/ROUGE.

    The generation keys mean what they mean in LLaMA-Factory; ``max_new_tokens`` <= 0 limits
    prompt + answer to ``generation_max_length`` (default ``cutoff_len``). At most
    ``per_device_eval_batch_size`` rows decode together (ft-models' continuous batching).
    """
    from ft_models.generation import generate

    pairs = [split_prompt_label(r["input_ids"], r["labels"]) for r in dataset]
    prompts = [p for p, _ in pairs]
    labels = [tokenizer.decode(lab, skip_special_tokens=True).strip() for _, lab in pairs]
    gen = cfg if cfg.max_new_tokens > 0 else \
        cfg.model_copy(update={"max_length": cfg.generation_max_length or cfg.cutoff_len})
    stop = template.get_stop_token_ids(tokenizer) if hasattr(template, "get_stop_token_ids") else ()
    results = generate(model, tokenizer, prompts, [gen.sampling_params(len(p)) for p in prompts],
                       stop_token_ids=stop, max_batch_size=cfg.per_device_eval_batch_size)
    preds = [r.text.strip() for r in results]
    path = output_dir / "generated_predictions.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for prompt, pred, label in zip(prompts, preds, labels, strict=True):
            row = {"prompt": tokenizer.decode(prompt, skip_special_tokens=False), "predict": pred, "label": label}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    scores = {f"predict_{k}": v for k, v in text_scores(preds, labels).items()}
    log.info("predictions written to %s: %s", path, scores)
    return scores
