"""The engine of a batch-inference run: the serve engine ``infer_backend`` names, configured for
throughput (whole chunks queued, context ``cutoff_len + max_new_tokens`` as vllm_infer.py sets it).

Example:
    >>> engine = build_infer_engine(cfg)   # loaded, ready to generate
"""

from __future__ import annotations

from typing import Any

from ft_core import ConfigError, get_logger

from ..config import ServeConfig
from ..engines import Engine, build_engine

log = get_logger("ft.serve.infer")

__all__ = ["build_infer_engine", "resolve_backend", "serve_config_for"]


def resolve_backend(cfg: Any) -> str:
    """``auto`` -> vllm when CUDA and the vllm package are present, else huggingface (transformers)."""
    if cfg.infer_backend != "auto":
        return cfg.infer_backend
    import importlib.util

    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None:
        return "vllm"
    return "huggingface"


def serve_config_for(cfg: Any, backend: str | None = None) -> ServeConfig:
    """The ``ServeConfig`` of the engine: model, adapter, template, limits from the infer keys."""
    backend = backend or resolve_backend(cfg)
    vllm_config = dict(cfg.vllm_config)
    if backend == "vllm" and cfg.pipeline_parallel_size > 1:
        vllm_config.setdefault("pipeline_parallel_size", cfg.pipeline_parallel_size)
        import torch

        gpus = torch.cuda.device_count()
        if cfg.pipeline_parallel_size > gpus:
            raise ConfigError(f"pipeline_parallel_size={cfg.pipeline_parallel_size} is more than the {gpus} GPUs here")
        vllm_config.setdefault("tensor_parallel_size", max(1, gpus // cfg.pipeline_parallel_size))
    fields: dict[str, Any] = {
        "model_name_or_path": cfg.model_name_or_path,
        "template": cfg.template,
        "default_system": cfg.default_system,
        "enable_thinking": cfg.enable_thinking,
        "infer_backend": backend,
        "infer_dtype": cfg.infer_dtype,
        "trust_remote_code": cfg.trust_remote_code,
        "max_batch_size": cfg.max_batch_size,
        # a whole chunk waits in the queue at once
        "max_queue": max(cfg.batch_size, 1),
        "max_model_len": cfg.cutoff_len + cfg.max_new_tokens,
        "vllm_maxlen": cfg.cutoff_len + cfg.max_new_tokens,
        "vllm_config": vllm_config or None,
        "log_requests": False,
    }
    if cfg.adapter_name_or_path:
        fields["adapter_name_or_path"] = cfg.adapter_name_or_path
    if backend == "vllm" and "max_batch_size" not in cfg.model_fields_set:
        fields.pop("max_batch_size")  # vLLM schedules as many rows as its KV cache holds
    return ServeConfig(**fields)


def build_infer_engine(cfg: Any) -> Engine:
    """Build and load the engine (blocking)."""
    engine = build_engine(serve_config_for(cfg))
    engine.load()
    return engine
