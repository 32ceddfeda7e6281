"""Tool-call formats: schema rendering, call rendering, and extraction as the inverse (round trips)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ft_templates import TOOL_FORMATS, FunctionCall, get_template, get_tool_format

SCHEMA = {"name": "get_weather", "description": "Weather now.",
          "parameters": {"type": "object", "properties": {
              "city": {"type": "string", "description": "City"},
              "unit": {"type": "string", "enum": ["c", "f"]},
              "days": {"type": "array", "items": {"type": "integer"}}}, "required": ["city"]}}

names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
scalars = st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.text(max_size=12), st.none(),
                    st.floats(allow_nan=False, allow_infinity=False, width=32))
args = st.dictionaries(names, st.one_of(scalars, st.lists(scalars, max_size=3)), max_size=4)
calls = st.lists(st.builds(lambda n, a: FunctionCall(n, json.dumps(a, ensure_ascii=False)), names, args),
                 min_size=1, max_size=3)


def test_the_five_formats_are_registered():
    assert {"default", "qwen", "llama3", "mistral", "glm4"} <= set(TOOL_FORMATS)
    with pytest.raises(ValueError, match="unknown tool format"):
        get_tool_format("nope")


@pytest.mark.parametrize("name", sorted(TOOL_FORMATS))
@settings(max_examples=25, deadline=None)
@given(calls=calls)
def test_extract_inverts_render_calls(name, calls):
    fmt = get_tool_format(name)
    if not fmt.supports_parallel:
        calls = calls[:1]
    assert fmt.extract(fmt.render_calls(calls)) == calls


@pytest.mark.parametrize("name", sorted(TOOL_FORMATS))
def test_plain_text_is_not_a_call(name):
    assert get_tool_format(name).extract("The weather is nice.") == "The weather is nice."


def test_default_format_lists_tools_react_style():
    text = get_tool_format("default").render_tools([SCHEMA])
    assert "> Tool Name: get_weather\nTool Description: Weather now.\nTool Args:\n" in text
    assert "  - city (string, required): City\n" in text
    assert "  - unit (string): , should be one of [c, f]\n" in text
    assert "  - days (array): , where each item should be integer\n" in text
    assert "Action: tool name (one of [get_weather])" in text


def test_qwen_schema_lines_and_calls():
    fmt = get_tool_format("qwen")
    assert '<tools>\n{"type": "function", "function": {"name": "get_weather"' in fmt.render_tools([SCHEMA])
    two = [FunctionCall("a", '{"x": 1}'), FunctionCall("b", "{}")]
    assert fmt.render_calls(two) == ('<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n'
                                     '<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>')


def test_llama3_single_and_parallel_calls():
    fmt = get_tool_format("llama3")
    assert fmt.render_calls([FunctionCall("a", '{"x": 1}')]) == '{"name": "a", "parameters": {"x": 1}}'
    assert fmt.render_calls([FunctionCall("a", "{}")] * 2).startswith("[{")
    assert "Today Date: 26 Jul 2024" in fmt.render_tools([SCHEMA])
    assert '    "type": "function",' in fmt.render_tools([SCHEMA])  # indented JSON


def test_mistral_and_glm4():
    m = get_tool_format("mistral")
    assert m.render_tools([SCHEMA]).startswith('[AVAILABLE_TOOLS] [{"type": "function"')
    assert m.extract('[TOOL_CALLS] [{"name": "a", "arguments": {}}]') == [FunctionCall("a", "{}")]
    g = get_tool_format("glm4")
    assert g.render_calls([FunctionCall("a", '{"x": 1}')]) == 'a\n{"x": 1}'
    with pytest.raises(ValueError, match="parallel"):
        g.render_calls([FunctionCall("a", "{}")] * 2)
    assert "## get_weather" in g.render_tools([SCHEMA])


def test_template_extracts_with_its_format():
    assert get_template("qwen").extract_tool_calls('<tool_call>\n{"name": "f", "arguments": {"q": "x"}}\n</tool_call>') \
        == [FunctionCall("f", '{"q": "x"}')]
    assert get_template("llama3").extract_tool_calls('{"name": "f", "parameters": {}}') == [FunctionCall("f", "{}")]


def test_function_turn_with_thought_and_leading_text(char_tok):
    t = get_template("qwen3")
    msg = {"role": "function", "content": '<think>\nneed weather\n</think>\n\n{"name": "f", "arguments": {}}'}
    _, response = t.encode_oneturn(char_tok, [{"role": "user", "content": "q"}, msg])
    assert char_tok.decode(response) == (
        '<think>\nneed weather\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call><|im_end|>\n')
    msg = {"role": "function", "content": 'Let me check.<tool_call>{"name": "f", "arguments": {}}</tool_call>'}
    _, response = t.with_options(thinking="off").encode_oneturn(char_tok, [{"role": "user", "content": "q"}, msg])
    assert char_tok.decode(response).startswith('Let me check.<tool_call>\n{"name": "f"')


def test_tool_format_override_changes_schema_and_calls(char_tok):
    t = get_template("chatml").with_options(tool_format="qwen")
    assert t.tool_format == "qwen"
    prompt, _ = t.encode_oneturn(char_tok, [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                                 tools=json.dumps([SCHEMA]))
    assert "# Tools" in char_tok.decode(prompt)
