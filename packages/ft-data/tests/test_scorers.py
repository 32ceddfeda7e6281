"""Scorers: cem, em_mc, GSM8K, MATH (tricky normalisations), sandboxed code pass@1."""

from __future__ import annotations

import pytest

from ft_core.sandbox import SandboxLimits
from ft_data.scorers import SCORERS
from ft_data.scorers.code_eval import extract_code, humaneval_problems
from ft_data.scorers.math_answer import last_boxed, math_equiv, normalize_math


def score(metric, prediction, ground_truth, **extra):
    return SCORERS[metric](prediction, {"metric": metric, "ground_truth": ground_truth, **extra})


@pytest.mark.parametrize(("prediction", "gt", "expected"), [
    ("It is the Eiffel Tower, in Paris.", "Eiffel tower", 1.0),
    ("An apple a day", "the apple", 1.0),  # articles dropped on both sides
    ("Paris!", "paris", 1.0),
    ("Lyon", "Paris", 0.0),
    ("True.", "True", 1.0),
    ("anything", "", 0.0),
])
def test_cem(prediction, gt, expected):
    assert score("cem", prediction, gt) == expected


@pytest.mark.parametrize(("prediction", "gt", "expected"), [
    ("The answer is (B).", "B", 1.0),
    ("(A) is wrong, so ( c )", "C", 1.0),  # the last one counts, inner spaces allowed
    ("(b)", "B", 1.0),
    ("B", "B", 0.0),  # no parentheses: no answer
    ("(AB)", "A", 0.0),
    ("option (3)", "3", 1.0),  # ARC digit keys
])
def test_em_mc(prediction, gt, expected):
    assert score("em_mc", prediction, gt) == expected


@pytest.mark.parametrize(("prediction", "gt", "expected"), [
    ("She has 18 eggs, so $18.", "Janet sells 16 - 3 - 4 = 9 eggs.\n#### 18", 1.0),
    ("The total is 1,250 dollars", "#### 1250", 1.0),
    ("The answer is 3.5", "#### 35", 0.0),  # the reference's quirk (3.5 == 35) is gone
    ("The answer is 35.", "#### 35", 1.0),  # a sentence-final period is not a decimal point
    ("It is 3.50", "#### 3.5", 1.0),
    ("-7 degrees", "#### -7", 1.0),
    ("first 12 then 13", "#### 12", 0.0),  # the last number counts
    ("no number", "#### 4", 0.0),
])
def test_gsm8k(prediction, gt, expected):
    assert score("GSM8K", prediction, gt) == expected


@pytest.mark.parametrize(("a", "b"), [
    ("\\dfrac{1}{2}", "0.5"), ("\\tfrac12", "\\frac{1}{2}"), ("\\frac1{72}", "\\frac{1}{72}"),
    ("\\left( 3, 4 \\right)", "(3,4)"), ("x = 5", "5"), ("10\\%", "10"), ("90^\\circ", "90"),
    ("90^{\\circ}", "90"), ("\\sqrt2", "\\sqrt{2}"), ("3/4", "\\frac{3}{4}"), ("5 \\text{ cm}", "5"),
    (".5", "\\frac{1}{2}"), ("\\$10", "10"), ("\\!1,\\!000", "1,000"), ("\\frac{\\sqrt3}{2}", "\\frac{\\sqrt{3}}{2}"),
])
def test_math_equivalences(a, b):
    assert math_equiv(a, b), (normalize_math(a), normalize_math(b))


@pytest.mark.parametrize(("a", "b"), [("x^2", "2"), ("\\frac{1}{3}", "0.33"), ("area = 5", "5"), ("3/4", "4/3")])
def test_math_differences(a, b):
    assert not math_equiv(a, b)


def test_math_boxed_extraction():
    assert last_boxed("a \\boxed{1} then \\boxed{\\frac{1}{\\sqrt{2}}}") == "\\frac{1}{\\sqrt{2}}"
    assert last_boxed("\\fbox{7}") == "7"
    assert last_boxed("so $\\boxed 5$.") == "5"
    assert last_boxed("\\boxed{unclosed") is None and last_boxed("no box") is None
    gold = "Since ... the answer is $\\boxed{\\dfrac{1}{2}}$."
    assert score("MATH", "Thus \\boxed{0.5}", gold) == 1.0
    assert score("MATH", "Thus 0.5", gold) == 0.0  # no box, no answer
    assert score("MATH", "\\boxed{2} ... \\boxed{\\frac12}", gold) == 1.0  # the last box counts


def test_extract_code():
    assert extract_code("text [BEGIN]\ndef f(): pass\n[Done] after") == "def f(): pass"
    assert extract_code("[begin]\nx = 1") == "x = 1"
    assert extract_code("```python\ny = 2\n```") == "y = 2"


MBPP = {"task_name": "mbpp", "task_id": 2, "ground_truth": "['assert add(1, 2) == 3', 'assert add(0, 0) == 0']"}


@pytest.mark.parametrize(("prediction", "expected"), [
    ("[BEGIN]\ndef add(a, b):\n    return a + b\n[DONE]", 1.0),
    ("[BEGIN]\ndef add(a, b):\n    return a - b\n[DONE]", 0.0),
    ("def add(a, b): return a + b", 1.0),
    ("[BEGIN]\ndef add(a, b):\n    while True: pass\n[DONE]", 0.0),  # hangs: killed, failure
    ("[BEGIN]\nimport os\nos.fork()\ndef add(a, b): return a + b\n[DONE]", 0.0),  # forks: refused
    ("[BEGIN]\nimport socket\nsocket.create_connection(('1.1.1.1', 80))\ndef add(a, b): return a + b\n[DONE]", 0.0),
    ("[BEGIN]\nimport os\nos._exit(0)\n[DONE]", 0.0),  # exits before the asserts: no pass
    ("[BEGIN]\nraise SystemExit(0)\n[DONE]", 0.0),
])
def test_mbpp(prediction, expected):
    example = {**MBPP, "metric": "code_eval", "limits": SandboxLimits(timeout=2)}
    assert SCORERS["code_eval"](prediction, example) == expected


def test_humaneval_uses_package_data():
    problem = humaneval_problems()["HumanEval/0"]
    body = ("    for i, a in enumerate(numbers):\n        for b in numbers[i + 1:]:\n"
            "            if abs(a - b) < threshold:\n                return True\n    return False\n")
    example = {"metric": "code_eval", "task_name": "human_eval", "task_id": "HumanEval/0",
               "ground_truth": problem["test"], "limits": SandboxLimits(timeout=5)}
    assert SCORERS["code_eval"]("[BEGIN]\n" + body + "[DONE]", example) == 1.0
    # a body given without indentation is indented; a full def works too
    flat = "\n".join(line[4:] for line in body.splitlines())
    assert SCORERS["code_eval"]("[BEGIN]\n" + flat + "\n[DONE]", example) == 1.0
    full = "def has_close_elements(numbers, threshold):\n" + body
    assert SCORERS["code_eval"](full, example) == 1.0
    assert SCORERS["code_eval"]("[BEGIN]\n    return True\n[DONE]", example) == 0.0



def test_code_eval_many_keeps_order_and_runs_in_parallel():
    from ft_data.scorers.code_eval import code_eval_many

    good = "[BEGIN]\ndef add(a, b):\n    return a + b\n[DONE]"
    slow = "[BEGIN]\nimport time\ntime.sleep(1)\ndef add(a, b):\n    return a + b\n[DONE]"
    examples = [{**MBPP, "limits": SandboxLimits(timeout=5)}] * 4
    import time

    start = time.monotonic()
    assert code_eval_many([slow, "[BEGIN]\nbroken(\n[DONE]", slow, good], examples, workers=4) == [1.0, 0.0, 1.0, 1.0]
    assert time.monotonic() - start < 1.9  # the two 1 s sleeps overlapped
    with pytest.raises(ValueError, match="2 predictions for 4 examples"):
        code_eval_many([good, good], examples)


def test_code_eval_refuses_without_an_os_sandbox_unless_allowed(monkeypatch):
    from ft_core import SandboxUnavailableError
    from ft_core.sandbox import backends, forget_probes

    forget_probes()
    monkeypatch.setattr(backends, "_probe", lambda name: f"{name}: simulated")
    monkeypatch.delenv("FT_SANDBOX_ALLOW_WEAK_ISOLATION", raising=False)
    try:
        good = "[BEGIN]\ndef add(a, b):\n    return a + b\n[DONE]"
        with pytest.raises(SandboxUnavailableError, match="allow_weak_isolation"):
            SCORERS["code_eval"](good, MBPP)
        assert SCORERS["code_eval"](good, {**MBPP, "allow_weak_isolation": True}) == 1.0
    finally:
        forget_probes()
