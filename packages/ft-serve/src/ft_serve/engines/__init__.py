"""Engines by ``infer_backend`` name (an explicit registry), and the interface they share.

Example:
    >>> engine = build_engine(load_serve_config("api.yaml"))
    >>> engine.load()
"""

from __future__ import annotations

import importlib
from typing import Any

from ft_core import ConfigError

from .base import (
    ChoiceDelta,
    ChoiceOutput,
    ContextLengthError,
    Engine,
    EngineNotReady,
    EngineStats,
    GenerateRequest,
    QueueFullError,
    TokenLogprob,
    UnknownModelError,
    collect,
)

# name -> "module:Class"; imported on use, so the vLLM engine costs nothing where vLLM is absent
ENGINES: dict[str, str] = {
    "huggingface": "ft_serve.engines.transformers_engine:TransformersEngine",
    "vllm": "ft_serve.engines.vllm_engine:VLLMEngine",
}


def register_engine(name: str, target: str) -> None:
    """Add an engine class (``"package.module:Class"``) under ``infer_backend`` name ``name``."""
    ENGINES[name] = target


def build_engine(config: Any) -> Engine:
    """The engine ``config.infer_backend`` names, not loaded yet (call ``load``)."""
    target = ENGINES.get(config.infer_backend)
    if target is None:
        raise ConfigError(f"infer_backend {config.infer_backend!r} is unknown; valid: {', '.join(ENGINES)}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)(config)


__all__ = [
    "ENGINES", "ChoiceDelta", "ChoiceOutput", "ContextLengthError", "Engine", "EngineNotReady", "EngineStats",
    "GenerateRequest", "QueueFullError", "TokenLogprob", "UnknownModelError", "build_engine", "collect",
    "register_engine",
]
