"""Reference-style implementations of FusionFactory's ``sft_data_gen`` (written from the spec).

Two baselines with the reference's algorithm and cost structure, used by the benchmark and by
the byte-compatibility tests:

* ``reference_pandas``: ``pandas.read_csv`` of the whole file, cut into 40-row blocks; per block
  a copy, ``apply`` of the score parser on two columns, ``to_numeric``, a two-key descending
  ``sort_values`` and an ``iterrows`` walk; ``json.dump(..., ensure_ascii=False, indent=2)``.
  This is the reference script's procedure step for step (needs pandas).
* ``reference_python``: the same per-block loop over plain Python rows (``csv`` module, dict
  copies, a stable sort with missing values last), for environments without pandas.

Both return the JSON text the reference would write.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import re
import sys

INSTRUCTION = "Answer the following questions as required."
SMALL = ["qwen2-7b-instruct", "qwen2.5-7b-instruct", "gemma-7b", "codegemma-7b", "gemma-2-9b-it",
         "llama-3.1-8b-instruct", "granite-3.0-8b-instruct", "llama3-chatqa-1.5-8b",
         "mistral-nemo-12b-instruct", "mistral-7b-instruct-v0.3"]
SMALL = SMALL + [m + "_think" for m in SMALL]
KEYS = {"perf": ("performance_p", "output_tokens_num_p"), "judge": ("llm_judge_p", "output_tokens_num_p"),
        "hybrid": ("performance_p", "llm_judge_p"), "baseline": ("performance_p", "output_tokens_num_p")}
CHOICE = ["mmlu", "gpqa", "commonsense_qa", "openbook_qa", "arc_challenge", "hellaswag"]


def score(value):
    """The spec's score parser (floats pass, strings: float, else np.float64-stripped literal dict)."""
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):
        value = value.strip()
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = ast.literal_eval(re.sub(r"np\.float64\((.*?)\)", r"\1", value))
            if isinstance(parsed, dict) and "pass@1" in parsed:
                return float(parsed["pass@1"])
            return None
        except Exception:
            return None
    return None


def _walk(rows, setting, k, small, out):
    selected = False
    count = 0
    for row in rows:
        if small and row.get("llm") not in SMALL:
            continue
        if not selected:
            task, gt = row.get("task_name", ""), str(row.get("ground_truth", ""))
            if task in ("mbpp", "human_eval"):
                label = "[BEGIN]\n " + gt + " \n[DONE]"
            elif task in CHOICE:
                label = "(" + gt + ")"
            else:
                label = gt
            query = str(row.get("query", ""))
            query = query.replace("let's think step by step", "").replace("Let's think step by step", "")
            out.append({"instruction": INSTRUCTION, "input": query, "output": label})
            selected = True
        if row["performance_p"] == 0:
            break
        if setting != "baseline" and count < k:
            out.append({"instruction": INSTRUCTION, "input": str(row.get("query", "")),
                        "output": str(row.get("response", ""))})
            count += 1


def reference_pandas(path, setting="perf", k=5, small=False):
    import pandas as pd

    df = pd.read_csv(path)
    blocks = [df.iloc[i * 40:(i + 1) * 40].reset_index(drop=True) for i in range(len(df) // 40)]
    out = []
    for block in blocks:
        block = block.copy()
        block["performance_p"] = block["performance"].apply(score)
        block["llm_judge_p"] = block["llm_judge"].apply(score)
        block["output_tokens_num_p"] = pd.to_numeric(block["output_tokens_num"], errors="coerce")
        ranked = block.sort_values(by=list(KEYS[setting]), ascending=[False, False]).reset_index(drop=True)
        _walk((row for _, row in ranked.iterrows()), setting, k, small, out)
    if setting == "baseline":
        out = out * (k + 1)
    return json.dumps(out, ensure_ascii=False, indent=2)


def _number(value):
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def reference_python(path, setting="perf", k=5, small=False):
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8", newline="") as fh:
        table = [row for row in csv.DictReader(fh) if any(row.values())]
    na = {"", "NA", "N/A", "NaN", "nan", "None", "null", "NULL", "<NA>", "n/a", "#N/A", "-nan", "-NaN"}
    for row in table:  # pandas turns these into NaN, str(NaN) == "nan"
        for key in ("query", "ground_truth", "response"):
            if row.get(key) in na:
                row[key] = "nan"
    out = []
    first, second = KEYS[setting]
    for i in range(len(table) // 40):
        block = [dict(row) for row in table[i * 40:(i + 1) * 40]]
        for row in block:
            perf, judge = score(row["performance"]), score(row.get("llm_judge", ""))
            row["performance_p"] = None if perf is None or math.isnan(perf) else perf
            row["llm_judge_p"] = None if judge is None or math.isnan(judge) else judge
            row["output_tokens_num_p"] = _number(row["output_tokens_num"])
        # Stable descending sort, missing values last, on two keys: sort by the second key then the first.
        for key in (second, first):
            block.sort(key=lambda r, key=key: (r[key] is None, -(r[key] or 0.0)))
        _walk(block, setting, k, small, out)
    if setting == "baseline":
        out = out * (k + 1)
    return json.dumps(out, ensure_ascii=False, indent=2)
