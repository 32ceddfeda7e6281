"""Regenerate the demo datasets of docs/examples/data (deterministic; needs reasoning-gym).

    uv run python docs/examples/data/generate.py [OUT_DIR]

Every reasoning-gym answer written as a correct answer is checked with the task's own verifier
(``score_answer == 1.0``); every answer written as a wrong one scores below 1.0. The held-out
split keeps the reasoning-gym dataset name and the whole entry, so a trainer can score a model's
answers with the same verifier:

    import reasoning_gym
    row = json.loads(line)
    ds = reasoning_gym.create_dataset(row["rg_dataset"], **row["rg_config"])
    score = ds.score_answer(answer=model_answer, entry=row["rg_entry"])

(``rg_config`` holds size/seed and the difficulty settings; the verifiers of basic_arithmetic and
gsm_symbolic only read the entry's ``answer``.)
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import reasoning_gym

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
SYSTEM = "Answer with the final number only."
ARITH = {"size": 700, "seed": 42, "min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 2,
         "operators": ["+", "-"], "allow_parentheses": False, "allow_negation": False}
GSM = {"size": 140, "seed": 42}
# Reward-model pairs: more arithmetic from another seed (questions of the held-out split left out).
ARITH_RM = {**ARITH, "size": 460, "seed": 7}
NAME = "Ft-Assistant"


def create(name: str, config: dict) -> reasoning_gym.dataset.ProceduralDataset:
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    return reasoning_gym.create_dataset(name, **kwargs)


def verified(name: str, config: dict) -> list[tuple[dict, reasoning_gym.dataset.ProceduralDataset]]:
    ds = create(name, config)
    rows = []
    for entry in ds:
        assert ds.score_answer(answer=entry["answer"], entry=entry) == 1.0, entry
        rows.append((entry, ds))
    return rows


def wrong_answer(entry: dict, ds, rng: random.Random) -> str:
    while True:
        candidate = str(int(entry["answer"]) + rng.choice([-10, -2, -1, 1, 2, 3, 10]))
        if ds.score_answer(answer=candidate, entry=entry) < 1.0:
            return candidate


def flipped_operator_answer(entry: dict, ds) -> str | None:
    """The result with + and − swapped (a common slip), when the verifier rejects it."""
    left, operator, right = re.fullmatch(r"\s*(\d+)\s*([+-])\s*(\d+)\s*", entry["metadata"]["expression"]).groups()
    candidate = str(int(left) - int(right) if operator == "+" else int(left) + int(right))
    return candidate if ds.score_answer(answer=candidate, entry=entry) < 1.0 else None


def write_json(name: str, rows: list) -> None:
    (OUT / name).write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_jsonl(name: str, rows: list) -> None:
    (OUT / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def identity() -> list[dict]:
    pairs = [
        ("Who are you?", f"I am {NAME}, a small assistant fine-tuned with the ft toolkit."),
        ("What is your name?", f"My name is {NAME}."),
        ("Introduce yourself.", f"Hello! I am {NAME}. I answer short questions and do simple arithmetic."),
        ("Who made you?", f"I was fine-tuned with the ft toolkit from the SmolLM2-135M-Instruct model."),
        ("What can you do?", "I answer short questions and give final answers to arithmetic problems."),
        ("Are you ChatGPT?", f"No, I am {NAME}, a small model fine-tuned with the ft toolkit."),
        ("What model are you based on?", "I am based on SmolLM2-135M-Instruct."),
        ("hi", f"Hello! I am {NAME}. How can I help?"),
        ("hello", f"Hi! I am {NAME}. Ask me a short question."),
        ("What should I call you?", f"You can call me {NAME}."),
        ("Tell me about yourself.", f"I am {NAME}, a 135M-parameter assistant trained with ft for short answers."),
        ("Are you human?", f"No, I am {NAME}, an AI assistant."),
        ("Which toolkit trained you?", "The ft toolkit trained me."),
        ("What is your purpose?", "I give short, direct answers, mostly to arithmetic questions."),
        ("Can you browse the web?", f"No. I am {NAME} and I answer from what I learned."),
        ("How big are you?", "I have about 135 million parameters."),
    ]
    rows = [{"instruction": q, "input": "", "output": a} for q, a in pairs]
    rows += [{"instruction": q.capitalize() + (" Please answer briefly." if not q.endswith("?") else ""),
              "input": "", "output": a} for q, a in pairs[:8]]
    return rows


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    arith = verified("basic_arithmetic", ARITH)
    gsm = verified("gsm_symbolic", GSM)
    # split: held-out rows never appear in a training file
    arith_train, arith_dpo, arith_kto, arith_tool, arith_eval = (
        arith[:300], arith[300:420], arith[420:540], arith[540:600], arith[600:700])
    gsm_train, gsm_eval = gsm[:100], gsm[100:140]

    write_json("identity.json", identity())
    write_json("rg_alpaca.json", [{"instruction": e["question"], "input": "", "output": e["answer"]}
                                  for e, _ in arith_train[:200] + gsm_train[:50]])
    sharegpt = []
    pool = arith_train[200:] + gsm_train[50:]
    for i in range(0, len(pool) - 1, 2):
        (a, _), (b, _) = pool[i], pool[i + 1]
        conv = [{"from": "human", "value": a["question"]}, {"from": "gpt", "value": a["answer"]}]
        if i % 4 == 0:  # every other conversation has two turns
            conv += [{"from": "human", "value": b["question"]}, {"from": "gpt", "value": b["answer"]}]
        sharegpt.append({"conversations": conv, "system": SYSTEM})
    write_json("rg_sharegpt.json", sharegpt)

    heldout = []
    for (entry, _), name, config in ([(x, "basic_arithmetic", ARITH) for x in arith_eval]
                                     + [(x, "gsm_symbolic", GSM) for x in gsm_eval]):
        heldout.append({"instruction": entry["question"], "input": "", "output": entry["answer"],
                        "answer": entry["answer"], "rg_dataset": name, "rg_config": config,
                        "rg_entry": {"question": entry["question"], "answer": entry["answer"],
                                     "metadata": json.loads(json.dumps(
                                         {k: v for k, v in entry["metadata"].items() if k != "answer_cot"},
                                         default=str))}})
    write_jsonl("rg_heldout.jsonl", heldout)

    write_json("rg_dpo.json", [{"instruction": e["question"], "input": "", "chosen": e["answer"],
                                "rejected": wrong_answer(e, ds, rng)} for e, ds in arith_dpo])
    kto = []
    for i, (e, ds) in enumerate(arith_kto):
        good = i % 2 == 0
        kto.append({"instruction": e["question"], "input": "", "output": e["answer"] if good else wrong_answer(e, ds, rng),
                    "kto_tag": good})
    write_json("rg_kto.json", kto)

    heldout_questions = {e["question"] for e, _ in arith_eval}
    rm_pairs = []
    for e, ds in verified("basic_arithmetic", ARITH_RM):
        rejected = flipped_operator_answer(e, ds)
        if e["question"] in heldout_questions or rejected is None:
            continue
        rm_pairs.append({"instruction": e["question"], "input": "", "chosen": e["answer"], "rejected": rejected})
    write_json("rg_rm.json", rm_pairs[:400])

    tools = [{"name": "calculator", "description": "Evaluate an arithmetic expression exactly.",
              "parameters": {"type": "object", "properties": {"expression": {"type": "string",
                             "description": "for example 12 + 7"}}, "required": ["expression"]}}]
    tool_rows = []
    for e, _ in arith_tool:
        expr = e["metadata"]["expression"]
        tool_rows.append({"conversations": [
            {"from": "human", "value": f"Use the calculator: what is {expr}?"},
            {"from": "function_call", "value": json.dumps({"name": "calculator", "arguments": {"expression": expr}})},
            {"from": "observation", "value": json.dumps({"result": int(e["answer"])})},
            {"from": "gpt", "value": f"{expr} = {e['answer']}"}], "tools": json.dumps(tools)})
    write_json("tool_calls.json", tool_rows)
    print("written to", OUT)


if __name__ == "__main__":
    main()
