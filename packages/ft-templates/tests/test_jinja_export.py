"""Jinja export: a tokenizer carrying ``template.to_jinja()`` renders exactly what the template does."""

from __future__ import annotations

import pytest

from ft_templates import TEMPLATES, get_template
from ft_templates.check import CORPUS, compare

get_template("empty")  # registers the built-ins before parametrizing
NAMES = sorted(TEMPLATES)


def _variants(name):
    t = get_template(name)
    if not t.reasoning:
        return [t]
    return [t.with_options(thinking=p, preserve_thinking=k) for p in ("on", "off", "mixed") for k in (False, True)]


@pytest.mark.parametrize("name", NAMES)
def test_exported_jinja_renders_like_the_template(name, smollm2_tokenizer):
    for template in _variants(name):
        cases = [c for c in CORPUS if not ("parallel" in c.tags and template.tool_format == "glm4")]
        results = compare(template, smollm2_tokenizer, cases, chat_template=template.to_jinja())
        bad = [(r.name, r.error or r.ours, r.theirs) for r in results if not r.ok]
        assert bad == [], f"{name} ({template.thinking_policy}, preserve={template.preserve_thinking})"


def test_saved_tokenizer_carries_the_training_template(tmp_path, smollm2_tokenizer):
    from transformers import AutoTokenizer

    template = get_template("llama3")
    saved = smollm2_tokenizer.chat_template
    try:
        smollm2_tokenizer.chat_template = template.to_jinja()
        smollm2_tokenizer.save_pretrained(tmp_path)
    finally:
        smollm2_tokenizer.chat_template = saved
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    case = next(c for c in CORPUS if c.name == "multi_system")
    msgs = [{"role": "system", "content": case.system}, *case.messages]
    text = reloaded.apply_chat_template(msgs, tokenize=False)
    assert text == template.render(case.messages, case.system, tokenizer=reloaded)
    assert text.startswith(reloaded.bos_token + "<|start_header_id|>system<|end_header_id|>\n\nAnswer briefly.")


def test_glm4_parallel_calls_raise_in_jinja(smollm2_tokenizer):
    case = next(c for c in CORPUS if c.name == "tool_call_parallel")
    results = compare(get_template("glm4"), smollm2_tokenizer, [case], chat_template=get_template("glm4").to_jinja())
    assert "parallel" in (results[0].error or "")
