"""Qwen and Hugging Face (SmolLM, Zephyr, StarChat) templates."""

from __future__ import annotations

from ..registry import register_template
from ..slots import EOS
from ._shared import CHATML_ASST, CHATML_SYS, CHATML_USER, QWEN_OBS

# --- Qwen ----------------------------------------------------------------------------------
register_template(
    "qwen",
    format_user=CHATML_USER,
    format_assistant=CHATML_ASST,
    format_system=CHATML_SYS,
    format_function=["{{content}}<|im_end|>\n"],
    format_observation=QWEN_OBS,
    tool_format="qwen",
    default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    stop_words=["<|im_end|>"],
    replace_eos=True,
    family="qwen2.5",
)
register_template(
    "qwen3",
    format_user=CHATML_USER,
    format_assistant=CHATML_ASST,
    format_system=CHATML_SYS,
    format_function=["{{content}}<|im_end|>\n"],
    format_observation=QWEN_OBS,
    tool_format="qwen",
    stop_words=["<|im_end|>"],
    replace_eos=True,
    reasoning=True,
    family="qwen3",
)
register_template(
    "qwen3_nothink",
    format_user=CHATML_USER,
    format_assistant=CHATML_ASST,
    format_system=CHATML_SYS,
    format_function=["{{content}}<|im_end|>\n"],
    format_observation=QWEN_OBS,
    tool_format="qwen",
    stop_words=["<|im_end|>"],
    replace_eos=True,
)


# --- Hugging Face SmolLM --------------------------------------------------------------------
register_template(
    "smollm",
    format_user=CHATML_USER,
    format_assistant=CHATML_ASST,
    format_system=CHATML_SYS,
    stop_words=["<|im_end|>"],
)
register_template(
    "smollm2",
    format_user=CHATML_USER,
    format_assistant=CHATML_ASST,
    format_system=CHATML_SYS,
    stop_words=["<|im_end|>"],
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
