"""ft-testing fixtures: synthetic multi-LLM routing logs in the FusionBench layout (owned by ft-router-data).

A routing log has one row per (query, LLM, prompting mode): for every query, 40 consecutive
rows, i.e. the 20 LLMs in a fixed order, each as a direct row followed by its ``_think`` row
(the query with a "Let's think step by step" cue). The 18 columns are those of the FusionBench
CSV; code tasks carry ``{'pass@1': np.float64(1.0)}``-style strings in ``performance``, and a
small share of values is missing (empty), as in the published data.

Everything is deterministic for a seed and pure Python (``csv``/``json``); Parquet output
imports polars inside the function, so importing this module stays cheap.

Example:
    >>> path = write_routing_log(tmp_path / "log.csv", n_queries=14, seed=0)
    >>> sum(1 for _ in routing_log_rows(14)) == 14 * 40
    True
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "FUSIONBENCH_TASK_COUNTS",
    "ROUTING_LLMS",
    "ROUTING_LOG_COLUMNS",
    "ROUTING_SMALL_LLMS",
    "ROUTING_TASK_METRICS",
    "routing_log_csv",
    "routing_log_rows",
    "routing_task_counts",
    "write_routing_log",
]

ROUTING_LOG_COLUMNS = (
    "task_name", "task_id", "task_description", "task_description_embedding", "query",
    "query_embedding", "ground_truth", "metric", "llm", "input_price", "output_price",
    "input_tokens_num", "output_tokens_num", "performance", "cost", "response",
    "llm_description", "llm_judge",
)

# (name, $ per 1M input tokens, $ per 1M output tokens); small models first, as in the spec.
_LLM_PRICES = (
    ("qwen2-7b-instruct", 0.2, 0.2), ("qwen2.5-7b-instruct", 0.2, 0.2), ("gemma-7b", 0.2, 0.2),
    ("codegemma-7b", 0.2, 0.2), ("gemma-2-9b-it", 0.1, 0.1), ("llama-3.1-8b-instruct", 0.2, 0.2),
    ("granite-3.0-8b-instruct", 0.2, 0.2), ("llama3-chatqa-1.5-8b", 0.2, 0.2),
    ("mistral-nemo-12b-instruct", 0.3, 0.3), ("mistral-7b-instruct-v0.3", 0.2, 0.2),
    ("llama-3.3-nemotron-super-49b-v1", 0.9, 0.9), ("llama-3.1-nemotron-51b-instruct", 0.9, 0.9),
    ("llama3-chatqa-1.5-70b", 0.9, 0.9), ("llama-3.1-70b-instruct", 0.9, 0.9),
    ("llama3-70b-instruct", 0.9, 0.9), ("granite-34b-code-instruct", 0.8, 0.8),
    ("mixtral-8x7b-instruct-v0.1", 0.6, 0.6), ("deepseek-r1", 0.55, 2.19),
    ("mixtral-8x22b-instruct-v0.1", 1.2, 1.2), ("palmyra-creative-122b", 1.8, 1.8),
)
ROUTING_LLMS = tuple(name for name, _, _ in _LLM_PRICES)
ROUTING_SMALL_LLMS = ROUTING_LLMS[:10]

ROUTING_TASK_METRICS = {
    "natural_qa": "cem", "trivia_qa": "cem", "squad": "cem", "boolq": "cem", "mmlu": "em_mc",
    "gpqa": "em_mc", "mbpp": "code_eval", "human_eval": "code_eval", "gsm8k": "GSM8K",
    "commonsense_qa": "em_mc", "math": "MATH", "openbook_qa": "em_mc", "arc_challenge": "em_mc",
    "hellaswag": "em_mc",
}
# Queries per task in the FusionBench train split (6,396 queries, 255,840 rows).
FUSIONBENCH_TASK_COUNTS = {task: 500 for task in ROUTING_TASK_METRICS} | {
    "gpqa": 404, "mbpp": 374, "human_eval": 114, "math": 504}

# Typical characters per field (realistic lengths at text_scale=1.0).
_QUERY_CHARS = {"natural_qa": 60, "trivia_qa": 90, "squad": 900, "boolq": 700, "mmlu": 450,
                "gpqa": 900, "mbpp": 450, "human_eval": 700, "gsm8k": 350, "commonsense_qa": 300,
                "math": 350, "openbook_qa": 300, "arc_challenge": 350, "hellaswag": 600}
_RESPONSE_CHARS = 1400
_WORD_TEXT = ("the model answer value number river city year first second result because therefore "
          "sum total each step equals function list return string café naïve 数学 — “quoted” "
          "x y z 1 2 3 42 0.5 Paris Berlin, (B) \\boxed{7} #### 12")
_WORDS = _WORD_TEXT.split(" ")


def routing_task_counts(n_queries: int) -> dict[str, int]:
    """Queries per task for a log of ``n_queries`` (FusionBench proportions; >= 1 each when n >= 14)."""
    total = sum(FUSIONBENCH_TASK_COUNTS.values())
    if n_queries == total:
        return dict(FUSIONBENCH_TASK_COUNTS)
    tasks = list(FUSIONBENCH_TASK_COUNTS)
    if n_queries <= len(tasks):
        return {task: int(i < n_queries) for i, task in enumerate(tasks)}
    base = {t: 1 for t in tasks}
    rest = n_queries - len(tasks)
    shares = {t: rest * FUSIONBENCH_TASK_COUNTS[t] / total for t in tasks}
    for t in tasks:
        base[t] += int(shares[t])
    left = n_queries - sum(base.values())
    for t in sorted(tasks, key=lambda t: shares[t] - int(shares[t]), reverse=True)[:left]:
        base[t] += 1
    return base


class _Text:
    """Cheap deterministic text: slices of one long random word stream."""

    def __init__(self, rng: random.Random, size: int = 400_000) -> None:
        self.rng = rng
        self.corpus = " ".join(rng.choices(_WORDS, k=size // 5))

    def take(self, chars: int) -> str:
        chars = max(1, min(chars, len(self.corpus) - 1))
        start = self.rng.randrange(0, len(self.corpus) - chars)
        return self.corpus[start:start + chars].strip() or "x"


def _question(task: str, i: int, text: _Text, scale: float) -> tuple[str, str, str, Any]:
    """(direct query, think query, ground truth, task_id) for query ``i`` of ``task``."""
    body = text.take(int(_QUERY_CHARS[task] * scale) + 20)
    cue = "Let's think step by step"
    task_id: Any = ""
    if task in ("natural_qa", "trivia_qa"):
        direct = f"{body} (#{i})?"
        think = f"{direct} {cue}."
        gt = ["Paris", "1945", "the Nile", "Ada Lovelace"][i % 4]
    elif task in ("squad", "boolq"):
        extra = "\nYour answer must be True or False." if task == "boolq" else ""
        direct = (f"\n    Please use the following context to answer the question.\n    ## Context:\n"
                  f"    {body}\n    ## Question:\n    question {i}?{extra}\n    ")
        think = direct + f"{cue}.\n    "
        gt = ("True" if i % 2 else "False") if task == "boolq" else f"answer span {i}"
    elif task in ("mmlu", "gpqa"):
        opts = "\n".join(f"{k}. option {k} {i}" for k in "ABCD")
        direct = (f"Answer the multiple choice question; give the letter in parentheses, e.g. (A).\n"
                  f"## Question:\n{body}\n## Options:\n{opts}\n")
        think = direct + f"{cue}.\n"
        gt = "ABCD"[i % 4]
    elif task in ("commonsense_qa", "openbook_qa", "arc_challenge", "hellaswag"):
        opts = "\n".join(f"({k}) choice {k.lower()} {i}" for k in "ABCD")
        lead = "Context" if task == "hellaswag" else "Question"
        direct = f"Pick the right option and give its letter in parentheses.\n{lead}: {body}\n{opts}\n"
        think = f"{direct}{cue}"
        gt = "1234"[i % 4] if task == "arc_challenge" and i % 5 == 0 else "ABCD"[i % 4]
    elif task == "gsm8k":
        direct = f"Answer the following question.\nQuestion: {body} ({i})\nAnswer:"
        think = f"{direct} {cue}"
        gt = f"Step one: {body[:80]}.\nSo the total is {i * 3}.\n#### {i * 3}"
    elif task == "math":
        direct = f"Answer the following question. Put the final answer inside \\boxed{{}}.\nQuestion: {body}\n"
        think = f"{direct}{cue}"
        gt = f"We compute {body[:60]}, hence the answer is $\\boxed{{\\frac{{{i}}}{{2}}}}$."
    elif task == "mbpp":
        task_id = 600 + i
        tests = [f"assert add_{i}(1, 2) == 3", f"assert add_{i}(0, 0) == 0"]
        direct = (f"You are an expert Python programmer, and here is your task: {body}. Your code should "
                  f"pass these tests:\n\n" + "\n".join(tests) + "\n[BEGIN]\n <your code> \n[Done]\n")
        think = direct + f"{cue}.\n"
        gt = repr(tests)
    else:  # human_eval
        task_id = f"HumanEval/{i}"
        direct = (f"\n        Complete the following python function. Put the body between [BEGIN] and [DONE].\n"
                  f"        def f_{i}(x):\n            \"\"\"{body}\"\"\"\n        ")
        think = direct + f"\n        {cue}.\n        "
        gt = "\n\ndef check(candidate):\n    assert candidate(1) == 1\n"
    return direct, think, gt, task_id


def routing_log_rows(n_queries: int = 28, *, seed: int = 0, text_scale: float = 0.05,
                     embedding_dim: int = 8, missing_rate: float = 0.02, judge: bool = True,
                     counts: dict[str, int] | None = None) -> Iterator[dict[str, Any]]:
    """Yield the rows (dicts of the 18 columns) of a synthetic FusionBench-layout log.

    ``text_scale`` multiplies the typical text lengths (1.0 = realistic: ~1.4k-character
    responses), ``embedding_dim`` sets the size of the stringified embeddings found on the first
    row of each block, ``missing_rate`` the share of empty performance/response/judge cells.
    Values are what a CSV reader returns before typing: numbers as Python numbers, missing as "".
    """
    rng = random.Random(seed)
    text = _Text(rng)
    llm_text = {name: f"{name} is a language model. " + text.take(120) for name in ROUTING_LLMS}
    description = {task: f"The {task} task. " + text.take(150) for task in ROUTING_TASK_METRICS}
    for task, count in (counts or routing_task_counts(n_queries)).items():
        metric = ROUTING_TASK_METRICS[task]
        for i in range(count):
            direct, think, gt, task_id = _question(task, i, text, text_scale)
            embed = "tensor([[" + ", ".join(f"{rng.uniform(-1, 1):.4f}" for _ in range(embedding_dim)) + "]])"
            hardness = rng.random()
            for j, (llm, pin, pout) in enumerate(_LLM_PRICES):
                skill = 0.25 + 0.5 * (j / 19) + (0.15 if j < 10 and task in ("mbpp", "human_eval") else 0)
                for think_mode in (False, True):
                    first = j == 0 and not think_mode
                    correct = rng.random() < skill * (1.2 if think_mode else 1.0) - hardness * 0.4
                    out_len = max(5, int(rng.expovariate(1 / (_RESPONSE_CHARS * text_scale)) + 5))
                    response = text.take(out_len) + ("\n" + (f"({gt})" if correct else "(Z)")
                                                      if metric == "em_mc" else "")
                    perf: Any = 1.0 if correct else 0.0
                    if metric == "code_eval":
                        perf = (f"{{'pass@1': np.float64({perf})}}" if rng.random() < 0.7
                                else f"{{'pass@1': {perf}}}")
                    out_tokens: Any = len(response) // 4 + 1
                    if rng.random() < missing_rate:
                        perf = ""
                    if rng.random() < missing_rate:
                        response = ""
                        out_tokens = 0
                    query = think if think_mode else direct
                    in_tokens = len(query) // 4 + 1
                    row = {
                        "task_name": task, "task_id": task_id, "task_description": description[task],
                        "task_description_embedding": embed if first else "", "query": query,
                        "query_embedding": embed if first else "", "ground_truth": gt, "metric": metric,
                        "llm": llm + ("_think" if think_mode else ""), "input_price": pin, "output_price": pout,
                        "input_tokens_num": in_tokens, "output_tokens_num": out_tokens, "performance": perf,
                        "cost": round(in_tokens * pin + out_tokens * pout, 4), "response": response,
                        "llm_description": llm_text[llm],
                    }
                    if judge:
                        score = rng.choice((0.0, 0.3, 0.6, 0.8, 1.0)) if correct else rng.choice((0.0, 0.0, 0.3))
                        row["llm_judge"] = "" if rng.random() < missing_rate else score
                    yield row


def write_routing_log(path: str | Path, n_queries: int = 28, *, fmt: str | None = None,
                      **kwargs: Any) -> Path:
    """Write a synthetic log to ``path`` as CSV, JSONL or Parquet (from the suffix unless ``fmt``).

    Keyword arguments go to ``routing_log_rows``. CSV and JSONL are streamed row by row.
    Example: ``write_routing_log(tmp_path / "log.csv", n_queries=6396, text_scale=1.0, embedding_dim=768)``
    """
    target = Path(path)
    fmt = fmt or target.suffix.lstrip(".").lower()
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = routing_log_rows(n_queries, **kwargs)
    if fmt == "csv":
        with target.open("w", encoding="utf-8", newline="") as fh:
            first = next(rows)
            writer = csv.DictWriter(fh, fieldnames=list(first))
            writer.writeheader()
            writer.writerow(first)
            writer.writerows(rows)
    elif fmt in ("jsonl", "ndjson"):
        with target.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({k: (None if v == "" else v) for k, v in row.items()}, ensure_ascii=False))
                fh.write("\n")
    elif fmt == "parquet":
        import polars as pl

        records = [{k: (None if v == "" else str(v)) for k, v in row.items()} for row in rows]
        pl.DataFrame(records, infer_schema_length=None).write_parquet(target)
    else:
        raise ValueError(f"{target}: unknown routing-log format {fmt!r} (csv, jsonl, parquet)")
    return target


@pytest.fixture
def routing_log_csv(tmp_path: Path) -> Path:
    """A 28-query (1,120-row) synthetic FusionBench-layout CSV log in ``tmp_path``."""
    return write_routing_log(tmp_path / "routing_log.csv", n_queries=28, seed=0)
