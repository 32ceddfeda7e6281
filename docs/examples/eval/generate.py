"""Write the local evaluation tasks' data (deterministic: ``uv run python docs/examples/eval/generate.py``).

* ``tasks/data/gsm_symbolic.jsonl``: 200 reasoning-gym ``gsm_symbolic`` problems, indices 140-339 of
  the generator with seed 42. ``docs/examples/data`` uses indices 0-139 of the same generator
  (training 0-99, held out 100-139), so none of these rows is in a training file.
* ``tasks/data/basic_arithmetic.jsonl``: the same 200 ``basic_arithmetic`` questions as
  ``arith_mc.jsonl`` (below), as a generative task scored by the verifier.
* ``tasks/data/arith_mc.jsonl``: 200 four-way multiple-choice ``basic_arithmetic`` questions, indices
  700-899 of the demo data's generator (the demo data uses 0-699); the three wrong choices are
  near misses that reasoning-gym's verifier scores below 1.
* ``mmlu_demo/``: a tiny task folder in the MMLU layout LLaMA-Factory's evaluator reads
  (``mapping.json``, ``dev/<subject>_dev.csv``, ``test/<subject>_test.csv``; no header row, columns
  question, A, B, C, D, answer), one subject per category.

Every correct answer is checked with the task's own verifier before it is written.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

import reasoning_gym

HERE = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
GSM = {"size": 340, "seed": 42}
ARITH = {"size": 900, "seed": 42, "min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 2,
         "operators": ("+", "-"), "allow_parentheses": False, "allow_negation": False}
LETTERS = "ABCD"


def _entry(entry: dict) -> str:
    """The reasoning-gym entry as JSON, what ft_data's rg_verifier reads: the answer and the metadata
    naming the generator (gsm_symbolic's verifier reads only the answer; the question is its own
    column, the worked solution and the template variables are dropped to keep the file small)."""
    meta = {k: entry["metadata"][k] for k in ("source_dataset", "source_index", "difficulty") if k in entry["metadata"]}
    return json.dumps({"answer": entry["answer"], "metadata": meta},
                      ensure_ascii=False, default=str)


def _near_misses(entry: dict, ds, rng: random.Random, n: int = 3) -> list[str]:
    wrong: list[str] = []
    while len(wrong) < n:
        candidate = str(int(entry["answer"]) + rng.choice([-10, -2, -1, 1, 2, 3, 10]))
        if candidate not in wrong and ds.score_answer(answer=candidate, entry=entry) < 1.0:
            wrong.append(candidate)
    return wrong


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def gsm_symbolic() -> list[dict]:
    ds = reasoning_gym.create_dataset("gsm_symbolic", **GSM)
    rows = []
    for i in range(140, 340):
        e = ds[i]
        assert ds.score_answer(answer=e["answer"], entry=e) == 1.0, e
        rows.append({"question": e["question"], "answer": e["answer"], "entry": _entry(e)})
    return rows


def basic_arithmetic() -> list[dict]:
    ds = reasoning_gym.create_dataset("basic_arithmetic", **ARITH)
    rows = []
    for i in range(700, 900):
        e = ds[i]
        assert ds.score_answer(answer=e["answer"], entry=e) == 1.0, e
        rows.append({"question": e["question"], "answer": e["answer"], "entry": _entry(e)})
    return rows


def arith_mc() -> list[dict]:
    ds = reasoning_gym.create_dataset("basic_arithmetic", **ARITH)
    rng = random.Random(0)
    rows = []
    for i in range(700, 900):
        e = ds[i]
        assert ds.score_answer(answer=e["answer"], entry=e) == 1.0, e
        choices = [e["answer"], *_near_misses(e, ds, rng)]
        rng.shuffle(choices)
        rows.append({"question": e["question"], "choices": choices, "label": choices.index(e["answer"])})
    return rows


# Hand-written facts for the three non-STEM subjects of the MMLU-format demo (5 dev + 8 test each).
_CAPITALS = [("France", "Paris"), ("Japan", "Tokyo"), ("Canada", "Ottawa"), ("Australia", "Canberra"),
             ("Brazil", "Brasilia"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"), ("Spain", "Madrid"),
             ("Norway", "Oslo"), ("Peru", "Lima"), ("Italy", "Rome"), ("India", "New Delhi"),
             ("Germany", "Berlin")]
_YEARS = [("the first Moon landing", 1969), ("the fall of the Berlin Wall", 1989),
          ("the start of the French Revolution", 1789), ("the end of the Second World War", 1945),
          ("the signing of the US Declaration of Independence", 1776), ("the start of the First World War", 1914),
          ("Columbus's first voyage to the Americas", 1492), ("the sinking of the Titanic", 1912),
          ("the founding of the United Nations", 1945), ("the first powered flight by the Wright brothers", 1903),
          ("the dissolution of the Soviet Union", 1991), ("the printing of the Gutenberg Bible", 1455),
          ("the start of the American Civil War", 1861)]
_UNITS = [("centimeters", "meter", 100), ("grams", "kilogram", 1000), ("minutes", "hour", 60),
          ("seconds", "minute", 60), ("millimeters", "centimeter", 10), ("hours", "day", 24),
          ("days", "week", 7), ("months", "year", 12), ("milliliters", "liter", 1000),
          ("meters", "kilometer", 1000), ("inches", "foot", 12), ("ounces", "pound", 16), ("feet", "yard", 3)]


def _mc_row(question: str, right: str, wrong: list[str], rng: random.Random) -> list[str]:
    choices = [right, *wrong[:3]]
    rng.shuffle(choices)
    return [question, *choices, LETTERS[choices.index(right)]]


def mmlu_demo() -> dict[str, list[list[str]]]:
    rng = random.Random(1)
    subjects: dict[str, list[list[str]]] = {}
    ds = reasoning_gym.create_dataset("basic_arithmetic", **ARITH)
    subjects["elementary_arithmetic"] = [
        _mc_row(ds[i]["question"], ds[i]["answer"], _near_misses(ds[i], ds, rng), rng) for i in range(900 - 13, 900)]
    cities = [c for _, c in _CAPITALS]
    subjects["world_capitals"] = [
        _mc_row(f"What is the capital of {country}?", city, rng.sample([c for c in cities if c != city], 3), rng)
        for country, city in _CAPITALS]
    subjects["modern_history"] = [
        _mc_row(f"In which year did {event} take place?", str(year),
                [str(year + d) for d in rng.sample([-20, -11, -3, 4, 9, 25], 3)], rng)
        for event, year in _YEARS]
    subjects["units_of_measure"] = [
        _mc_row(f"How many {small} are in one {big}?", str(n), [str(x) for x in rng.sample(
            sorted({10, 12, 16, 24, 60, 100, 1000, 3, 7} - {n}), 3)], rng)
        for small, big, n in _UNITS]
    return subjects


MAPPING = {
    "elementary_arithmetic": {"name": "elementary arithmetic", "category": "STEM"},
    "modern_history": {"name": "modern history", "category": "Humanities"},
    "world_capitals": {"name": "world capitals", "category": "Social Sciences"},
    "units_of_measure": {"name": "units of measure", "category": "Other"},
}


def main() -> None:
    _write_jsonl(HERE / "tasks" / "data" / "gsm_symbolic.jsonl", gsm_symbolic())
    _write_jsonl(HERE / "tasks" / "data" / "basic_arithmetic.jsonl", basic_arithmetic())
    _write_jsonl(HERE / "tasks" / "data" / "arith_mc.jsonl", arith_mc())
    folder = HERE / "mmlu_demo"
    for split in ("dev", "test"):
        (folder / split).mkdir(parents=True, exist_ok=True)
    for subject, rows in mmlu_demo().items():
        for split, part in (("dev", rows[:5]), ("test", rows[5:])):
            with open(folder / split / f"{subject}_{split}.csv", "w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerows(part)
    (folder / "mapping.json").write_text(json.dumps(MAPPING, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
