"""Slot strings shared by several families (ChatML and Qwen's tool turns)."""

CHATML_SYS = ["<|im_start|>system\n{{content}}<|im_end|>\n"]
CHATML_USER = ["<|im_start|>user\n{{content}}<|im_end|>\n<|im_start|>assistant\n"]
CHATML_ASST = ["{{content}}<|im_end|>\n"]
QWEN_OBS = ["<|im_start|>user\n<tool_response>\n{{content}}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"]
