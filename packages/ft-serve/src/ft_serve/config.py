"""``ServeConfig``: what ``ft chat``, ``ft api`` and ``ft webchat`` read, with LLaMA-Factory's keys.

A LLaMA-Factory inference YAML (``examples/inference/*.yaml``: ``model_name_or_path``,
``adapter_name_or_path``, ``template``, ``infer_backend``, ``infer_dtype``, ``trust_remote_code``,
generating keys, ``vllm_*``) loads unchanged. ft's own serving keys (batch size, queue, served
name, request limits) sit beside them.

Generation defaults, lowest first: neutral values (temperature 1, no filters), the model's
``generation_config.json``, the generating keys the YAML sets explicitly, then each request's
own fields.

Example:
    >>> cfg = load_serve_config("examples/inference/llama3.yaml", ["model_name_or_path=smollm2-135m-instruct"])
    >>> cfg.infer_backend
    'huggingface'
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pydantic

from ft_core import ConfigError, load_config
from ft_models import ModelArgs
from ft_models.generation import GeneratingArgs, defaults_from_generation_config

__all__ = ["ServeConfig", "adapter_names", "load_serve_config"]


class ServeConfig(GeneratingArgs, ModelArgs):
    """Model, template, generation, engine and server keys of the serving commands."""

    model_config = pydantic.ConfigDict(extra="forbid", protected_namespaces=())

    # template (ft-data's DataArgs names)
    template: str | None = None
    default_system: str | None = None
    enable_thinking: bool | None = True
    tool_format: str | None = None
    cutoff_len: int | None = None  # LLaMA-Factory inference YAMLs sometimes carry it; bounds the prompt

    # LLaMA-Factory's LoRA inference YAMLs name the adapter type; only LoRA adapters are served
    finetuning_type: Literal["lora"] = "lora"

    # engine
    infer_backend: Literal["huggingface", "vllm"] = "huggingface"
    vllm_maxlen: int = 4096
    vllm_gpu_util: float = pydantic.Field(0.7, gt=0.0, le=1.0)
    vllm_enforce_eager: bool = False
    vllm_max_lora_rank: int = 32
    vllm_config: dict[str, Any] | str | None = None

    # ft's serving keys
    served_model_name: str | None = None
    max_batch_size: int = pydantic.Field(32, ge=1)
    max_queue: int = pydantic.Field(256, ge=0)
    max_model_len: int | None = pydantic.Field(None, ge=1)
    max_body_bytes: int = pydantic.Field(4 * 1024 * 1024, ge=1024)
    log_requests: bool = True
    # Browser origins allowed to call the API (CORS); none by default, so a web page cannot
    # reach a server on the user's loopback. LLaMA-Factory allows every origin.
    cors_origins: list[str] = []

    @pydantic.field_validator("vllm_config", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            import json

            try:
                return json.loads(value) if value.strip() else None
            except json.JSONDecodeError as exc:
                raise ValueError(f"vllm_config must be a JSON object: {exc}") from exc
        return value

    def model_id(self) -> str:
        """The base model's name in ``/v1/models``: ``served_model_name``, ``API_MODEL_NAME`` or the path's last part."""
        if self.served_model_name:
            return self.served_model_name
        if os.environ.get("API_MODEL_NAME"):
            return os.environ["API_MODEL_NAME"]
        return Path(self.model_name_or_path.rstrip("/")).name or self.model_name_or_path

    def generation_overrides(self) -> dict[str, Any]:
        """``SamplingParams`` fields the config sets explicitly (above the model's generation_config)."""
        return self.sampling_overrides(set(self.model_fields_set))

    def sampling_defaults(self, generation_config: Any) -> dict[str, Any]:
        """An engine's ``SamplingParams`` defaults: the model's generation_config, then the keys the
        config sets explicitly (``max_new_tokens`` becomes ``max_tokens``)."""
        defaults = defaults_from_generation_config(generation_config)
        defaults.update(self.generation_overrides())
        if self.default_max_tokens():
            defaults["max_tokens"] = self.default_max_tokens()
        return defaults

    def default_max_tokens(self) -> int | None:
        """``max_new_tokens`` when the config sets it (a request's ``max_tokens`` wins)."""
        if "max_new_tokens" in self.model_fields_set and self.max_new_tokens > 0:
            return self.max_new_tokens
        return None


def adapter_names(paths: Iterable[str]) -> dict[str, str]:
    """Served name -> path of each adapter: ``name=path`` entries, else the directory's name.

    Example:
        >>> adapter_names(["saves/sql-lora", "math=saves/run7/checkpoint-60"])
        {'sql-lora': 'saves/sql-lora', 'math': 'saves/run7/checkpoint-60'}
    """
    out: dict[str, str] = {}
    for entry in paths:
        name, sep, path = entry.partition("=")
        if not sep:
            path = entry
            parts = [p for p in Path(entry).parts if p not in ("/", ".")]
            # checkpoint-N alone says little: keep the run's directory in the name
            name = "-".join(parts[-2:]) if parts and parts[-1].startswith("checkpoint-") and len(parts) > 1 \
                else (parts[-1] if parts else entry)
        if name in out:
            raise ConfigError(f"adapter_name_or_path: two adapters are named {name!r}; name them with name=path")
        if ":" in name:
            raise ConfigError(f"adapter name {name!r} must not contain ':' (models are called base:adapter)")
        out[name] = path
    return out


def load_serve_config(path: str | Path | None, overrides: Iterable[str] = ()) -> ServeConfig:
    """Read a YAML/JSON config plus ``key=value`` overrides (bad keys: one-line ConfigError)."""
    return load_config(ServeConfig, path, overrides)
