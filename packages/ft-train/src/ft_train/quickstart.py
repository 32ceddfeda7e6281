"""``ft quickstart``: LoRA-tune SmolLM2-135M-Instruct on verifiable problems, accuracy before and after.

One command on a fresh clone (``uv run ft quickstart``) runs ``docs/examples/quickstart.yaml``:

1. load the held-out split (the config's ``eval_dataset``) and score the base model on it,
2. train the LoRA adapter (``ft train``, same code path),
3. reload the saved adapter and score again,
4. merge the adapter into a plain Hugging Face model (``ft export``, same code path),
5. print the accuracy table and where the adapter, the loss plot and the merged model went.

Answers are checked the way reasoning-gym's default verifier (``score_answer`` = 1.0) does:
the generated answer must equal the reference answer (after trimming whitespace).

Example:
    $ uv run ft quickstart
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ft_core import get_logger

from .config import ExportConfig, TrainConfig, load_train_config
from .data import load_data
from .export import run_export
from .generate import batch_generate, split_prompt_label
from .modeling import load_tokenizer_and_template, load_trainable_model
from .workflow import check_train_config, run_train

log = get_logger("ft.quickstart")


def normalize_answer(text: str) -> str:
    """Trimmed answer text (reasoning-gym's default verifier compares the stripped strings)."""
    return text.strip()


def is_correct(prediction: str, reference: str) -> bool:
    """Whether a generated answer is right: exact match of the trimmed texts (score_answer == 1.0)."""
    return normalize_answer(prediction) == normalize_answer(reference)


def heldout_examples(cfg: TrainConfig, tokenizer: Any, template: Any) -> tuple[list[list[int]], list[str]]:
    """Prompts (token ids) and reference answers of the held-out split (``eval_dataset`` or ``val_size``)."""
    data = load_data(cfg, "sft", template, tokenizer)
    if data.eval_dataset is None:
        raise ValueError("the quickstart config needs 'eval_dataset' (the held-out split)")
    pairs = [split_prompt_label(r["input_ids"], r["labels"]) for r in data.eval_dataset]
    refs = [tokenizer.decode(lab, skip_special_tokens=True) for _, lab in pairs]
    return [p for p, _ in pairs], refs


def accuracy(model: Any, tokenizer: Any, template: Any, prompts: Sequence[Sequence[int]], refs: Sequence[str],
             cfg: TrainConfig) -> tuple[float, list[str]]:
    """Fraction of held-out problems answered right with greedy decoding; also the predictions."""
    gen = {"do_sample": False, "max_new_tokens": cfg.max_new_tokens}
    preds = batch_generate(model, tokenizer, prompts, gen, batch_size=cfg.per_device_eval_batch_size,
                           stop_token_ids=template.get_stop_token_ids(tokenizer))
    right = sum(is_correct(p, r) for p, r in zip(preds, refs, strict=True))
    return right / max(len(refs), 1), preds


def run_quickstart(config: str | Path = "docs/examples/quickstart.yaml", overrides: Sequence[str] = ()) -> int:
    """Run the quickstart and print its report; returns the exit code."""
    t0 = time.perf_counter()
    cfg = load_train_config(config, overrides)
    check_train_config(cfg)
    tokenizer, template = load_tokenizer_and_template(cfg)
    prompts, refs = heldout_examples(cfg, tokenizer, template)
    log.info("scoring the base model on %d held-out problems", len(refs))
    base = load_trainable_model(cfg, is_trainable=False)
    before, before_preds = accuracy(base, tokenizer, template, prompts, refs, cfg)
    del base
    t_train = time.perf_counter()
    metrics = run_train(cfg)
    train_s = time.perf_counter() - t_train
    out = Path(str(cfg.output_dir))
    tuned_cfg = cfg.model_copy(update={"adapter_name_or_path": [str(out)]})
    tuned = load_trainable_model(tuned_cfg, is_trainable=False)
    after, after_preds = accuracy(tuned, tokenizer, template, prompts, refs, cfg)
    del tuned
    merged = run_export(ExportConfig(model_name_or_path=cfg.model_name_or_path, adapter_name_or_path=[str(out)],
                                     template=cfg.template, export_dir=f"{out}-merged", export_size=1,
                                     overwrite_output_dir=True))
    total_s = time.perf_counter() - t0
    _report(cfg, len(refs), before, after, before_preds, after_preds, refs, prompts, tokenizer, metrics,
            train_s, total_s, out, merged)
    return 0


def _report(cfg: TrainConfig, n: int, before: float, after: float, before_preds: list[str], after_preds: list[str],
            refs: Sequence[str], prompts: Sequence[Sequence[int]], tokenizer: Any, metrics: dict[str, Any],
            train_s: float, total_s: float, out: Path, merged: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=f"held-out accuracy ({n} problems, answers checked by the verifier)")
    table.add_column("model")
    table.add_column("correct", justify="right")
    table.add_column("accuracy", justify="right")
    table.add_row("SmolLM2-135M-Instruct (base)", f"{round(before * n)}/{n}", f"{100 * before:.1f}%")
    table.add_row(f"+ LoRA ({cfg.max_steps if cfg.max_steps > 0 else cfg.num_train_epochs} "
                  f"{'steps' if cfg.max_steps > 0 else 'epochs'})", f"{round(after * n)}/{n}", f"{100 * after:.1f}%")
    console.print(table)
    example = 0
    question = tokenizer.decode(prompts[example], skip_special_tokens=True).strip().splitlines()[-2:]
    console.print(f"example: {' '.join(question)!r}\n  reference {refs[example]!r} | before "
                  f"{before_preds[example][:60]!r} | after {after_preds[example][:60]!r}")
    loss = metrics.get("train_loss")
    console.print(f"training: {train_s:.0f} s, final train_loss {loss:.3f}" if loss is not None else
                  f"training: {train_s:.0f} s")
    console.print(f"adapter:      {out}/adapter_model.safetensors")
    if (out / "training_loss.png").is_file():
        console.print(f"loss plot:    {out}/training_loss.png")
    console.print(f"merged model: {merged}/  (plain transformers: AutoModelForCausalLM.from_pretrained)")
    console.print(f"total time:   {total_s:.0f} s")
