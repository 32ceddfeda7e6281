"""``run_eval``: evaluate one or several models on lm-evaluation-harness tasks and compare them.

The order is chosen so that bad input fails in seconds and writes nothing: the output directory,
every model and adapter path (adapters checked against their base), every task name and every
task's data are checked first; then all engines load (one per base model, its adapters attached
unmerged, so a base and its adapters share one copy of the weights); then each model runs the
tasks through ``lm_eval.simple_evaluate`` with the ft adapter (``FtLM``). Results go into
``output_dir`` atomically: ``results.json``, ``results.log`` (the table), ``results.png`` (bars
with stderr) and ``run.json``; ``log_samples`` adds ``samples/<model>/<task>.jsonl``.

Example:
    >>> result = run_eval(load_eval_config("docs/examples/eval/quickstart.yaml"))
    >>> result.rows[0].scores
    {'base': (0.05, 0.0218), 'quickstart': (0.1, 0.0302)}
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ft_core import (
    BadInputError,
    ConfigError,
    FtError,
    atomic_output_dir,
    atomic_write_json,
    atomic_write_text,
    check_output_dir,
    closest_keys,
    get_logger,
    write_run_json,
)
from ft_core.sandbox import weak_isolation_allowed

from ._resolve import ModelRun, resolve_models
from .compare import ComparisonRow, comparison_rows, plot_comparison, table_text
from .config import EvalConfig

log = get_logger("ft.serve.eval")

__all__ = ["EvalResult", "build_task_specs", "run_eval"]

_BASE_ID = "__ft_eval_base__"  # the engines' base model name; never a column name (':' is refused there)
_RESULT_KEYS = ("results", "groups", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better",
                "n-samples", "config")


@dataclass
class EvalResult:
    """What a run produced: each model's harness result, the comparison rows, where they were written."""

    models: list[str]
    results: dict[str, dict[str, Any]]
    rows: list[ComparisonRow]
    output_dir: Path | None = None
    samples: dict[str, dict[str, list[Any]]] = field(default_factory=dict)


@contextlib.contextmanager
def _harness_logging(level: str) -> Iterator[None]:
    logger = logging.getLogger("lm_eval")
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


def _task_manager(cfg: EvalConfig, names: list[str]) -> tuple[Any, list[str]]:
    """A TaskManager that knows every name (the harness's own tasks indexed only when needed: ~10 s),
    and the names with glob patterns expanded."""
    from lm_eval.tasks import TaskManager

    include = []
    for p in cfg.include_path:
        if not Path(p).is_dir():
            raise ConfigError(f"include_path {p}: folder not found (give folders of lm-eval task YAMLs)")
        include.append(str(Path(p).resolve()))
    manager = TaskManager(include_path=include or None, include_defaults=False)

    def unknown(tm: Any) -> list[str]:
        return [n for n in names if not (n.endswith((".yaml", ".yml")) and Path(n).is_file())
                and not fnmatch.filter(tm.all_tasks, n)]

    if names and unknown(manager):
        manager = TaskManager(include_path=include or None, include_defaults=True)
    missing = unknown(manager)
    if missing:
        close = closest_keys(missing[0], manager.all_tasks)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadInputError(f"tasks: unknown task {missing[0]!r}{hint} (lm-eval's task names, or task YAMLs in a "
                            "folder given as include_path)")
    expanded: list[str] = []
    for n in names:
        matches = [n] if n in manager.all_tasks or n.endswith((".yaml", ".yml")) else sorted(
            fnmatch.filter(manager.all_tasks, n))
        expanded += [m for m in matches if m not in expanded]
    return manager, expanded


def build_task_specs(cfg: EvalConfig) -> tuple[Any, Callable[[], list[Any]]]:
    """The TaskManager and a function giving fresh task specs (names, LLaMA-Factory groups) for one run."""
    from .legacy import legacy_group, parse_legacy_task

    manager, names = _task_manager(cfg, list(cfg.tasks))
    if cfg.task:
        parse_legacy_task(cfg.task, cfg.task_dir)

    def specs() -> list[Any]:
        out: list[Any] = list(names)
        if cfg.task:
            out.append(legacy_group(cfg.task, cfg.task_dir, n_shot=cfg.n_shot, lang=cfg.lang))
        return out

    return manager, specs


def _check_tasks(manager: Any, specs: list[Any]) -> None:
    """Build every task once (reads its data) so a broken task or dataset fails before any model loads."""
    for spec in specs:
        name = spec if isinstance(spec, str) else getattr(spec, "name", str(spec))
        try:
            manager.load([spec])
        except FtError:
            raise
        except Exception as exc:  # the harness and datasets raise many types; all mean "this task cannot load"
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BadInputError(f"task {name}: {detail}") from exc


def _serve_config(cfg: EvalConfig, base: str, template: str | None, adapters: list[ModelRun]) -> Any:
    from ..config import ServeConfig

    fields: dict[str, Any] = {
        "model_name_or_path": base, "template": template, "infer_backend": cfg.infer_backend,
        "infer_dtype": cfg.infer_dtype, "trust_remote_code": cfg.trust_remote_code,
        "enable_thinking": cfg.enable_thinking, "max_batch_size": cfg.max_batch_size, "max_queue": 1 << 20,
        "served_model_name": _BASE_ID, "log_requests": False,
    }
    if cfg.default_system is not None:
        fields["default_system"] = cfg.default_system
    if cfg.max_model_len is not None:
        fields["max_model_len"] = cfg.max_model_len
    if adapters:
        fields["adapter_name_or_path"] = [f"{r.name}={r.adapter}" for r in adapters]
    return ServeConfig(**fields)


def _load_engines(cfg: EvalConfig, runs: list[ModelRun]) -> dict[str, Any]:
    """One loaded engine per (base, template), its runs' adapters attached; run name -> engine."""
    from ..engines import build_engine

    groups: dict[tuple[str, str | None], list[ModelRun]] = {}
    for run in runs:
        groups.setdefault((str(run.base_path), run.template), []).append(run)
    by_run: dict[str, Any] = {}
    engines: list[Any] = []
    try:
        for members in groups.values():
            engine = build_engine(_serve_config(cfg, members[0].base, members[0].template,
                                                [r for r in members if r.adapter]))
            engines.append(engine)
            engine.load()
            for run in members:
                by_run[run.name] = engine
    except BaseException:
        for engine in engines:
            engine.shutdown()
        raise
    return by_run


def _evaluate(cfg: EvalConfig, engine: Any, run: ModelRun, manager: Any, specs: list[Any]) -> dict[str, Any]:
    import lm_eval

    from .lm_adapter import FtLM

    lm = FtLM(engine=engine, adapter=run.name if run.adapter else "", batch_size=cfg.batch_size,
              seed=cfg.seed if cfg.seed is not None else 1234)
    seeds = {} if cfg.seed is None else {k: cfg.seed for k in ("random_seed", "numpy_random_seed",
                                                              "torch_random_seed", "fewshot_random_seed")}
    log.info("evaluating %s on %d task(s)", run.name, len(specs))
    result = lm_eval.simple_evaluate(
        model=lm, tasks=specs, task_manager=manager, num_fewshot=cfg.num_fewshot, limit=cfg.limit,
        bootstrap_iters=cfg.bootstrap_iters, log_samples=cfg.log_samples, system_instruction=cfg.system_instruction,
        apply_chat_template=cfg.apply_chat_template, fewshot_as_multiturn=cfg.fewshot_as_multiturn,
        gen_kwargs=cfg.gen_kwargs, confirm_run_unsafe_code=cfg.confirm_run_unsafe_code, **seeds)
    if result is None:
        raise FtError(f"{run.name}: lm-eval returned no results")
    return result


def _jsonable(obj: Any) -> Any:
    from lm_eval.utils import handle_non_serializable

    return json.loads(json.dumps(obj, default=handle_non_serializable))


def _write(out: Path, cfg: EvalConfig, result: EvalResult, runs: list[ModelRun], started: str, t0: float) -> None:
    with atomic_output_dir(out, overwrite=cfg.overwrite_output_dir) as tmp:
        payload = {
            "models": {r.name: r.describe() for r in runs},
            "table": [row.as_dict() for row in result.rows],
            "results": result.results,
        }
        atomic_write_json(tmp / "results.json", payload, fsync=False)
        atomic_write_text(tmp / "results.log", table_text(result.rows, result.models), fsync=False)
        if cfg.plot and result.rows:
            plot_comparison(result.rows, result.models, tmp / "results.png")
        for model, by_task in result.samples.items():
            for task, samples in by_task.items():
                lines = "".join(json.dumps(_jsonable(s), ensure_ascii=False) + "\n" for s in samples)
                atomic_write_text(tmp / "samples" / model / f"{task}.jsonl", lines, fsync=False)
        write_run_json(tmp, cfg.model_dump(), started, elapsed_s=round(time.perf_counter() - t0, 3),
                       extra={"models": list(result.models), "tasks": sorted({r.task for r in result.rows})})


def run_eval(cfg: EvalConfig) -> EvalResult:
    """Evaluate every model of ``cfg`` on its tasks; see the module docstring for the order of checks."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t0 = time.perf_counter()
    out = cfg.out_dir()
    if out is not None:
        check_output_dir(out, cfg.overwrite_output_dir)
    with _harness_logging(cfg.harness_log_level), weak_isolation_allowed(cfg.allow_weak_isolation):
        runs = resolve_models(cfg)
        manager, specs = build_task_specs(cfg)
        _check_tasks(manager, specs())
        engines = _load_engines(cfg, runs)
        results: dict[str, dict[str, Any]] = {}
        samples: dict[str, dict[str, list[Any]]] = {}
        try:
            for run in runs:
                raw = _evaluate(cfg, engines[run.name], run, manager, specs())
                results[run.name] = _jsonable({k: raw[k] for k in _RESULT_KEYS if k in raw})
                if cfg.log_samples:
                    samples[run.name] = raw.get("samples", {})
        finally:
            for engine in {id(e): e for e in engines.values()}.values():
                engine.shutdown()
    models = [r.name for r in runs]
    result = EvalResult(models, results, comparison_rows(results), out, samples)
    if out is not None:
        _write(out, cfg, result, runs, started, t0)
        log.info("results written to %s", out)
    return result
