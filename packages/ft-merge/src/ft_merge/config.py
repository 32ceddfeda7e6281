"""The merge configuration: one pydantic model for the CLI flags, the Python API and YAML files.

YAML files may use mergekit's schema (``merge_method``, ``base_model``, ``models[].model``,
``models[].parameters.{weight,density}``, ``parameters: {lambda, normalize, ...}``, ``dtype``,
``tokenizer_source``); :func:`from_mergekit` maps it onto :class:`MergeConfig`.

Example:
    >>> cfg = MergeConfig(base_model="base", models=[ModelEntry(model="ft1")], methods=["ties"])
    >>> cfg.density_of(0)
    0.2
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from ft_core import ConfigError, closest_keys

from .methods import ALIASES, METHODS, MethodParams

SEED_METHODS = ["ties_magnitude", "dare_random", "ties_sparsegpt"]
# mergekit names that mean the same method under another name here.
MERGEKIT_NAMES = {"ties": "ties", "dare_linear": "dare_linear", "breadcrumbs_ties": "breadcrumbs"}


class ModelEntry(pydantic.BaseModel):
    """One fine-tune: a directory/hub id (or ``base+adapter``), weight, density and calibration data."""

    model_config = pydantic.ConfigDict(extra="forbid")
    model: str
    weight: float = 1.0
    density: float | None = None
    calibration: str | None = None


class MergeConfig(pydantic.BaseModel):
    """Every option of a merge run (see docs/ft-merge.md for each one)."""

    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)

    base_model: str
    models: list[ModelEntry]
    methods: list[str] = pydantic.Field(default_factory=lambda: list(SEED_METHODS))
    output_dir: str = "./merged_models"
    cache_dir: str = "./merge_cache"
    overwrite_output_dir: bool = False
    # merge parameters
    density: float = 0.2
    lambda_: float = pydantic.Field(1.0, alias="lambda")
    normalize: bool | None = None
    elect_on: Literal["weighted", "unweighted"] = "weighted"
    dare_rescale: Literal["exact", "l1"] = "exact"
    seed: int = 0
    saliency: Literal["obs", "seed", "wanda"] = "obs"
    selection: Literal["tensor", "row", "block128"] = "tensor"
    sparsegpt_update: bool = False
    percdamp: float = 0.01
    epsilon: float = 0.15
    gamma: float = 0.01
    t: float = 0.5
    alpha: float = 0.5
    # calibration
    num_calibration_samples: int = 128
    calibration_seq_length: int = 512
    calibration_split: str = "train"
    text_field: str | None = None
    calibration_fallback: Literal["dummy", "identity", "error"] = "dummy"
    hessian_source: Literal["finetuned", "base"] = "finetuned"
    calibration_batch_size: int = 8
    # scope and output
    merge_scope: Literal["all", "linear"] = "all"
    vocab: Literal["base", "error"] = "base"
    dtype: Literal["float32", "float16", "bfloat16"] | None = None
    out_shard_size: str = "5GB"
    key_map: dict[str, str] = pydantic.Field(default_factory=dict)
    allow_missing: bool = False
    strict: bool = False
    tokenizer_source: str = "base"
    # evaluation
    eval: Literal["quick", "standard", "none"] = "quick"
    eval_dataset: str = "wikitext2"
    eval_num_samples: int = 100
    eval_seq_len: int = 2048
    per_task_eval: bool = False
    per_task_rows: int = 32
    device: str = "auto"
    threads: int | None = None

    def density_of(self, i: int) -> float:
        d = self.models[i].density
        return self.density if d is None else d

    def method_params(self) -> MethodParams:
        return MethodParams(lambda_=self.lambda_, normalize=self.normalize, elect_on=self.elect_on,
                            dare_rescale=self.dare_rescale, seed=self.seed, saliency=self.saliency,
                            selection=self.selection, sparsegpt_update=self.sparsegpt_update,
                            percdamp=self.percdamp, epsilon=self.epsilon, gamma=self.gamma, t=self.t,
                            alpha=self.alpha)


def known_method_names() -> list[str]:
    return sorted(set(METHODS) | set(ALIASES))


def check_method_name(name: str) -> str:
    """``name`` if it is a registered method or alias, else a ConfigError with the closest names."""
    if name in METHODS or name in ALIASES:
        return name
    close = closest_keys(name, known_method_names())
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown merge method {name!r}{hint} (known: {', '.join(known_method_names())})")


_MK_PARAM_KEYS = {"lambda": "lambda", "normalize": "normalize", "epsilon": "epsilon", "gamma": "gamma",
                  "t": "t", "rescale": "dare_rescale", "int8_mask": None, "density": "density",
                  "weight": None}


def from_mergekit(data: dict[str, Any]) -> dict[str, Any]:
    """Map a mergekit-schema dict (``merge_method``, ``models[].parameters``…) to MergeConfig keys.

    Native keys pass through unchanged; unsupported mergekit features (``slices``) are errors.
    """
    out = dict(data)
    if "slices" in out:
        raise ConfigError("slices are not supported (ft-merge merges whole models of one architecture)")
    if "merge_method" in out:
        method = out.pop("merge_method")
        out["methods"] = [MERGEKIT_NAMES.get(method, method)]
    out.pop("int8_mask", None)  # a mergekit memory option; meaningless here
    params = out.pop("parameters", None) or {}
    for key, value in params.items():
        if key not in _MK_PARAM_KEYS:
            raise ConfigError(f"parameters.{key}: unknown parameter (known: {', '.join(sorted(_MK_PARAM_KEYS))})")
        target = _MK_PARAM_KEYS[key]
        if target == "dare_rescale":
            value = "l1" if value in (True, "l1") else "exact"
        if target:
            out[target] = value
    models = []
    for entry in out.get("models", []) or []:
        if isinstance(entry, str):
            entry = {"model": entry}
        entry = dict(entry)
        p = entry.pop("parameters", None) or {}
        for key in p:
            if key not in ("weight", "density"):
                raise ConfigError(f"models[].parameters.{key}: only weight and density are per-model here")
        entry.update({k: p[k] for k in ("weight", "density") if k in p})
        models.append(entry)
    if "models" in out:
        out["models"] = models
    return out
