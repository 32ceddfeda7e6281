"""Encoding rules: prefix/system placement, one-turn and multi-turn splits, folded systems, EOS."""

from __future__ import annotations

import pytest

from ft_templates import EOS, TEMPLATES, Template, get_template, register_template

U = {"role": "user", "content": "hi"}
A = {"role": "assistant", "content": "yo"}


def text(tok, ids):
    return tok.decode(ids)


def test_registry_has_the_required_templates():
    required = ["llama2", "llama3", "llama4", "mistral", "ministral", "qwen", "qwen3", "qwen3_nothink", "chatml", "smollm", "smollm2", "gemma", "gemma2", "gemma3", "phi", "phi4", "deepseek", "deepseek3", "deepseekr1", "deepseekcoder", "chatglm3", "glm4", "yi", "zephyr", "vicuna", "alpaca", "default", "empty", "gpt_oss", "cohere", "olmo", "falcon", "granite", "intern2", "openchat", "solar", "starchat", "exaone", "baichuan2", "minicpm"]
    for name in required:
        assert isinstance(get_template(name), Template), name
    assert len(TEMPLATES) >= 40


def test_unknown_template_suggests_names():
    with pytest.raises(ValueError, match="did you mean.*qwen3"):
        get_template("qwen33")


def test_oneturn_splits_prompt_and_response(char_tok):
    t = get_template("chatml")
    prompt, response = t.encode_oneturn(char_tok, [U, A, U, A], system="S")
    assert text(char_tok, prompt) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        "yo<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert text(char_tok, response) == "yo<|im_end|>\n"


def test_multiturn_pairs_and_default_system(char_tok):
    t = get_template("qwen")
    pairs = t.encode_multiturn(char_tok, [U, A, {"role": "user", "content": "x"}, A])
    assert len(pairs) == 2
    assert text(char_tok, pairs[0][0]).startswith("<|im_start|>system\nYou are Qwen")
    assert text(char_tok, pairs[1][0]) == "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n"
    assert text(char_tok, pairs[1][1]) == "yo<|im_end|>\n"


def test_bos_eos_markers_and_folded_system(char_tok):
    t = get_template("llama2")
    prompt, response = t.encode_oneturn(char_tok, [U, A], system="Be brief.")
    assert text(char_tok, prompt) == "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nhi [/INST]"
    assert text(char_tok, response) == "yo</s>"
    # only the first user turn carries the system text
    pairs = t.encode_multiturn(char_tok, [U, A, U, A], system="S")
    assert "SYS" not in text(char_tok, pairs[1][0])


def test_special_token_slots_are_single_ids(char_tok):
    t = get_template("chatglm3")
    prompt, response = t.encode_oneturn(char_tok, [U, A], system="S")
    ids = char_tok.specials
    assert prompt[:3] == [ids["[gMASK]"], ids["sop"], ids["<|system|>"]]
    assert prompt[-1] == ids["<|assistant|>"]
    assert text(char_tok, response) == "\nyo"  # efficient_eos: no EOS per turn


def test_missing_bos_is_skipped(char_tok):
    char_tok.bos_token = None
    prompt, _ = get_template("llama3").encode_oneturn(char_tok, [U, A])
    assert text(char_tok, prompt).startswith("<|start_header_id|>user")


def test_idx_placeholder_and_custom_registration(char_tok):
    register_template("test_rounds", format_user=["[Round {{idx}}] Q: {{content}} A:"],
                      format_assistant=["{{content}}", EOS], overwrite=True)
    t = get_template("test_rounds")
    pairs = t.encode_multiturn(char_tok, [U, A, U, A])
    assert text(char_tok, pairs[1][0]) == "[Round 1] Q: hi A:"
    del TEMPLATES["test_rounds"]


@pytest.mark.parametrize("messages", [
    [A, U],
    [U, U],
    [{"role": "system", "content": "x"}, U],
    [{"role": "user", "content": 3}, A],
])
def test_bad_role_order_is_a_value_error(char_tok, messages):
    with pytest.raises(ValueError):
        get_template("chatml").encode_oneturn(char_tok, messages)


def test_function_and_observation_turns(char_tok):
    t = get_template("qwen")
    msgs = [U, {"role": "function", "content": '{"name": "add", "arguments": {"a": 1}}'},
            {"role": "observation", "content": "2"}, A]
    pairs = t.encode_multiturn(char_tok, msgs, system="S")
    assert text(char_tok, pairs[0][1]) == '<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call><|im_end|>\n'
    assert text(char_tok, pairs[1][0]) == (
        "<|im_start|>user\n<tool_response>\n2\n</tool_response><|im_end|>\n<|im_start|>assistant\n")


def test_invalid_function_json_names_the_problem(char_tok):
    with pytest.raises(ValueError, match="Invalid JSON format in function message"):
        get_template("qwen").encode_oneturn(char_tok, [U, {"role": "function", "content": "{not json"}])


def test_stop_token_ids(smollm2_tokenizer):
    t = get_template("chatml")
    ids = t.get_stop_token_ids(smollm2_tokenizer)
    assert smollm2_tokenizer.convert_tokens_to_ids("<|im_end|>") in ids
    assert smollm2_tokenizer.convert_tokens_to_ids("<|im_start|>") in ids
