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

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ft_core import ConfigError, get_logger

from .config import ExportConfig, TrainConfig, load_train_config
from .export import run_export
from .modeling import load_tokenizer_and_template, load_trainable_model
from .workflow import check_train_config, run_train

log = get_logger("ft.quickstart")


def normalize_answer(text: str) -> str:
    """Trimmed answer text (reasoning-gym's default verifier compares the stripped strings)."""
    return text.strip()


class Verifier:
    """Scores answers to held-out rows: reasoning-gym's ``score_answer`` when the row names its task
    (``rg_dataset``, ``rg_config``, ``rg_entry``) and reasoning-gym is installed, else exact match
    of the trimmed answer with ``answer`` (the same verdict for tasks with the default scorer)."""

    def __init__(self) -> None:
        self._tasks: dict[str, Any] = {}
        try:
            import reasoning_gym
        except ImportError:
            reasoning_gym = None
        self._rg = reasoning_gym
        self.name = "reasoning-gym score_answer" if reasoning_gym is not None else "exact match"

    def _task(self, row: dict[str, Any]) -> Any:
        key = json.dumps([row["rg_dataset"], row["rg_config"]], sort_keys=True)
        if key not in self._tasks:
            config = {k: tuple(v) if isinstance(v, list) else v for k, v in row["rg_config"].items()}
            self._tasks[key] = self._rg.create_dataset(row["rg_dataset"], **config)
        return self._tasks[key]

    def correct(self, prediction: str, row: dict[str, Any]) -> bool:
        """Whether ``prediction`` answers ``row`` right (score 1.0)."""
        if self._rg is not None and "rg_dataset" in row and "rg_entry" in row:
            return self._task(row).score_answer(answer=normalize_answer(prediction), entry=row["rg_entry"]) >= 1.0
        reference = row.get("answer", row.get("output", ""))
        return normalize_answer(prediction) == normalize_answer(str(reference))


def heldout_rows(cfg: TrainConfig, limit: int | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` raw rows of the held-out split: the config's first ``eval_dataset`` (JSON/JSONL)."""
    import ft_data

    if not cfg.eval_dataset:
        raise ConfigError("the quickstart config needs 'eval_dataset' (the held-out split)")
    entry = ft_data.get_dataset_entry(cfg.eval_dataset[0], cfg.dataset_dir)
    path = Path(cfg.dataset_dir) / str(entry.file_name)
    text = path.read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()] if path.suffix == ".jsonl" \
        else json.loads(text)
    return rows[:limit] if limit else rows


def encode_prompts(rows: Sequence[dict[str, Any]], tokenizer: Any, template: Any) -> list[list[int]]:
    """Generation prompts of alpaca rows, encoded with the training template (instruction + input)."""
    prompts = []
    for row in rows:
        content = "\n".join(p for p in (row.get("instruction", ""), row.get("input", "")) if p)
        ids, _ = template.encode_oneturn(tokenizer, [{"role": "user", "content": content},
                                                     {"role": "assistant", "content": ""}])
        prompts.append(ids)
    return prompts


def accuracy(model: Any, tokenizer: Any, template: Any, prompts: Sequence[Sequence[int]],
             rows: Sequence[dict[str, Any]], verifier: Verifier, cfg: TrainConfig) -> tuple[list[bool], list[str]]:
    """Per held-out problem, whether the greedy answer is right; also the predictions.

    Greedy whatever the config's sampling keys say: the check must not depend on the draw.
    """
    from ft_models.generation import SamplingParams, generate

    params = [SamplingParams(temperature=0.0, max_tokens=cfg.max_tokens(len(p))) for p in prompts]
    results = generate(model, tokenizer, prompts, params, stop_token_ids=template.get_stop_token_ids(tokenizer),
                       max_batch_size=cfg.per_device_eval_batch_size)
    preds = [r.text.strip() for r in results]
    return [verifier.correct(p, r) for p, r in zip(preds, rows, strict=True)], preds


def run_quickstart(config: str | Path = "docs/examples/quickstart.yaml", overrides: Sequence[str] = (),
                   heldout: int | None = 100) -> int:
    """Run the quickstart and print its report; returns the exit code.

    ``heldout``: how many held-out rows to score (the demo split's first 100 are the arithmetic
    problems the quickstart trains on; its 40 word problems need a bigger model).
    """
    t0 = time.perf_counter()
    cfg = load_train_config(config, overrides)
    check_train_config(cfg)
    tokenizer, template = load_tokenizer_and_template(cfg)
    rows = heldout_rows(cfg, heldout)
    prompts = encode_prompts(rows, tokenizer, template)
    verifier = Verifier()
    log.info("scoring the base model on %d held-out problems (%s)", len(rows), verifier.name)
    base = load_trainable_model(cfg, is_trainable=False)
    before, before_preds = accuracy(base, tokenizer, template, prompts, rows, verifier, cfg)
    del base
    t_train = time.perf_counter()
    metrics = run_train(cfg)
    train_s = time.perf_counter() - t_train
    out = Path(str(cfg.output_dir))
    tuned_cfg = cfg.model_copy(update={"adapter_name_or_path": [str(out)]})
    tuned = load_trainable_model(tuned_cfg, is_trainable=False)
    after, after_preds = accuracy(tuned, tokenizer, template, prompts, rows, verifier, cfg)
    del tuned
    merged = run_export(ExportConfig(model_name_or_path=cfg.model_name_or_path, adapter_name_or_path=[str(out)],
                                     template=cfg.template, export_dir=f"{out}-merged", export_size=1,
                                     overwrite_output_dir=True))
    total_s = time.perf_counter() - t0
    refs = [str(r.get("answer", r.get("output", ""))) for r in rows]
    _report(cfg, len(rows), before, after, before_preds, after_preds, refs, rows, verifier, metrics,
            train_s, total_s, out, merged)
    return 0


def _report(cfg: TrainConfig, n: int, before: list[bool], after: list[bool], before_preds: list[str],
            after_preds: list[str],
            refs: Sequence[str], rows: Sequence[dict[str, Any]], verifier: Verifier, metrics: dict[str, Any],
            train_s: float, total_s: float, out: Path, merged: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=f"held-out accuracy: {n} problems of {cfg.eval_dataset[0]}, checked by {verifier.name}")
    groups = sorted({str(r.get("rg_dataset", "all")) for r in rows})
    table.add_column("model")
    for group in groups:
        table.add_column(group, justify="right")
    if len(groups) > 1:
        table.add_column("all", justify="right")

    def cells(correct: list[bool]) -> list[str]:
        out = []
        for group in [*groups, *(["*"] if len(groups) > 1 else [])]:
            picked = [c for c, r in zip(correct, rows, strict=True) if group in ("*", str(r.get("rg_dataset", "all")))]
            out.append(f"{sum(picked)}/{len(picked)} = {100 * sum(picked) / max(len(picked), 1):.1f}%")
        return out

    steps = f"{cfg.max_steps} steps" if cfg.max_steps > 0 else f"{cfg.num_train_epochs:g} epochs"
    table.add_row(f"{cfg.model_name_or_path} (base)", *cells(before))
    table.add_row(f"+ LoRA r={cfg.lora_rank}, {steps}", *cells(after))
    console.print(table)
    for i in range(min(3, n)):
        console.print(f"  {rows[i].get('instruction', '')[:50]!r}: answer {refs[i]!r}, "
                      f"before {before_preds[i][:40]!r}, after {after_preds[i][:40]!r}")
    loss = metrics.get("train_loss")
    console.print(f"training: {train_s:.0f} s, final train_loss {loss:.3f}" if loss is not None else
                  f"training: {train_s:.0f} s")
    console.print(f"adapter:      {out}/adapter_model.safetensors")
    if (out / "training_loss.png").is_file():
        console.print(f"loss plot:    {out}/training_loss.png")
    console.print(f"merged model: {merged}/  (plain transformers: AutoModelForCausalLM.from_pretrained)")
    console.print(f"total time:   {total_s:.0f} s")
