"""``EvalConfig``: the keys of ``ft eval``, LLaMA-Factory's evaluator keys included.

Harness keys: ``tasks`` (lm-eval task, group or tag names; local task folders through
``include_path``), ``limit``, ``num_fewshot``, ``apply_chat_template``, ``fewshot_as_multiturn``,
``system_instruction``, ``gen_kwargs``, ``bootstrap_iters``, ``log_samples``. Model keys are the
serving keys (``model_name_or_path``, ``adapter_name_or_path``, ``template``, ``infer_backend``,
...); ``models`` lists several to compare (the base, adapters, merged exports).

LLaMA-Factory's ``llamafactory-cli eval`` keys load unchanged: ``task`` (``mmlu_test``: the
folder ``task_dir/mmlu``, split ``test``), ``task_dir`` (``evaluation``), ``n_shot`` (5), ``lang``
(en/zh), ``batch_size``, ``seed``, ``save_dir`` (the output directory). See ``legacy.py``.

Example:
    >>> cfg = load_eval_config(None, ["model_name_or_path=smollm2-135m-instruct", "tasks=rg_gsm_symbolic",
    ...                               "include_path=docs/examples/eval/tasks", "models=base,saves/quickstart"])
    >>> [m.path or "base" for m in cfg.model_specs()]
    ['base', 'saves/quickstart']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pydantic

from ft_core import ConfigError, flags_to_overrides, load_config

__all__ = ["EvalConfig", "ModelSpec", "load_eval_config"]

_SPLIT_LIST = re.compile(r"\s*,\s*")


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [v for v in _SPLIT_LIST.split(value.strip()) if v]
    return value


class ModelSpec(pydantic.BaseModel):
    """One model of a comparison.

    ``path`` (the short form ``models: [base, saves/lora, saves/merged]``): ``base`` is the base
    model itself; a directory with ``adapter_config.json`` is a LoRA adapter on the base; anything
    else is a model (directory, hub id or alias) with the base's template. Or give the keys:
    ``model_name_or_path``, ``adapter_name_or_path``, ``template`` (each defaults to the top-level key).
    ``name`` is the column title (default: ``base``, else the path's last part).
    """

    model_config = pydantic.ConfigDict(extra="forbid", protected_namespaces=())

    name: str | None = None
    path: str | None = None
    model_name_or_path: str | None = None
    adapter_name_or_path: str | None = None
    template: str | None = None

    @pydantic.model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            name, sep, path = value.partition("=")
            if not sep:
                name, path = "", value
            if path == "base":
                return {"name": name or "base"}
            return {"name": name or None, "path": path}
        return value

    @pydantic.model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if self.path and (self.model_name_or_path or self.adapter_name_or_path):
            raise ValueError("give path, or model_name_or_path/adapter_name_or_path, not both")
        if self.adapter_name_or_path and "," in self.adapter_name_or_path:
            raise ValueError("adapter_name_or_path: one adapter per model; list each as its own model to compare them")
        if self.name is not None and (":" in self.name or not self.name.strip()):
            raise ValueError(f"name {self.name!r} must be non-empty and without ':'")
        return self

    def display_name(self) -> str:
        if self.name:
            return self.name
        path = self.path or self.adapter_name_or_path or self.model_name_or_path
        if not path:
            return "base"
        parts = [p for p in Path(path.rstrip("/")).parts if p not in ("/", ".")]
        # checkpoint-N alone says little: keep the run's directory in the name
        if len(parts) > 1 and parts[-1].startswith("checkpoint-"):
            return "-".join(parts[-2:])
        return parts[-1] if parts else path


class EvalConfig(pydantic.BaseModel):
    """What ``ft eval`` evaluates (tasks), on which models, and where the results go."""

    model_config = pydantic.ConfigDict(extra="forbid", protected_namespaces=())

    # --- the model (ServeConfig's keys); one model unless `models` lists several
    model_name_or_path: str
    adapter_name_or_path: str | None = None
    template: str | None = None
    default_system: str | None = None
    enable_thinking: bool | None = True
    infer_backend: Literal["huggingface", "vllm"] = "huggingface"
    infer_dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    trust_remote_code: bool = False
    max_model_len: int | None = pydantic.Field(None, ge=1)
    # rows decoding together in the engine (generation)
    max_batch_size: int = pydantic.Field(32, ge=1)
    models: list[ModelSpec] = []
    # LLaMA-Factory's eval YAMLs name the adapter type; adapters are LoRA adapters, unmerged
    finetuning_type: Literal["lora"] = "lora"

    # --- lm-evaluation-harness
    tasks: list[str] = []
    include_path: list[str] = []
    limit: float | None = pydantic.Field(None, gt=0)
    num_fewshot: int | None = pydantic.Field(None, ge=0)
    apply_chat_template: bool = True
    fewshot_as_multiturn: bool = True
    system_instruction: str | None = None
    gen_kwargs: dict[str, Any] | None = None
    bootstrap_iters: int = pydantic.Field(100000, ge=0)
    log_samples: bool = False
    confirm_run_unsafe_code: bool = False
    # tasks that run generated code through ft_core.sandbox (humaneval_sandbox): on a machine without
    # an OS sandbox, run it with limits and an audit hook only instead of refusing
    allow_weak_isolation: bool = False
    # the harness's own log lines below this level are hidden (ft logs its own progress)
    harness_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "ERROR"

    # --- LLaMA-Factory's evaluator keys
    task: str | None = None
    task_dir: str = "evaluation"
    # log-likelihood rows per forward (LLaMA-Factory: prompts per forward)
    batch_size: int = pydantic.Field(4, ge=1)
    seed: int | None = None
    lang: Literal["en", "zh"] = "en"
    n_shot: int = pydantic.Field(5, ge=0)
    save_dir: str | None = None
    # accepted for LLaMA-Factory's configs; ft reads the task folder's files directly (no dataset cache)
    download_mode: Literal["reuse_dataset_if_exists", "reuse_cache_if_exists", "force_redownload"] = \
        "reuse_dataset_if_exists"

    # --- output
    output_dir: str | None = None
    overwrite_output_dir: bool = False
    plot: bool = True

    @pydantic.field_validator("tasks", "include_path", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _comma_list(value)

    @pydantic.field_validator("models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        return _comma_list(value)

    @pydantic.field_validator("limit")
    @classmethod
    def _limit(cls, value: float | None) -> float | None:
        if value is not None and value >= 1 and value != int(value):
            raise ValueError("limit is a row count (an integer) or a fraction below 1")
        return int(value) if value is not None and value >= 1 else value

    @pydantic.field_validator("gen_kwargs", mode="before")
    @classmethod
    def _gen_kwargs(cls, value: Any) -> Any:
        if isinstance(value, str):
            from lm_eval.utils import simple_parse_args_string

            return simple_parse_args_string(value)  # the harness's own form: "max_gen_toks=64,temperature=0"
        return value

    @pydantic.model_validator(mode="after")
    def _check(self) -> EvalConfig:
        if not self.tasks and not self.task:
            raise ValueError("tasks: give at least one task (tasks=rg_gsm_symbolic, or LLaMA-Factory's task=mmlu_test)")
        if self.save_dir and self.output_dir and Path(self.save_dir) != Path(self.output_dir):
            raise ValueError("save_dir and output_dir name two directories; give one of them")
        if self.adapter_name_or_path and "," in self.adapter_name_or_path:
            raise ValueError("adapter_name_or_path: one adapter; list several in models to compare them")
        names = [m.display_name() for m in self.model_specs()]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"models: two models are named {dup[0]!r}; name them with name=path")
        return self

    def model_specs(self) -> list[ModelSpec]:
        """The models to evaluate: ``models``, else the one the top-level keys name."""
        if self.models:
            return list(self.models)
        if self.adapter_name_or_path:
            return [ModelSpec(adapter_name_or_path=self.adapter_name_or_path)]
        return [ModelSpec(name=Path(self.model_name_or_path.rstrip("/")).name or self.model_name_or_path)]

    def out_dir(self) -> Path | None:
        """``output_dir``, else LLaMA-Factory's ``save_dir``; None writes nothing."""
        target = self.output_dir or self.save_dir
        return Path(target) if target else None


def load_eval_config(path: str | Path | None, overrides: Iterable[str] = ()) -> EvalConfig:
    """Read a YAML/JSON config plus overrides (``key=value`` or ``--key value``); bad keys: one-line ConfigError."""
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"{path}: config file not found")
    return load_config(EvalConfig, path, flags_to_overrides(list(overrides)))
