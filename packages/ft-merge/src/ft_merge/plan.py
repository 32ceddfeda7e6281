"""Preflight: validate every input from configs and headers, before any heavy work (mergekit #527).

:func:`preflight` resolves the base and every fine-tune, checks method names, densities, model and
dataset counts, files, architectures, shapes and the output directory, and returns a
:class:`MergePlan`. Any problem raises a ``BadInputError`` (exit 2, one line); nothing is written.

Example:
    >>> plan = preflight(MergeConfig(base_model="base", models=[ModelEntry(model="ft")], methods=["ties"]))
    >>> plan.method_names
    ['ties']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ft_core import BadInputError, ConfigError, DataError, check_output_dir

from .config import MergeConfig, check_method_name
from .inputs import BaseModel, ModelInput, load_base, load_input
from .methods import Method, MethodParams, get_method
from .tensor_io import FLOAT_ST, TORCH_TO_ST, OutSpec

_BLOCK_LINEAR = re.compile(r"\.(layers|h|blocks|block)\.\d+\..+\.weight$")
_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}
LOCAL_DATA_SUFFIXES = (".jsonl", ".json", ".txt", ".parquet", ".csv")


@dataclass
class MergePlan:
    """Everything a merge run needs, validated."""

    config: MergeConfig
    base: BaseModel
    inputs: list[ModelInput]
    methods: list[tuple[str, Method]]
    names: list[str]
    specs: list[OutSpec]
    params: MethodParams
    needs: str  # "none" | "diag" | "full": the most calibration any requested method uses

    @property
    def method_names(self) -> list[str]:
        return [n for n, _ in self.methods]

    def in_scope(self, name: str) -> bool:
        """Whether ``name`` is merged (else copied from the base)."""
        info = self.base.tensors[name]
        if info.dtype not in FLOAT_ST:
            return False
        if self.config.merge_scope == "linear":
            return len(info.shape) == 2 and bool(_BLOCK_LINEAR.search(name))
        return True


def is_local_dataset(spec: str) -> bool:
    """A dataset spec naming a local file (by suffix or path syntax) rather than a hub dataset."""
    return spec.lower().endswith(LOCAL_DATA_SUFFIXES) or spec.startswith((".", "/", "~")) or Path(spec).exists()


def preflight(config: MergeConfig, check_output: bool = True) -> MergePlan:
    """Validate ``config`` completely and build the plan (headers only; no tensor is read)."""
    if not config.models:
        raise ConfigError("models: at least one fine-tuned model is needed")
    names = [check_method_name(m) for m in config.methods]
    if len(set(names)) != len(names):
        raise ConfigError(f"methods: {names} lists a method twice")
    methods = [(n, get_method(n)) for n in names]
    for i in range(len(config.models)):
        d = config.density_of(i)
        if not 0.0 < d <= 1.0:
            raise ConfigError(f"density {d} (model {i + 1}): must be in (0, 1], the fraction of deltas kept")
    n = len(config.models)
    for name, m in methods:
        if n < m.min_models or (m.max_models is not None and n > m.max_models):
            want = m.min_models if m.max_models == m.min_models else f"{m.min_models}+"
            raise ConfigError(f"method {name} needs {want} fine-tuned models, got {n}")
    needs = "full" if any(m.needs == "full" for _, m in methods) else (
        "diag" if any(m.needs == "diag" for _, m in methods) else "none")
    if config.sparsegpt_update and needs == "diag":
        needs = "full"
    if needs != "none":
        missing = [i + 1 for i, e in enumerate(config.models) if not e.calibration]
        if missing and config.calibration_fallback != "identity":
            have = n - len(missing)
            raise ConfigError(f"datasets: {have} calibration dataset(s) for {n} models; methods "
                              f"{', '.join(x for x, m in methods if m.needs != 'none')} need one per model "
                              "(or calibration_fallback: identity)")
        for e in config.models:
            if e.calibration and is_local_dataset(e.calibration) and not Path(e.calibration).expanduser().exists():
                raise DataError(f"calibration dataset {e.calibration}: file not found")
    if config.per_task_eval:
        for e in config.models:
            if e.calibration and is_local_dataset(e.calibration) and not Path(e.calibration).expanduser().exists():
                raise DataError(f"dataset {e.calibration}: file not found")
    if check_output:
        check_output_dir(config.output_dir, config.overwrite_output_dir)
    base = load_base(config.base_model)
    inputs = [load_input(e.model, base, i, key_map=config.key_map, allow_missing=config.allow_missing,
                         vocab=config.vocab, strict=config.strict) for i, e in enumerate(config.models)]
    src = config.tokenizer_source
    if src != "base" and not src.isdigit() and not Path(src).is_dir():
        raise BadInputError(f"tokenizer_source {config.tokenizer_source}: expected base, a model index or a directory")
    order = sorted(base.tensors, key=lambda k: (str(base.tensors[k].file), base.tensors[k].start))
    out_dt = _DTYPES.get(config.dtype or "")
    specs = [OutSpec(k, out_dt if (out_dt and base.tensors[k].dtype in FLOAT_ST) else base.tensors[k].dtype,
                     tuple(base.tensors[k].shape)) for k in order]
    return MergePlan(config, base, inputs, methods, order, specs, config.method_params(), needs)


__all__ = ["TORCH_TO_ST", "MergePlan", "is_local_dataset", "preflight"]
