"""The ft-templates CLI: list, show, render, check (exit codes and output)."""

from __future__ import annotations

import json

import pytest

from ft_templates.cli import cli


@pytest.fixture(scope="module")
def tok_dir(smollm2_tokenizer, tmp_path_factory):
    path = tmp_path_factory.mktemp("tok")
    smollm2_tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture
def conv(tmp_path):
    path = tmp_path / "conv.json"
    path.write_text(json.dumps({"system": "Be brief.", "messages": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}))
    return str(path)


def test_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "smollm2" in out and "qwen3" in out
    assert cli.main(["list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) >= 40


def test_show_and_jinja(capsys):
    assert cli.main(["show", "llama3"]) == 0
    assert json.loads(capsys.readouterr().out)["tool_format"] == "llama3"
    assert cli.main(["show", "qwen3", "--jinja", "--thinking", "off"]) == 0
    assert "<think>" in capsys.readouterr().out


def test_unknown_template_is_bad_input(capsys):
    assert cli.main(["show", "qwen33"]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_render_marks_trained_spans(capsys, conv, tok_dir):
    assert cli.main(["render", "smollm2", conv]) == 0
    out = capsys.readouterr().out
    assert "<|im_start|>assistant\n⟦Hello<|im_end|>\n⟧" in out
    assert cli.main(["render", "smollm2", conv, "--tokenizer", tok_dir, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["target"] == "Hello<|im_end|>\n" and rows[0]["target_ids"][-2:] == [2, 198]


def test_render_openai_messages(capsys, tmp_path):
    path = tmp_path / "oa.json"
    path.write_text(json.dumps([{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"},
                                {"role": "assistant", "tool_calls": [{"type": "function", "function": {
                                    "name": "f", "arguments": "{\"a\": 1}"}}]},
                                {"role": "tool", "content": "ok"}, {"role": "assistant", "content": "done"}]))
    assert cli.main(["render", "qwen", str(path)]) == 0
    out = capsys.readouterr().out
    assert '⟦<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call><|im_end|>\n⟧' in out


@pytest.mark.parametrize("content,message", [("{not json", "not valid JSON"), ('{"x": 1}', "expected a list"),
                                             ('[{"role": "assistant", "content": "x"}]', "role")])
def test_render_bad_file_is_bad_input(capsys, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert cli.main(["render", "chatml", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_check_names_smollm2(capsys, tok_dir):
    assert cli.main(["check", "smollm2", "--tokenizer", tok_dir]) == 0
    out = capsys.readouterr().out
    assert "10/10 cases match" in out and "templates that fit: smollm2" in out
    assert cli.main(["check", "chatml", "--tokenizer", tok_dir]) == 1
    out = capsys.readouterr().out
    assert "DIFF" in out and "templates that fit: smollm2" in out


def test_check_needs_a_tokenizer(capsys, tmp_path):
    assert cli.main(["check", "smollm2", "--tokenizer", str(tmp_path / "missing")]) == 2


def test_render_prompt_has_no_target(capsys, tmp_path, tok_dir):
    path = tmp_path / "prompt.json"
    path.write_text(json.dumps([{"role": "user", "content": "Hi"}]))
    assert cli.main(["render", "chatml", str(path), "--tokenizer", tok_dir, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[-1]["target"] == "" and rows[-1]["target_ids"] == []
    assert rows[-1]["source"].endswith("<|im_start|>assistant\n")
