"""DeepSeek, Zhipu (GLM) and OpenAI (gpt-oss) templates."""

from __future__ import annotations

from typing import Any

from ..registry import register_template
from ..slots import BOS, Token

# --- DeepSeek ------------------------------------------------------------------------------
register_template(
    "deepseek",
    format_user=["User: {{content}}\n\nAssistant:"],
    format_system=["{{content}}\n\n"],
    format_prefix=[BOS],
)
register_template(
    "deepseek3",
    format_user=["<｜User｜>{{content}}<｜Assistant｜>"],
    format_prefix=[BOS],
    family="deepseek3",
)
register_template(
    "deepseekr1",
    format_user=["<｜User｜>{{content}}<｜Assistant｜>"],
    format_prefix=[BOS],
    reasoning=True,
)
register_template(
    "deepseekcoder",
    format_user=["### Instruction:\n{{content}}\n### Response:"],
    format_assistant=["\n{{content}}\n<|EOT|>\n"],
    format_prefix=[BOS],
    default_system=(
        "You are an AI programming assistant, utilizing the DeepSeek Coder model, developed by DeepSeek "
        "Company, and you only answer questions related to computer science. For politically sensitive "
        "questions, security and privacy issues, and other non-computer science questions, you will refuse "
        "to answer.\n"
    ),
)


# --- Zhipu (GLM) ---------------------------------------------------------------------------
register_template(
    "chatglm3",
    format_user=[Token("<|user|>"), "\n{{content}}", Token("<|assistant|>")],
    format_assistant=["\n{{content}}"],
    format_system=[Token("<|system|>"), "\n{{content}}"],
    format_function=["{{content}}"],
    format_observation=[Token("<|observation|>"), "\n{{content}}", Token("<|assistant|>")],
    format_prefix=[Token("[gMASK]"), Token("sop")],
    tool_format="glm4",
    stop_words=["<|user|>", "<|observation|>"],
    efficient_eos=True,
)
_GLM4: dict[str, Any] = dict(
    format_user=["<|user|>\n{{content}}<|assistant|>"],
    format_assistant=["\n{{content}}"],
    format_system=["<|system|>\n{{content}}"],
    format_function=["{{content}}"],
    format_observation=["<|observation|>\n{{content}}<|assistant|>"],
    format_prefix=["[gMASK]<sop>"],
    tool_format="glm4",
    stop_words=["<|user|>", "<|observation|>"],
    efficient_eos=True,
)
register_template("glm4", **_GLM4, family="glm4")
register_template("glmz1", **_GLM4, reasoning=True)
register_template(
    "codegeex4",
    format_user=["<|user|>\n{{content}}<|assistant|>"],
    format_system=["<|system|>\n{{content}}"],
    format_function=["{{content}}"],
    format_observation=["<|observation|>\n{{content}}<|assistant|>\n"],
    format_prefix=["[gMASK]<sop>"],
    tool_format="glm4",
    stop_words=["<|user|>", "<|observation|>"],
    efficient_eos=True,
    default_system=(
        "你是一位智能编程助手，你叫CodeGeeX。你会为用户回答关于编程、代码、计算机方面的任何问题，"
        "并提供格式规范、可以执行、准确安全的代码，并在必要时提供详细的解释。"
    ),
)


# --- OpenAI --------------------------------------------------------------------------------
register_template(
    "gpt_oss",
    format_user=["<|start|>user<|message|>{{content}}<|end|><|start|>assistant"],
    format_assistant=["{{content}}"],
    format_system=["<|start|>system<|message|>{{content}}<|end|>"],
    default_system="You are ChatGPT, a large language model trained by OpenAI.",
    thought_words=("<|channel|>analysis<|message|>", "<|end|><|start|>assistant<|channel|>final<|message|>"),
    efficient_eos=True,
    reasoning=True,
)
