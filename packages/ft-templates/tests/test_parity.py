"""Parity: registered templates render what the families' own Jinja chat templates render.

The Jinja sources are committed in tests/assets/ (origins in tests/assets/README.md). Text is
compared for every family; token ids too where the real tokenizer is at hand (SmolLM2).
Documented differences (docs/ft-templates.md, "Differences from the families' templates") are
asserted as what they are, so a change in either direction is noticed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ft_templates import get_template
from ft_templates.auto import template_from_tokenizer
from ft_templates.check import CORPUS, compare, first_difference

ASSETS = Path(__file__).parent / "assets"

# asset -> template, the family's special tokens, cases the family's Jinja cannot render, and the
# suffix the family's Jinja appends to a finished conversation (a documented difference).
FAMILIES = {
    "smollm2": {"template": "smollm2", "bos": "<|im_start|>", "eos": "<|im_end|>"},
    "qwen3": {"template": "qwen3", "bos": None, "eos": "<|im_end|>"},
    "llama3": {"template": "llama3", "bos": "<|begin_of_text|>", "eos": "<|end_of_text|>",
               "full_suffix": "<|start_header_id|>assistant<|end_header_id|>\n\n"},
    "gemma3": {"template": "gemma3", "bos": "<bos>", "eos": "<end_of_turn>"},
    "gemma2": {"template": "gemma", "bos": "<bos>", "eos": "<eos>", "skip": {"system"}},
    "deepseek3": {"template": "deepseek3", "bos": "<｜begin▁of▁sentence｜>", "eos": "<｜end▁of▁sentence｜>"},
    "phi": {"template": "phi", "bos": "<s>", "eos": "<|endoftext|>", "full_suffix": "<|endoftext|>"},
    "phi4": {"template": "phi4", "bos": "<|endoftext|>", "eos": "<|im_end|>"},
    "chatml": {"template": "chatml", "bos": "<s>", "eos": "<|im_end|>"},
    "cohere": {"template": "cohere", "bos": "<BOS_TOKEN>", "eos": "<|END_OF_TURN_TOKEN|>"},
    "orion": {"template": "orion", "bos": "<s>", "eos": "</s>", "skip": {"system"}},
    # GLM-4's template reads tools from the system message, not from `tools`; its generation
    # prompt ends with "\n", which LLaMA-Factory's glm4 puts at the start of the answer instead
    "glm4": {"template": "glm4", "bos": None, "eos": "<|endoftext|>", "skip": {"tools"}, "prompt_suffix": "\n"},
    "granite3": {"template": "granite3", "bos": "<|end_of_text|>", "eos": "<|end_of_text|>", "skip": {"tools"}},
    # Mistral v7: the system prompt is a [SYSTEM_PROMPT] block; `mistral` folds it into the first turn
    "mistral": {"template": "mistral", "bos": "<s>", "eos": "</s>", "skip": {"system"}},
}


def _cases(asset: str):
    spec, source = FAMILIES[asset], (ASSETS / f"{asset}.jinja").read_text()
    cases = [c for c in CORPUS if "tools" not in c.tags or "tools" in source]
    return [c for c in cases if not (c.tags & spec.get("skip", set()))]


def _check(results, spec, cases):
    by_name = {c.name: c for c in cases}
    for r in results:
        assert r.error is None, f"{r.name}: {r.error}"
        prompt = by_name[r.name].prompt
        expected = r.ours + (spec.get("prompt_suffix", "") if prompt else spec.get("full_suffix", ""))
        assert expected == r.theirs, f"{r.name}: {first_difference(expected, r.theirs)}"


@pytest.mark.parametrize("asset", sorted(FAMILIES))
def test_text_parity(asset, smollm2_tokenizer):
    spec = FAMILIES[asset]
    cases = _cases(asset)
    results = compare(get_template(spec["template"]), smollm2_tokenizer, cases,
                      chat_template=(ASSETS / f"{asset}.jinja").read_text(),
                      bos_token=spec["bos"], eos_token=spec["eos"])
    assert len(results) >= 6
    _check(results, spec, cases)


def test_smollm2_ids_parity(smollm2_tokenizer):
    results = compare(get_template("smollm2"), smollm2_tokenizer, ids=True)
    assert [r.name for r in results if not r.ok] == []
    assert all(r.ids_equal for r in results)


def test_qwen3_tools_are_in_the_corpus():
    names = {c.name for c in _cases("qwen3")}
    assert {"tool_call", "tool_call_parallel", "tool_prompt", "reasoning_history"} <= names


def test_qwen3_thinking_off_matches_enable_thinking_false(smollm2_tokenizer):
    prompts = [c for c in CORPUS if c.prompt]
    results = compare(get_template("qwen3").with_options(thinking="off"), smollm2_tokenizer, prompts,
                      chat_template=(ASSETS / "qwen3.jinja").read_text(), enable_thinking=False)
    assert [r.name for r in results if not r.ok] == []
    assert all(r.ours.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n") for r in results)


@pytest.mark.parametrize("asset", sorted(FAMILIES))
def test_auto_template_recovers_the_family(asset, smollm2_tokenizer):
    spec = FAMILIES[asset]
    source = (ASSETS / f"{asset}.jinja").read_text()
    saved = smollm2_tokenizer.chat_template
    try:
        smollm2_tokenizer.chat_template = source
        derived = template_from_tokenizer(smollm2_tokenizer)
    finally:
        smollm2_tokenizer.chat_template = saved
    cases = [c for c in _cases(asset) if "tools" not in c.tags]
    results = compare(derived, smollm2_tokenizer, cases, chat_template=source,
                      bos_token=spec["bos"], eos_token=spec["eos"])
    # the derived template reproduces the family's generation prompt itself (no prompt_suffix)
    _check(results, {k: v for k, v in spec.items() if k != "prompt_suffix"}, cases)
    assert derived.reasoning == (asset == "qwen3")
