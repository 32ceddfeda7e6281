"""ft-serve: inference engines (continuous-batching transformers, vLLM), ``ft chat``, the
OpenAI-compatible ``ft api``, ``ft webchat``, batch inference (``ft infer``) and evaluation on
lm-evaluation-harness (``ft eval``, ``ft_serve.evaluation``).

Example:
    >>> from ft_serve import ChatModel, load_serve_config
    >>> chat = ChatModel(load_serve_config(None, ["model_name_or_path=smollm2-135m-instruct"]))
    >>> chat.chat([{"role": "user", "content": "Hi"}], max_tokens=16)
"""

# ruff: noqa: E402 -- the environment defaults below must be set before the submodules import torch
from __future__ import annotations

from ft_core.torchenv import apply_torch_env_defaults as _apply_torch_env_defaults

# Serving keeps OpenMP's spin-then-sleep waiting (decoding is ~200 small parallel matmuls per
# token; passive waiting cost 30% of the throughput, see ft_core.torchenv). Values the user set win.
_apply_torch_env_defaults("serve")

__version__ = "0.1.0"

from .chat_model import ChatModel
from .config import ServeConfig, adapter_names, load_serve_config
from .engines import (
    ENGINES,
    ChoiceDelta,
    ChoiceOutput,
    ContextLengthError,
    Engine,
    EngineNotReady,
    GenerateRequest,
    QueueFullError,
    UnknownModelError,
    build_engine,
    register_engine,
)
from .evaluation import EvalConfig, load_eval_config, run_eval
from .prompts import chat_prompt_ids

__all__ = [
    "ENGINES", "ChatModel", "ChoiceDelta", "ChoiceOutput", "ContextLengthError", "Engine", "EngineNotReady",
    "EvalConfig", "GenerateRequest", "QueueFullError", "ServeConfig", "UnknownModelError", "__version__",
    "adapter_names", "build_engine", "chat_prompt_ids", "load_eval_config", "load_serve_config", "register_engine",
    "run_eval",
]
