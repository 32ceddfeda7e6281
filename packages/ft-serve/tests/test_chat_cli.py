"""``ft-serve chat`` (also ``ft chat``) scripted through stdin: one line in, the reply out;
``clear`` forgets, ``exit`` ends. ft-serve's own console script is used, so the test runs where
the umbrella is not installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ft_serve.chat_model import ChatModel
from ft_serve.config import load_serve_config

ARGS = ["model_name_or_path=smollm2-135m-instruct", "template=smollm2", "do_sample=false", "max_new_tokens=24"]


def _ft() -> str:
    return str(Path(sys.executable).with_name("ft-serve"))


@pytest.mark.slow
def test_chat_through_stdin(smollm2_path):
    q1, q2 = "What is 2+2?", "And 3+3?"
    script = f"{q1}\n{q2}\nclear\n{q2}\nexit\nnever read\n"
    out = subprocess.run([_ft(), "chat", *ARGS], input=script, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "FT_LOG_LEVEL": "WARNING"})
    assert out.returncode == 0, out.stderr
    chat = ChatModel(load_serve_config(None, ARGS))
    a1 = chat.chat([{"role": "user", "content": q1}])
    a2 = chat.chat([{"role": "user", "content": q1}, {"role": "assistant", "content": a1},
                    {"role": "user", "content": q2}])
    a3 = chat.chat([{"role": "user", "content": q2}])  # after clear: no history
    chat.close()
    assert a2 != a3  # the history changed the answer, so "clear" is observable
    assert out.stdout == f"{a1}\n{a2}\n{a3}\n"


def test_bad_config_key_is_one_line_exit_2():
    out = subprocess.run([_ft(), "chat", "model_name_or_path=x", "temprature=0.5"], capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "temprature" in lines[0] and "temperature" in lines[0]
