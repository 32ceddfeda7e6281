"""Qwen and Hugging Face (SmolLM, Zephyr, StarChat) templates."""

from __future__ import annotations

from ..registry import register_template
from ..slots import EOS
from ._shared import CHATML, QWEN_CHATML

# --- Qwen ----------------------------------------------------------------------------------
register_template(
    "qwen",
    **QWEN_CHATML,
    default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    family="qwen2.5",
)
register_template("qwen3", **QWEN_CHATML, reasoning=True, family="qwen3")
register_template("qwen3_nothink", **QWEN_CHATML)


# --- Hugging Face SmolLM --------------------------------------------------------------------
register_template("smollm", **CHATML)
register_template(
    "smollm2",
    **CHATML,
    default_system="You are a helpful AI assistant named SmolLM, trained by Hugging Face",
    family="smollm2",
)
register_template(
    "zephyr",
    format_user=["<|user|>\n{{content}}", EOS, "<|assistant|>\n"],
    format_system=["<|system|>\n{{content}}", EOS],
    default_system="You are Zephyr, a helpful assistant.",
)
register_template(
    "starchat",
    format_user=["<|user|>\n{{content}}<|end|>\n<|assistant|>"],
    format_assistant=["{{content}}<|end|>\n"],
    format_system=["<|system|>\n{{content}}<|end|>\n"],
    stop_words=["<|end|>"],
)
