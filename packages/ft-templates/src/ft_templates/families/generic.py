"""Generic templates (empty, default, alpaca, vicuna, fewshot, chatml)."""

from __future__ import annotations

from ..registry import register_template
from ..slots import EOS
from ._shared import CHATML_TOOL_OBS, CHATML_TURNS

# --- generic -------------------------------------------------------------------------------
register_template("empty", format_assistant=["{{content}}"])
register_template(
    "default",
    format_user=["Human: {{content}}", EOS, "\nAssistant:"],
    format_assistant=["{{content}}", EOS, "\n"],
    format_system=["System: {{content}}", EOS, "\n"],
    replace_jinja_template=True,
)
register_template(
    "alpaca",
    format_user=["### Instruction:\n{{content}}\n\n### Response:\n"],
    format_assistant=["{{content}}", EOS, "\n\n"],
    default_system="Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n",
    replace_jinja_template=True,
)
register_template(
    "vicuna",
    format_user=["USER: {{content}} ASSISTANT:"],
    default_system=("A chat between a curious user and an artificial intelligence assistant. "
                    "The assistant gives helpful, detailed, and polite answers to the user's questions."),
    replace_jinja_template=True,
)
register_template("fewshot", format_assistant=["{{content}}\n\n"], efficient_eos=True, replace_jinja_template=True)
register_template(
    "chatml",
    **CHATML_TURNS,
    format_observation=CHATML_TOOL_OBS,
    stop_words=["<|im_end|>", "<|im_start|>"],
    replace_eos=True,
    replace_jinja_template=True,
)
register_template(
    "chatml_de",
    **CHATML_TURNS,
    format_observation=CHATML_TOOL_OBS,
    default_system="Du bist ein freundlicher und hilfsbereiter KI-Assistent.",
    stop_words=["<|im_end|>", "<|im_start|>"],
    replace_eos=True,
    replace_jinja_template=True,
)
