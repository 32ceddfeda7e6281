"""Trainer callbacks: the progress display and the per-step log file.

``ProgressCallback`` replaces the Trainer's tqdm bar and dict printer: on a terminal a rich bar
with loss, learning rate, tokens/s and ETA; otherwise one plain line per logging step (CI logs,
``| tee``). ``LogFileCallback`` appends every log entry to ``trainer_log.jsonl``.
``NonFiniteGuard`` stops a run whose loss or rewards stop being finite numbers.

Example:
    >>> trainer.add_callback(ProgressCallback())
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ft_core import FtError, get_logger, is_interactive


def _fmt_eta(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ProgressCallback(TrainerCallback):
    """Loss, learning rate, non-padding tokens/s and ETA, as a rich bar or plain log lines."""

    def __init__(self, interactive: bool | None = None) -> None:
        self.interactive = is_interactive() if interactive is None else interactive
        self.log = get_logger("ft.train")
        self._bar: Any = None
        self._task: Any = None
        self._t0 = 0.0
        self._step0 = 0
        self._tokens0 = 0
        self.last: dict[str, float] = {}

    def on_train_begin(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
        if not state.is_world_process_zero:
            return
        self._t0 = time.perf_counter()
        self._step0 = state.global_step
        self._tokens0 = state.num_input_tokens_seen
        if self.interactive:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
            self._bar = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TextColumn("eta"), TimeRemainingColumn())
            self._bar.start()
            self._task = self._bar.add_task("train", total=state.max_steps, completed=state.global_step, info="")

    def _rates(self, state: Any) -> tuple[float, float]:
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        tok_s = (state.num_input_tokens_seen - self._tokens0) / elapsed
        done = state.global_step - self._step0
        eta = (state.max_steps - state.global_step) * elapsed / done if done else float("nan")
        return tok_s, eta

    def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
        if self._bar is not None:
            self._bar.update(self._task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kw):  # type: ignore[no-untyped-def]
        if not state.is_world_process_zero or not logs:
            return
        tok_s, eta = self._rates(state)
        if "loss" in logs:
            self.last = {"loss": float(logs["loss"]), "lr": float(logs.get("learning_rate", 0.0)), "tok_s": tok_s}
            info = f"loss {logs['loss']:.4f}  lr {logs.get('learning_rate', 0.0):.2e}  {tok_s:,.0f} tok/s"
            if self._bar is not None:
                self._bar.update(self._task, info=info)
            else:
                eta_s = _fmt_eta(eta) if eta == eta else "?"
                self.log.info("step %d/%d  %s  eta %s", state.global_step, state.max_steps, info, eta_s)
        elif "eval_loss" in logs:
            line = f"step {state.global_step}: eval_loss {logs['eval_loss']:.4f}"
            (self._bar.console.print if self._bar is not None else self.log.info)(line)

    def on_train_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class LogFileCallback(TrainerCallback):
    """Append each log entry (with step and epoch) to ``<output_dir>/trainer_log.jsonl``."""

    def __init__(self, output_dir: str | Path) -> None:
        self.path = Path(output_dir) / "trainer_log.jsonl"

    def on_log(self, args, state, control, logs=None, **kw):  # type: ignore[no-untyped-def]
        if not state.is_world_process_zero or not logs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"step": state.global_step, "max_steps": state.max_steps, **logs}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")


class TrainingDivergedError(FtError):
    """The loss or a reward became NaN/inf; the run stops (exit 1) and its checkpoints stay."""


class NonFiniteGuard(TrainerCallback):
    """Stop at the first logged loss, grad norm or reward that is NaN or infinite, with a one-line cause.

    Preference stages are where this bites (LLaMA-Factory's users report NaN rewards under fp16
    and ZeRO-3): going on would only write NaN weights over the last good checkpoint.
    """

    KEYS = ("loss", "grad_norm", "rewards/chosen", "rewards/rejected", "rewards/margins", "eval_loss",
            "mean_reward", "margin", "kl")

    def on_log(self, args, state, control, logs=None, **kw):  # type: ignore[no-untyped-def]
        for key in self.KEYS:
            value = (logs or {}).get(key)
            if isinstance(value, (int, float)) and not math.isfinite(value):
                precision = "fp16 overflow (train with bf16: true, or fp32)" if args.fp16 else \
                    "a numerical overflow"
                raise TrainingDivergedError(
                    f"step {state.global_step}: {key} is {value}; likely {precision} or a learning rate too high "
                    f"(learning_rate {args.learning_rate:g}: lower it); checkpoints saved so far are kept")
