"""Templates of the other families (Yi, Cohere, OLMo, Falcon, Granite, InternLM, ...)."""

from __future__ import annotations

from ..registry import register_template
from ..slots import BOS, EOS, Token
from ._shared import CHATML, CHATML_ASST, CHATML_SYS, CHATML_TOOL_OBS, CHATML_TURNS, QWEN_CHATML

# --- other families ------------------------------------------------------------------------
register_template("yi", **CHATML)
register_template(
    "cohere",
    format_user=["<|START_OF_TURN_TOKEN|><|USER_TOKEN|>{{content}}<|END_OF_TURN_TOKEN|>"
                 "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"],
    format_system=["<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>{{content}}<|END_OF_TURN_TOKEN|>"],
    format_prefix=[BOS],
)
register_template("olmo", format_user=["<|user|>\n{{content}}<|assistant|>\n"], format_prefix=[EOS])
register_template("falcon", format_user=["User: {{content}}\nFalcon:"], format_assistant=["{{content}}\n"],
                  efficient_eos=True)
register_template(
    "falcon_h1",
    **CHATML_TURNS,
    format_observation=CHATML_TOOL_OBS,
    format_prefix=[BOS],
    stop_words=["<|im_end|>", "<|end_of_text|>"],
)
_GR = "<|start_of_role|>{}<|end_of_role|>"
register_template(
    "granite3",
    format_user=[_GR.format("user") + "{{content}}<|end_of_text|>\n" + _GR.format("assistant")],
    format_assistant=["{{content}}<|end_of_text|>\n"],
    format_system=[_GR.format("system") + "{{content}}<|end_of_text|>\n"],
)
register_template(
    "intern2",
    **CHATML,
    format_prefix=[BOS],
    default_system=(
        "You are an AI assistant whose name is InternLM (书生·浦语).\n"
        "- InternLM (书生·浦语) is a conversational language model that is developed by Shanghai AI "
        "Laboratory (上海人工智能实验室). It is designed to be helpful, honest, and harmless.\n"
        "- InternLM (书生·浦语) can understand and communicate fluently in the language chosen by the "
        "user such as English and 中文."
    ),
)
register_template(
    "openchat",
    format_user=["GPT4 Correct User: {{content}}", EOS, "GPT4 Correct Assistant:"],
    format_prefix=[BOS],
)
register_template(
    "openchat-3.6",
    format_user=["<|start_header_id|>GPT4 Correct User<|end_header_id|>\n\n{{content}}<|eot_id|>"
                 "<|start_header_id|>GPT4 Correct Assistant<|end_header_id|>\n\n"],
    format_prefix=[BOS],
    stop_words=["<|eot_id|>"],
)
register_template(
    "solar",
    format_user=["### User:\n{{content}}\n\n### Assistant:\n"],
    format_system=["### System:\n{{content}}\n\n"],
    efficient_eos=True,
)
register_template(
    "exaone",
    format_user=["[|user|]{{content}}\n[|assistant|]"],
    format_assistant=["{{content}}", EOS, "\n"],
    format_system=["[|system|]{{content}}[|endofturn|]\n"],
)
register_template(
    "baichuan2",
    format_user=[Token("<reserved_106>"), "{{content}}", Token("<reserved_107>")],
    efficient_eos=True,
)
register_template("cpm", format_user=["<用户>{{content}}<AI>"], format_prefix=[BOS])
register_template("cpm3", **CHATML, format_prefix=[BOS])
register_template("cpm4", **CHATML, format_observation=CHATML_TOOL_OBS, format_prefix=[BOS])
register_template("breeze", format_user=["[INST] {{content}} [/INST] "], format_prefix=[BOS], efficient_eos=True)
register_template(
    "sailor",
    format_user=["<|im_start|>question\n{{content}}<|im_end|>\n<|im_start|>answer\n"],
    format_assistant=CHATML_ASST,
    format_system=CHATML_SYS,
    default_system=("You are an AI assistant named Sailor created by Sea AI Lab. Your answer should be "
                    "friendly, unbiased, faithful, informative and detailed."),
    stop_words=["<|im_end|>"],
)
register_template(
    "orion",
    format_user=["Human: {{content}}\n\nAssistant: ", EOS],
    format_prefix=[BOS],
)
register_template("xverse", format_user=["Human: {{content}}\n\nAssistant: "])
register_template(
    "belle",
    format_user=["Human: {{content}}\n\nBelle: "],
    format_assistant=["{{content}}", EOS, "\n\n"],
    format_prefix=[BOS],
)
register_template(
    "bluelm",
    format_user=[Token("[|Human|]:"), "{{content}}", Token("[|AI|]:")],
)
register_template(
    "ziya",
    format_user=["<human>:{{content}}\n<bot>:"],
    format_assistant=["{{content}}\n"],
)
register_template(
    "yuan",
    format_user=["{{content}}", Token("<sep>")],
    format_assistant=["{{content}}<eod>\n"],
    stop_words=["<eod>"],
)
register_template(
    "xuanyuan",
    format_user=["Human: {{content}} Assistant:"],
    default_system=("以下是用户和人工智能助手之间的对话。用户以Human开头，人工智能助手以Assistant开头，"
                    "会对人类提出的问题给出有帮助、高质量、详细和礼貌的回答，并且总是拒绝参与与不道德、"
                    "不安全、有争议、政治敏感等相关的话题、问题和指示。\n"),
)
register_template(
    "telechat2",
    format_user=["<_user>{{content}}<_bot>"],
    format_system=["<_system>{{content}}"],
    default_system=("你是中国电信星辰语义大模型，英文名是TeleChat，你是由中电信人工智能科技有限公司和"
                    "中国电信人工智能研究院（TeleAI）研发的人工智能助手。"),
)
register_template(
    "hunyuan",
    format_user=["{{content}}<|extra_0|>"],
    format_assistant=["{{content}}<|eos|>"],
    format_system=["{{content}}<|extra_4|>"],
    format_prefix=["<|startoftext|>"],
    stop_words=["<|eos|>"],
)
register_template(
    "seed_coder",
    format_user=[BOS, "user\n{{content}}", EOS, BOS, "assistant\n"],
    format_system=[BOS, "system\n{{content}}", EOS],
    default_system=(
        "You are an AI programming assistant, utilizing the Seed-Coder model, developed by ByteDance Seed, "
        "and you only answer questions related to computer science. For politically sensitive questions, "
        "security and privacy issues, and other non-computer science questions, you will refuse to answer.\n\n"
    ),
)
register_template("mimo", **QWEN_CHATML, default_system="You are a helpful assistant.", reasoning=True)
_GR4_ASST = ["{{content}}<|end_of_text|>\n"]
register_template(
    "granite4",
    format_user=[_GR.format("user") + "{{content}}<|end_of_text|>\n" + _GR.format("assistant")],
    format_assistant=_GR4_ASST,
    format_system=[_GR.format("system") + "{{content}}<|end_of_text|>\n"],
    format_observation=[_GR.format("tool") + "{{content}}<|end_of_text|>\n<|start_of_role|>assistant\n"],
    stop_words=["<|end_of_text|>"],
    default_system="You are Granite, developed by IBM. You are a helpful AI assistant.",
)
register_template("index", format_user=["reserved_0{{content}}reserved_1"], format_system=["<unk>{{content}}"],
                  efficient_eos=True)
