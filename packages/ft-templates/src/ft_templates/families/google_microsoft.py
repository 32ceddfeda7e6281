"""Google (Gemma) and Microsoft (Phi) templates."""

from __future__ import annotations

from typing import Any

from ..registry import register_template
from ..slots import BOS, Token

# --- Google --------------------------------------------------------------------------------
_GEMMA_USER = ["<start_of_turn>user\n{{content}}<end_of_turn>\n<start_of_turn>model\n"]
_GEMMA_OBS = ["<start_of_turn>tool\n{{content}}<end_of_turn>\n<start_of_turn>model\n"]
_GEMMA: dict[str, Any] = dict(
    format_user=_GEMMA_USER,
    format_assistant=["{{content}}<end_of_turn>\n"],
    format_system=["{{content}}\n\n"],
    format_observation=_GEMMA_OBS,
    format_prefix=[BOS],
    stop_words=["<end_of_turn>"],
    replace_eos=True,
    system_in_user=True,
)
register_template("gemma", **_GEMMA)
register_template(
    "gemma2",
    format_user=_GEMMA_USER,
    format_assistant=["{{content}}<end_of_turn>\n"],
    format_system=["{{content}}\n\n"],
    format_observation=_GEMMA_OBS,
    format_prefix=[BOS],
    stop_words=["<eos>", "<end_of_turn>"],
    efficient_eos=True,
    system_in_user=True,
)
register_template("gemma3", **_GEMMA, family="gemma3")


# --- Microsoft -----------------------------------------------------------------------------
register_template(
    "phi",
    format_user=["<|user|>\n{{content}}<|end|>\n<|assistant|>\n"],
    format_assistant=["{{content}}<|end|>\n"],
    format_system=["<|system|>\n{{content}}<|end|>\n"],
    stop_words=["<|end|>"],
    replace_eos=True,
)
register_template(
    "phi_small",
    format_user=["<|user|>\n{{content}}<|end|>\n<|assistant|>\n"],
    format_assistant=["{{content}}<|end|>\n"],
    format_system=["<|system|>\n{{content}}<|end|>\n"],
    format_prefix=[Token("<|endoftext|>")],
    stop_words=["<|end|>"],
    replace_eos=True,
)
register_template(
    "phi4",
    format_user=["<|im_start|>user<|im_sep|>{{content}}<|im_end|><|im_start|>assistant<|im_sep|>"],
    format_assistant=["{{content}}<|im_end|>"],
    format_system=["<|im_start|>system<|im_sep|>{{content}}<|im_end|>"],
    stop_words=["<|im_end|>"],
    replace_eos=True,
    family="phi4",
)
register_template(
    "phi4_mini",
    format_user=["<|user|>{{content}}<|end|><|assistant|>"],
    format_assistant=["{{content}}<|end|>"],
    format_system=["<|system|>{{content}}<|end|>"],
    tool_format="phi4_mini",
    stop_words=["<|end|>"],
    replace_eos=True,
)
