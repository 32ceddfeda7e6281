"""The built-in templates (LLaMA-Factory names and strings), one ``register_template`` call each.

``family`` names the model family whose own Jinja chat template the entry mirrors; the parity
tests compare those against the committed Jinja assets (tests/assets/). Differences from a
family's Jinja that are deliberate are listed in docs/ft-templates.md.
"""

from __future__ import annotations

from .registry import register_template
from .slots import BOS, EOS, Token

_CHATML_SYS = ["<|im_start|>system\n{{content}}<|im_end|>\n"]
_CHATML_USER = ["<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n"]
_CHATML_ASST = ["{{content}}<|im_end|>\n"]
_QWEN_OBS = ["<|im_start|>user\n<tool_response>\n{{content}}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"]

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
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    format_observation=["<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n"],
    stop_words=["<|im_end|>", "<|im_start|>"],
    replace_eos=True,
    replace_jinja_template=True,
)
register_template(
    "chatml_de",
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    format_observation=["<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n"],
    default_system="Du bist ein freundlicher und hilfsbereiter KI-Assistent.",
    stop_words=["<|im_end|>", "<|im_start|>"],
    replace_eos=True,
    replace_jinja_template=True,
)

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

# --- Qwen ----------------------------------------------------------------------------------
register_template(
    "qwen",
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    format_function=["{{content}}<|im_end|>\n"],
    format_observation=_QWEN_OBS,
    tool_format="qwen",
    default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    stop_words=["<|im_end|>"],
    replace_eos=True,
    family="qwen2.5",
)
register_template(
    "qwen3",
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    format_function=["{{content}}<|im_end|>\n"],
    format_observation=_QWEN_OBS,
    tool_format="qwen",
    stop_words=["<|im_end|>"],
    replace_eos=True,
    reasoning=True,
    family="qwen3",
)
register_template(
    "qwen3_nothink",
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    format_function=["{{content}}<|im_end|>\n"],
    format_observation=_QWEN_OBS,
    tool_format="qwen",
    stop_words=["<|im_end|>"],
    replace_eos=True,
)

# --- Hugging Face SmolLM --------------------------------------------------------------------
register_template(
    "smollm",
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    stop_words=["<|im_end|>"],
)
register_template(
    "smollm2",
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
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

# --- Google --------------------------------------------------------------------------------
_GEMMA_USER = ["<start_of_turn>user\n{{content}}<end_of_turn>\n<start_of_turn>model\n"]
_GEMMA_OBS = ["<start_of_turn>tool\n{{content}}<end_of_turn>\n<start_of_turn>model\n"]
register_template(
    "gemma",
    format_user=_GEMMA_USER,
    format_assistant=["{{content}}<end_of_turn>\n"],
    format_system=["{{content}}\n\n"],
    format_observation=_GEMMA_OBS,
    format_prefix=[BOS],
    stop_words=["<end_of_turn>"],
    replace_eos=True,
    system_in_user=True,
)
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
register_template(
    "gemma3",
    format_user=_GEMMA_USER,
    format_assistant=["{{content}}<end_of_turn>\n"],
    format_system=["{{content}}\n\n"],
    format_observation=_GEMMA_OBS,
    format_prefix=[BOS],
    stop_words=["<end_of_turn>"],
    replace_eos=True,
    system_in_user=True,
    family="gemma3",
)

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
register_template(
    "glm4",
    format_user=["<|user|>\n{{content}}<|assistant|>"],
    format_assistant=["\n{{content}}"],
    format_system=["<|system|>\n{{content}}"],
    format_function=["{{content}}"],
    format_observation=["<|observation|>\n{{content}}<|assistant|>"],
    format_prefix=["[gMASK]<sop>"],
    tool_format="glm4",
    stop_words=["<|user|>", "<|observation|>"],
    efficient_eos=True,
    family="glm4",
)
register_template(
    "glmz1",
    format_user=["<|user|>\n{{content}}<|assistant|>"],
    format_assistant=["\n{{content}}"],
    format_system=["<|system|>\n{{content}}"],
    format_function=["{{content}}"],
    format_observation=["<|observation|>\n{{content}}<|assistant|>"],
    format_prefix=["[gMASK]<sop>"],
    tool_format="glm4",
    stop_words=["<|user|>", "<|observation|>"],
    efficient_eos=True,
    reasoning=True,
)
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

# --- other families ------------------------------------------------------------------------
register_template(
    "yi",
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    stop_words=["<|im_end|>"],
)
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
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    format_observation=["<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n"],
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
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    format_prefix=[BOS],
    default_system=(
        "You are an AI assistant whose name is InternLM (书生·浦语).\n"
        "- InternLM (书生·浦语) is a conversational language model that is developed by Shanghai AI "
        "Laboratory (上海人工智能实验室). It is designed to be helpful, honest, and harmless.\n"
        "- InternLM (书生·浦语) can understand and communicate fluently in the language chosen by the "
        "user such as English and 中文."
    ),
    stop_words=["<|im_end|>"],
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
register_template(
    "cpm3",
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    format_prefix=[BOS],
    stop_words=["<|im_end|>"],
)
register_template(
    "cpm4",
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    format_observation=["<|im_start|>tool\n{{content}}<|im_end|>\n<|im_start|>assistant\n"],
    format_prefix=[BOS],
    stop_words=["<|im_end|>"],
)
register_template("breeze", format_user=["[INST] {{content}} [/INST] "], format_prefix=[BOS], efficient_eos=True)
register_template(
    "sailor",
    format_user=["<|im_start|>question\n{{content}}<|im_end|>\n<|im_start|>answer\n"],
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
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
register_template(
    "mimo",
    format_user=_CHATML_USER,
    format_assistant=_CHATML_ASST,
    format_system=_CHATML_SYS,
    format_function=["{{content}}<|im_end|>\n"],
    format_observation=_QWEN_OBS,
    tool_format="qwen",
    default_system="You are a helpful assistant.",
    stop_words=["<|im_end|>"],
    replace_eos=True,
    reasoning=True,
)
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
