"""Tokenizer fix-ups: EOS/PAD/stop tokens, vocabulary growth warning, chat template export."""

from __future__ import annotations

import copy
import logging

import pytest

from ft_templates import fix_tokenizer, get_template, prepare_template
from ft_templates.auto import template_from_tokenizer


@pytest.fixture
def tok(smollm2_tokenizer):
    return copy.deepcopy(smollm2_tokenizer)


def test_replace_eos_and_stop_words(tok, caplog):
    size = len(tok)
    with caplog.at_level(logging.WARNING, logger="ft_templates"):
        added = fix_tokenizer(get_template("llama3"), tok, set_chat_template=False)
    assert tok.eos_token == "<|eot_id|>"
    assert added == ["<|eom_id|>", "<|eot_id|>"] and len(tok) == size + 2
    assert "<|eom_id|>" in tok.all_special_tokens
    assert "resize" in caplog.text


def test_no_growth_no_warning(tok, caplog):
    with caplog.at_level(logging.WARNING, logger="ft_templates"):
        assert fix_tokenizer(get_template("chatml"), tok) == []
    assert caplog.text == ""
    assert tok.eos_token == "<|im_end|>" and tok.pad_token is not None
    assert tok.chat_template == get_template("chatml").to_jinja()  # replace_jinja_template


def test_pad_defaults_to_eos(tok):
    tok.pad_token = None
    fix_tokenizer(get_template("smollm2"), tok)
    assert tok.pad_token == tok.eos_token


def test_chat_template_kept_unless_missing(tok):
    original = tok.chat_template
    fix_tokenizer(get_template("smollm2"), tok)
    assert tok.chat_template == original
    tok.chat_template = None
    fix_tokenizer(get_template("smollm2"), tok)
    assert tok.chat_template == get_template("smollm2").to_jinja()


def test_prepare_template_auto_and_options(tok):
    t = prepare_template("auto", tok)
    assert t.default_system == get_template("smollm2").default_system
    t = prepare_template("qwen3", tok, thinking="off", tool_format="llama3")
    assert t.enable_thinking is False and t.tool_format == "llama3"
    with pytest.raises(ValueError, match="does not exist"):
        prepare_template("nonexistent", tok)


def test_auto_without_chat_template_is_empty(tok):
    tok.chat_template = None
    assert prepare_template(None, tok, fix=False).name == "empty"
    with pytest.raises(ValueError, match="no chat template"):
        template_from_tokenizer(tok)
