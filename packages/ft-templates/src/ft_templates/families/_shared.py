"""Slots and option sets shared by several families (ChatML, Qwen's tool turns).

The option dicts are spread into ``register_template`` (``**CHATML``); a template that differs in
one of their keys spreads the smaller set and names that key itself.
"""

from typing import Any

CHATML_SYS = ["<|im_start|>system\n{{content}}<|im_end|>\n"]
CHATML_USER = ["<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n"]
CHATML_ASST = ["{{content}}<|im_end|>\n"]
CHATML_TOOL_OBS = ["<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n"]
QWEN_OBS = ["<|im_start|>user\n<tool_response>\n{{content}}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"]

CHATML_TURNS: dict[str, Any] = {"format_user": CHATML_USER, "format_assistant": CHATML_ASST,
                                "format_system": CHATML_SYS}
"""The three ChatML turn slots."""
CHATML: dict[str, Any] = {**CHATML_TURNS, "stop_words": ["<|im_end|>"]}
"""ChatML turns that stop at ``<|im_end|>`` (Yi, SmolLM, InternLM2, MiniCPM3, ...)."""
QWEN_CHATML: dict[str, Any] = {**CHATML, "format_function": ["{{content}}<|im_end|>\n"],
                               "format_observation": QWEN_OBS, "tool_format": "qwen", "replace_eos": True}
"""Qwen's ChatML with its tool calls and ``<tool_response>`` observations (Qwen 2.5/3, MiMo)."""
