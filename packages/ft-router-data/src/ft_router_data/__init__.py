"""ft-router-data: multi-LLM routing logs to router SFT data, test sets and scores (model-level fusion).

Python API, one function per CLI verb:

* ``build_sft(log, save_path, setting="perf", k=5, ...)`` -> ``BuildResult``
* ``generate_test_set(log, save_path, ...)`` -> ``TestSetResult``
* ``score_predictions(predictions, test_dir, ...)`` -> ``ScoreReport``

Example:
    >>> from ft_router_data import build_sft
    >>> build_sft("router_data_with_judge.csv", "data", setting="judge", k=5).records
    36879
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Attribute -> defining module; imported on first use so that `ft --help` stays fast.
_EXPORTS = {
    "BuildResult": "build", "build_sft": "build", "load_models_file": "build", "output_name": "build",
    "TestSetResult": "testgen", "generate_test_set": "testgen", "scoring_metric": "testgen",
    "ScoreReport": "score", "score_predictions": "score",
    "LogSource": "logs", "read_log": "logs",
    "ColumnReport": "parsing", "parse_score": "parsing", "parse_score_series": "parsing",
    "Selection": "select", "select_rows": "select",
    # The sandbox and the scorers moved down (ft-core, ft-data) so that ft-train and ft-serve share
    # them; the names stay importable from here.
    "RunResult": "ft_core.sandbox", "SandboxLimits": "ft_core.sandbox", "run_untrusted": "ft_core.sandbox",
    "network_isolated": "ft_core.sandbox",
    "SCORERS": "ft_data.scorers", "register_scorer": "ft_data.scorers", "score_example": "ft_data.scorers",
    "DOMAINS": "schema", "INSTRUCTION": "schema", "LOG_COLUMNS": "schema", "SETTINGS": "schema",
    "SMALL_MODELS": "schema", "TASK_DOMAINS": "schema", "format_label": "schema", "strip_think_cue": "schema",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from importlib import import_module

        module = _EXPORTS[name]
        value = getattr(import_module(module if "." in module else f".{module}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ft_router_data' has no attribute {name!r}")
