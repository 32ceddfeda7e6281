"""Reasoning policy: where empty thoughts go (trained or not), history CoT, preserve_thinking."""

from __future__ import annotations

import pytest

from ft_templates import get_template

U = {"role": "user", "content": "q"}
COT = {"role": "assistant", "content": "<think>\nr\n</think>\n\nA"}
PLAIN = {"role": "assistant", "content": "A"}
EMPTY = "<think>\n\n</think>\n\n"


def dec(tok, ids):
    return tok.decode(ids)


@pytest.mark.parametrize("policy,in_prompt,in_response", [("on", False, True), ("off", True, False),
                                                          ("mixed", True, False)])
def test_empty_thought_placement_oneturn(char_tok, policy, in_prompt, in_response):
    t = get_template("qwen3").with_options(thinking=policy)
    prompt, response = t.encode_oneturn(char_tok, [U, PLAIN])
    assert dec(char_tok, prompt).endswith(EMPTY) == in_prompt
    assert dec(char_tok, response).startswith(EMPTY) == in_response
    assert dec(char_tok, response).endswith("A<|im_end|>\n")


def test_cot_answer_kept_unless_off(char_tok):
    on = get_template("qwen3").with_options(thinking="mixed")
    _, response = on.encode_oneturn(char_tok, [U, COT])
    assert dec(char_tok, response) == "<think>\nr\n</think>\n\nA<|im_end|>\n"
    off = get_template("qwen3").with_options(thinking="off")
    prompt, response = off.encode_oneturn(char_tok, [U, COT])
    assert dec(char_tok, response) == "A<|im_end|>\n" and dec(char_tok, prompt).endswith(EMPTY)


def test_history_cot_dropped_in_oneturn_unless_preserved(char_tok):
    t = get_template("qwen3")
    prompt, _ = t.encode_oneturn(char_tok, [U, COT, U, PLAIN])
    assert "<think>\nr" not in dec(char_tok, prompt)
    prompt, _ = t.with_options(preserve_thinking=True).encode_oneturn(char_tok, [U, COT, U, PLAIN])
    assert "<think>\nr\n</think>" in dec(char_tok, prompt)


def test_multiturn_every_turn_gets_a_thought(char_tok):
    pairs = get_template("qwen3").encode_multiturn(char_tok, [U, COT, U, PLAIN])
    assert dec(char_tok, pairs[0][1]).startswith("<think>\nr")
    assert dec(char_tok, pairs[1][1]).startswith(EMPTY)
    pairs = get_template("qwen3").with_options(thinking="off").encode_multiturn(char_tok, [U, COT, U, PLAIN])
    assert all(dec(char_tok, s).endswith(EMPTY) for s, _ in pairs)
    assert [dec(char_tok, t) for _, t in pairs] == ["A<|im_end|>\n"] * 2


def test_mask_history_discards_history_cot(char_tok):
    t = get_template("qwen3")
    pairs = t.encode_multiturn(char_tok, [U, COT, U, COT], mask_history=True)
    assert dec(char_tok, pairs[0][1]) == "A<|im_end|>\n"
    assert dec(char_tok, pairs[1][1]).startswith("<think>\nr")
    kept = t.with_options(preserve_thinking=True).encode_multiturn(char_tok, [U, COT, U, COT], mask_history=True)
    assert dec(char_tok, kept[0][1]).startswith("<think>\nr")


def test_nothink_variant_is_plain(char_tok):
    t = get_template("qwen3_nothink")
    assert not t.reasoning
    _, response = t.encode_oneturn(char_tok, [U, PLAIN])
    assert dec(char_tok, response) == "A<|im_end|>\n"


def test_bad_policy_is_rejected():
    with pytest.raises(ValueError, match="on, off or mixed"):
        get_template("qwen3").with_options(thinking="maybe")


def test_gpt_oss_thought_words(char_tok):
    t = get_template("gpt_oss")
    _, response = t.encode_oneturn(char_tok, [U, PLAIN])
    assert dec(char_tok, response) == (
        "<|channel|>analysis<|message|><|end|><|start|>assistant<|channel|>final<|message|>A")
