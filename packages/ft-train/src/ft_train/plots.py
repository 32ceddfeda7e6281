"""Loss curves from a Trainer's ``log_history``: ``training_loss.png`` and ``eval_loss.png``.

Example:
    >>> plot_losses(trainer.state.log_history, "saves/run1")
    [PosixPath('saves/run1/training_loss.png')]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def smooth(values: Sequence[float], weight: float | None = None) -> list[float]:
    """Exponential moving average; the weight grows with the series length (0 for very short ones)."""
    if not values:
        return []
    if weight is None:
        # Short runs keep their raw shape; long ones are smoothed more (sigmoid of the length).
        weight = 1.8 * (1 / (1 + math.exp(-0.05 * len(values))) - 0.5)
    out, last = [], values[0]
    for v in values:
        last = last * weight + (1 - weight) * v
        out.append(last)
    return out


def _series(log_history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    steps, values = [], []
    for entry in log_history:
        if key in entry and "step" in entry:
            steps.append(int(entry["step"]))
            values.append(float(entry[key]))
    return steps, values


def plot_losses(log_history: Sequence[Mapping[str, Any]], output_dir: str | Path,
                keys: Sequence[str] = ("loss", "eval_loss")) -> list[Path]:
    """Write one PNG per key that has values (``loss`` -> ``training_loss.png``); returns the paths."""
    import matplotlib
    matplotlib.use("Agg")  # no display on servers and in tests
    import matplotlib.pyplot as plt

    written: list[Path] = []
    for key in keys:
        steps, values = _series(log_history, key)
        if not values:
            continue
        fig = plt.figure()
        plt.plot(steps, values, color="#1f77b4", alpha=0.4, label="original")
        plt.plot(steps, smooth(values), color="#1f77b4", label="smoothed")
        name = "training_loss" if key == "loss" else key.replace("/", "_")  # rewards/accuracies -> a file name
        plt.title(f"{name} of {Path(output_dir).name}")
        plt.xlabel("step")
        plt.ylabel(key)
        plt.legend()
        path = Path(output_dir) / f"{name}.png"
        plt.savefig(path, format="png", dpi=100)
        plt.close(fig)
        written.append(path)
    return written
