"""ft-testing fixtures: models (owned by ft-models).

* ``tiny_llama_dir()``: a tiny random Llama (hidden 64, intermediate 128, 2 layers, 4 heads,
  2 KV heads, tied embeddings, 3.2 M parameters, seed 0) with the REAL SmolLM2 tokenizer and
  chat template (vocab 49152). Built once into ``ft_home()/testing/`` and reused.
* ``smollm2_dir()``: the real SmolLM2-135M-Instruct export (the ``smollm2-135m-instruct`` alias);
  use it only in tests marked ``slow``.

Both are cached atomically under a file lock, so parallel test processes share one copy.
torch and transformers are imported inside the functions to keep ``import ft_testing`` cheap.

Example:
    >>> def test_forward(tiny_llama_path):
    ...     model = AutoModelForCausalLM.from_pretrained(tiny_llama_path)
"""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["TINY_LLAMA_CONFIG", "load_safetensors_dir", "smollm2_dir", "smollm2_path", "tiny_llama_dir",
           "tiny_llama_path"]

SMOLLM2_ALIAS = "smollm2-135m-instruct"

# Bump the suffix when the recipe below changes, so stale caches are not reused.
_TINY_NAME = "tiny-llama-smollm2-v1"

TINY_LLAMA_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": True,
    "rms_norm_eps": 1e-5,
}


def smollm2_dir() -> Path:
    """The real SmolLM2-135M-Instruct as an fp32 HF directory (converted on first use, ~1 min)."""
    from ft_models import resolve_model_path

    return resolve_model_path(SMOLLM2_ALIAS)


def _smollm2_tokenizer():
    """The SmolLM2 tokenizer: from the finished export when present, else straight from the GGUF.

    Reading the GGUF (~10 s) avoids converting the whole 135M model just to build the tiny one.
    """
    from transformers import AutoTokenizer

    from ft_models.resolve import ALIASES, models_cache

    export = models_cache() / SMOLLM2_ALIAS
    if (export / "tokenizer.json").is_file() and (export / "config.json").is_file():
        return AutoTokenizer.from_pretrained(str(export))
    gguf = ALIASES[SMOLLM2_ALIAS].gguf()
    return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def _build_tiny_llama(out: Path) -> None:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = _smollm2_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        **TINY_LLAMA_CONFIG,
    )
    torch.manual_seed(0)  # deterministic weights: the same checkpoint on every machine
    model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def tiny_llama_dir() -> Path:
    """Path of the tiny random Llama with the real SmolLM2 tokenizer (built once, ~10 s)."""
    from ft_core import ft_home
    from ft_models import build_once

    return build_once(ft_home() / "testing" / _TINY_NAME, _build_tiny_llama)


@pytest.fixture(scope="session")
def tiny_llama_path() -> Path:
    """Session fixture: :func:`tiny_llama_dir`."""
    return tiny_llama_dir()


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """Session fixture: :func:`smollm2_dir` (mark the test ``slow``)."""
    return smollm2_dir()


def load_safetensors_dir(directory: Path) -> dict:
    """Every tensor of every ``*.safetensors`` file in ``directory``, as one name -> tensor dict.

    Example:
        >>> weights = load_safetensors_dir(out)   # a sharded merge output
        >>> weights["lm_head.weight"].shape
    """
    from safetensors.torch import load_file

    tensors: dict = {}
    for shard in sorted(Path(directory).glob("*.safetensors")):
        tensors.update(load_file(shard))
    return tensors
