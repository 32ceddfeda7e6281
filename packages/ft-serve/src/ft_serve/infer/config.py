"""``InferConfig``: the keys of ``ft infer``, LLaMA-Factory's ``scripts/vllm_infer.py`` flags unchanged.

Every flag of ``vllm_infer.py`` is a key with its default there (``template`` "default",
``temperature`` 0.95, ``top_p`` 0.7, ``top_k`` 50, ``max_new_tokens`` 1024, ``batch_size``
1024, ...), so ``python scripts/vllm_infer.py --model_name_or_path … --dataset router_test`` runs as
``ft infer --model_name_or_path … --dataset router_test``. ft's own keys sit beside them: the
engine (``infer_backend``), resuming (``overwrite``), data-parallel workers (``ray_*``).

Example:
    >>> cfg = load_infer_config(None, ["model_name_or_path=smollm2-135m-instruct", "dataset=identity"])
    >>> cfg.save_name, cfg.temperature
    ('generated_predictions.jsonl', 0.95)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import pydantic

from ft_core import ConfigError, flags_to_overrides, load_config
from ft_models.generation import SamplingParams

__all__ = ["InferConfig", "load_infer_config"]


class InferConfig(pydantic.BaseModel):
    """Batch inference over a dataset: model, data, sampling, output and engine keys."""

    model_config = pydantic.ConfigDict(extra="forbid", protected_namespaces=())

    # --- vllm_infer.py's flags, with its defaults
    model_name_or_path: str
    adapter_name_or_path: str | None = None
    dataset: str = "alpaca_en_demo"
    dataset_dir: str = "data"
    template: str = "default"
    cutoff_len: int = pydantic.Field(2048, ge=1)
    max_samples: int | None = pydantic.Field(None, ge=1)
    vllm_config: dict[str, Any] = {}
    save_name: str = "generated_predictions.jsonl"
    matrix_save_name: str | None = None
    temperature: float = pydantic.Field(0.95, ge=0.0)
    top_p: float = pydantic.Field(0.7, gt=0.0, le=1.0)
    top_k: int = pydantic.Field(50, ge=-1)
    max_new_tokens: int = pydantic.Field(1024, ge=1)
    repetition_penalty: float = pydantic.Field(1.0, gt=0.0)
    skip_special_tokens: bool = True
    default_system: str | None = None
    enable_thinking: bool = True
    seed: int | None = None
    pipeline_parallel_size: int = pydantic.Field(1, ge=1)
    image_max_pixels: int = 768 * 768
    image_min_pixels: int = 32 * 32
    video_fps: float = 2.0
    video_maxlen: int = 128
    batch_size: int = pydantic.Field(1024, ge=1)

    # --- ft's keys
    # auto: vLLM when a GPU and vllm are there (what vllm_infer.py always uses), else transformers
    infer_backend: Literal["auto", "huggingface", "vllm"] = "auto"
    infer_dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    trust_remote_code: bool = False
    # rows decoding together on the transformers engine (vLLM schedules its own)
    max_batch_size: int = pydantic.Field(64, ge=1)
    # start over instead of continuing an interrupted run of the same save_name
    overwrite: bool = False
    # data parallelism with Ray Data: one engine replica per worker (per GPU where there are GPUs)
    ray_num_workers: int | None = pydantic.Field(None, ge=1)
    ray_address: str | None = None
    ray_gpus_per_worker: float | None = pydantic.Field(None, ge=0)

    @pydantic.field_validator("vllm_config", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON object, e.g. '{{\"gpu_memory_utilization\": 0.9}}': {exc}") from exc
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object")
        return value

    @pydantic.field_validator("adapter_name_or_path", mode="before")
    @classmethod
    def _adapters(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        return value

    @pydantic.model_validator(mode="after")
    def _check(self) -> InferConfig:
        if self.adapter_name_or_path and "," in self.adapter_name_or_path:
            raise ValueError("adapter_name_or_path: ft infer applies one LoRA adapter (vllm_infer.py uses only "
                             "the first); merge several with `ft export` first")
        if not self.save_name.endswith(".jsonl"):
            raise ValueError(f"save_name {self.save_name!r}: predictions are JSON lines; end it in .jsonl")
        return self

    def sampling_params(self, stop_token_ids: Sequence[int] = ()) -> SamplingParams:
        """The ``SamplingParams`` of every row (vllm_infer.py's; the model's generation_config is not applied)."""
        return SamplingParams(max_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p,
                              top_k=self.top_k, repetition_penalty=self.repetition_penalty, seed=self.seed,
                              skip_special_tokens=self.skip_special_tokens, stop_token_ids=tuple(stop_token_ids))

    def fingerprint(self) -> dict[str, Any]:
        """What decides the file's content: a resumed run must have the same values."""
        keys = ("model_name_or_path", "adapter_name_or_path", "dataset", "dataset_dir", "template", "cutoff_len",
                "max_samples", "temperature", "top_p", "top_k", "max_new_tokens", "repetition_penalty",
                "skip_special_tokens", "default_system", "enable_thinking", "seed", "infer_dtype")
        return {k: getattr(self, k) for k in keys}

    def save_path(self) -> Path:
        return Path(self.save_name)


def load_infer_config(path: str | Path | None, overrides: Iterable[str] = ()) -> InferConfig:
    """Read a YAML/JSON config plus overrides (``key=value`` or ``--key value``); bad keys: one-line ConfigError."""
    cfg = load_config(InferConfig, path, flags_to_overrides(list(overrides)))
    if cfg.infer_backend == "vllm" and cfg.ray_num_workers and cfg.pipeline_parallel_size > 1:
        raise ConfigError("pipeline_parallel_size > 1 with ray_num_workers: give each worker whole GPUs "
                          "through vllm_config or use one of the two")
    return cfg
