"""``ft eval``: evaluation on lm-evaluation-harness with ft's serve engine, comparison of models.

* ``FtLM`` (lm-eval model ``"ft"``, registered when ``ft_serve.evaluation.lm_adapter`` is imported,
  e.g. by ``from ft_serve.evaluation import FtLM``): generation through the serve engine
  (continuous batching), log-likelihoods batched on its model, adapters chosen per model.
* ``run_eval(EvalConfig)``: several models (base, adapters, merged) on harness tasks, local task
  folders and LLaMA-Factory's MMLU-format folders; a table with stderr, ``results.json`` and a plot.

Names are imported on first use (PEP 562): the ``ft`` command line imports ``eval_command`` from
here and must not pay for importing lm-eval (about 2 s) on every start.

Example:
    >>> from ft_serve.evaluation import load_eval_config, run_eval
    >>> result = run_eval(load_eval_config("docs/examples/eval/quickstart.yaml", ["limit=20"]))
    >>> [(row.task, row.scores) for row in result.rows]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(["ComparisonRow", "comparison_rows", "plot_comparison", "render_table", "table_text"], "compare"),
    **dict.fromkeys(["EvalConfig", "ModelSpec", "load_eval_config"], "config"),
    **dict.fromkeys(["legacy_group", "parse_legacy_task"], "legacy"),
    "FtLM": "lm_adapter",
    **dict.fromkeys(["EvalResult", "run_eval"], "run"),
    "eval_command": "command",
}

__all__ = ["ComparisonRow", "EvalConfig", "EvalResult", "FtLM", "ModelSpec", "comparison_rows", "eval_command",
           "legacy_group", "load_eval_config", "parse_legacy_task", "plot_comparison", "render_table", "run_eval",
           "table_text"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from .command import eval_command
    from .compare import ComparisonRow, comparison_rows, plot_comparison, render_table, table_text
    from .config import EvalConfig, ModelSpec, load_eval_config
    from .legacy import legacy_group, parse_legacy_task
    from .lm_adapter import FtLM
    from .run import EvalResult, run_eval
