"""Meta (Llama 2/3/4) and Mistral templates."""

from __future__ import annotations

from ..registry import register_template
from ..slots import BOS, EOS

# --- Meta ----------------------------------------------------------------------------------
register_template(
    "llama2",
    format_user=[BOS, "[INST] {{content}} [/INST]"],
    format_system=["<<SYS>>\n{{content}}\n<</SYS>>\n\n"],
    system_in_user=True,
    family="llama2",
)
register_template(
    "llama2_zh",
    format_user=[BOS, "[INST] {{content}} [/INST]"],
    format_system=["<<SYS>>\n{{content}}\n<</SYS>>\n\n"],
    default_system="You are a helpful assistant. 你是一个乐于助人的助手。",
    system_in_user=True,
)
_L3 = "<|start_header_id|>{}<|end_header_id|>\n\n"
register_template(
    "llama3",
    format_user=[_L3.format("user") + "{{content}}<|eot_id|>" + _L3.format("assistant")],
    format_assistant=["{{content}}<|eot_id|>"],
    format_system=[_L3.format("system") + "{{content}}<|eot_id|>"],
    format_function=["{{content}}<|eot_id|>"],
    format_observation=[_L3.format("ipython") + "{{content}}<|eot_id|>" + _L3.format("assistant")],
    format_prefix=[BOS],
    tool_format="llama3",
    stop_words=["<|eot_id|>", "<|eom_id|>"],
    replace_eos=True,
    family="llama3",
)
_L4 = "<|header_start|>{}<|header_end|>\n\n"
register_template(
    "llama4",
    format_user=[_L4.format("user") + "{{content}}<|eot|>" + _L4.format("assistant")],
    format_assistant=["{{content}}<|eot|>"],
    format_system=[_L4.format("system") + "{{content}}<|eot|>"],
    format_function=["{{content}}<|eot|>"],
    format_observation=[_L4.format("ipython") + "{{content}}<|eot|>" + _L4.format("assistant")],
    format_prefix=[BOS],
    tool_format="llama3",
    stop_words=["<|eot|>", "<|eom|>"],
    replace_eos=True,
)


# --- Mistral -------------------------------------------------------------------------------
register_template(
    "mistral",
    format_user=["[INST] {{content}}[/INST]"],
    format_assistant=[" {{content}}", EOS],
    format_system=["{{content}}\n\n"],
    format_function=["[TOOL_CALLS] {{content}}", EOS],
    format_observation=['[TOOL_RESULTS] {"content": {{content}}}[/TOOL_RESULTS]'],
    format_prefix=[BOS],
    tool_format="mistral",
    system_in_user=True,
)
register_template(
    "ministral",
    format_user=["[INST]{{content}}[/INST]"],
    format_system=["{{content}}\n\n"],
    format_function=["[TOOL_CALLS]{{content}}", EOS],
    format_observation=['[TOOL_RESULTS]{"content": {{content}}}[/TOOL_RESULTS]'],
    format_prefix=[BOS],
    tool_format="mistral",
    system_in_user=True,
)
register_template(
    "mistral_small",
    format_user=["[INST]{{content}}[/INST]"],
    format_system=["[SYSTEM_PROMPT]{{content}}[/SYSTEM_PROMPT]"],
    format_function=["[TOOL_CALLS]{{content}}", EOS],
    format_observation=['[TOOL_RESULTS]{"content": {{content}}}[/TOOL_RESULTS]'],
    format_prefix=[BOS],
    tool_format="mistral",
)
