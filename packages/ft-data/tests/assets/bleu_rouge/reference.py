"""Computes reference.json: LLaMA-Factory's eval_bleu_rouge.py scoring, with its own libraries.

Run once, in a virtual environment that holds only the reference libraries, and commit the output:

    python -m venv /tmp/ref && /tmp/ref/bin/pip install jieba==0.42.1 nltk==3.10.4 rouge-chinese==1.0.3
    /tmp/ref/bin/python reference.py predictions.jsonl > reference.json

Per line: BLEU-4 = nltk sentence_bleu over characters with smoothing method 3; ROUGE-1/2/L =
rouge_chinese F over jieba words joined by spaces (all 0 when a side has no words); x100, 4
decimals; the file's figures are the plain means, keys sorted, as the reference script writes them.
"""

import json
import sys

import jieba
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from rouge_chinese import Rouge

rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
per_row = []
for row in rows:
    pred, label = row["predict"], row["label"]
    hypothesis, reference = list(jieba.cut(pred)), list(jieba.cut(label))
    if len(" ".join(hypothesis).split()) == 0 or len(" ".join(reference).split()) == 0:
        result = {"rouge-1": {"f": 0.0}, "rouge-2": {"f": 0.0}, "rouge-l": {"f": 0.0}}
    else:
        result = Rouge().get_scores(" ".join(hypothesis), " ".join(reference))[0]
    scores = {k: round(v["f"] * 100, 4) for k, v in result.items()}
    scores["bleu-4"] = round(sentence_bleu([list(label)], list(pred), smoothing_function=SmoothingFunction().method3) * 100, 4)
    per_row.append(scores)
keys = sorted(per_row[0])
print(json.dumps({"per_row": per_row, "average": {k: sum(r[k] for r in per_row) / len(per_row) for k in keys}}, indent=2))
