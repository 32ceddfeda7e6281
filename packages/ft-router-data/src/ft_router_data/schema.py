"""The FusionBench routing-log schema: columns, tasks, metrics, domains and the small-model set.

A routing log has one row per (query, LLM, prompting mode). The reference data lays every
query out as 40 consecutive rows (20 LLMs, each as a direct row then its ``_think`` row).

Example:
    >>> TASK_DOMAINS["gsm8k"]
    'math'
    >>> "gemma-7b_think" in SMALL_MODELS
    True
"""

from __future__ import annotations

LOG_COLUMNS = (
    "task_name", "task_id", "task_description", "task_description_embedding", "query",
    "query_embedding", "ground_truth", "metric", "llm", "input_price", "output_price",
    "input_tokens_num", "output_tokens_num", "performance", "cost", "response",
    "llm_description", "llm_judge",
)
BLOCK_ROWS = 40  # rows per query in the reference layout (20 LLMs x direct/think)

INSTRUCTION = "Answer the following questions as required."
THINK_CUES = ("let's think step by step", "Let's think step by step")
THINK_SUFFIX = "_think"

SETTINGS = ("perf", "judge", "hybrid", "baseline")
# Ranking keys per setting (both descending, missing values last, then original row order).
RANK_KEYS = {
    "perf": ("performance", "output_tokens_num"),
    "judge": ("llm_judge", "output_tokens_num"),
    "hybrid": ("performance", "llm_judge"),
    "baseline": ("performance", "output_tokens_num"),
}

_SMALL_BASE = (
    "qwen2-7b-instruct", "qwen2.5-7b-instruct", "gemma-7b", "codegemma-7b", "gemma-2-9b-it",
    "llama-3.1-8b-instruct", "granite-3.0-8b-instruct", "llama3-chatqa-1.5-8b",
    "mistral-nemo-12b-instruct", "mistral-7b-instruct-v0.3",
)
SMALL_MODELS = frozenset(_SMALL_BASE + tuple(m + THINK_SUFFIX for m in _SMALL_BASE))

CODE_TASKS = frozenset({"mbpp", "human_eval"})
CHOICE_TASKS = frozenset({"mmlu", "gpqa", "commonsense_qa", "openbook_qa", "arc_challenge", "hellaswag"})
CEM_TASKS = frozenset({"natural_qa", "trivia_qa", "squad", "boolq"})  # metric forced to cem when scoring

TASK_DOMAINS = {
    "gsm8k": "math", "math": "math",
    "mbpp": "code", "human_eval": "code",
    "commonsense_qa": "commonsense", "openbook_qa": "commonsense", "arc_challenge": "commonsense",
    "hellaswag": "commonsense",
    "natural_qa": "world_knowledge", "trivia_qa": "world_knowledge",
    "squad": "reading", "boolq": "reading",
    "mmlu": "popular", "gpqa": "popular",
}
DOMAINS = ("math", "code", "commonsense", "world_knowledge", "reading", "popular")


def format_label(task_name: str, ground_truth: str) -> str:
    """The training-time label text for a query: ``(B)`` for choice tasks, ``[BEGIN]…[DONE]`` for code.

    Example: ``format_label("mmlu", "B") == "(B)"``.
    """
    if task_name in CODE_TASKS:
        return "[BEGIN]\n " + ground_truth + " \n[DONE]"
    if task_name in CHOICE_TASKS:
        return "(" + ground_truth + ")"
    return ground_truth


def strip_think_cue(query: str) -> str:
    """Delete the exact reasoning-cue phrases (nothing else: a trailing period or newline stays)."""
    for cue in THINK_CUES:
        query = query.replace(cue, "")
    return query
