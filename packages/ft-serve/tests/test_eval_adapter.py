"""The lm-eval model ``ft`` (``FtLM``) against lm-eval's own ``hf`` model on the same checkpoint:
the same log-likelihoods, greedy flags, rolling log-likelihoods (several windows) and greedy
texts, for the base and for a LoRA adapter served unmerged beside it; chat prompts are the
template's ids."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from lm_eval.api.instance import Instance

from ft_serve.evaluation import FtLM

CONTEXTS = ["The capital of France is", "Calculate 17 + 74.\nAnswer:", "Once upon a time, there"]
CONTINUATIONS = [" Paris", " 91", " was a princess who lived in a castle"]


@pytest.fixture(scope="module")
def lora_dir(tiny_llama_path, tmp_path_factory):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama_path),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    out = tmp_path_factory.mktemp("eval-lora") / "lora"
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def ft_engine(tiny_llama_path, lora_dir):
    """One engine: the tiny base with the adapter attached unmerged (as ft eval loads them)."""
    from ft_serve import build_engine, load_serve_config

    engine = build_engine(load_serve_config(None, [f"model_name_or_path={tiny_llama_path}", "template=smollm2",
                                                   f"adapter_name_or_path=lora={lora_dir}", "max_model_len=64"]))
    engine.load()
    yield engine
    engine.shutdown()


def _ll_requests() -> list[Instance]:
    pairs = [(c, x) for c in CONTEXTS for x in CONTINUATIONS] + [("", " Paris is big")]
    return [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]


def _hf(tiny_llama_path, **kwargs):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=str(tiny_llama_path), device="cpu", batch_size=4, max_length=64, **kwargs)


@pytest.mark.parametrize("which", ["base", "adapter"])
def test_loglikelihoods_and_greedy_text_equal_the_harness_hf_model(which, ft_engine, tiny_llama_path, lora_dir):
    ft = FtLM(engine=ft_engine, adapter="" if which == "base" else "lora", batch_size=3)
    hf = _hf(tiny_llama_path, **({"peft": str(lora_dir)} if which == "adapter" else {}))
    ours, theirs = ft.loglikelihood(_ll_requests()), hf.loglikelihood(_ll_requests())
    assert [g for _, g in ours] == [g for _, g in theirs]
    assert [lp for lp, _ in ours] == pytest.approx([lp for lp, _ in theirs], abs=1e-4)
    # 200+ tokens in a 64-token context: several rolling windows, each token predicted once
    texts = ["hello world " * 60, "short text"]
    rolling = [Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(texts)]
    assert ft.loglikelihood_rolling(rolling) == pytest.approx(hf.loglikelihood_rolling(rolling), abs=1e-3)
    gen = [Instance("generate_until", {}, (c, {"until": ["\n\n"], "max_gen_toks": 12, "do_sample": False}), i)
           for i, c in enumerate(CONTEXTS)]
    assert ft.generate_until(gen) == hf.generate_until(gen)


def test_adapter_changes_the_scores_and_the_base_stays_itself(ft_engine):
    base = FtLM(engine=ft_engine, adapter="").loglikelihood(_ll_requests())
    lora = FtLM(engine=ft_engine).loglikelihood(_ll_requests())  # default: the only adapter
    assert base != lora
    assert FtLM(engine=ft_engine, adapter="").loglikelihood(_ll_requests()) == base  # adapters re-enabled after


def test_chat_prompts_are_the_templates_ids_and_stop_strings_cut(ft_engine):
    from ft_serve import chat_prompt_ids

    ft = FtLM(engine=ft_engine, adapter="")
    messages = [{"role": "user", "content": "What is 2+2?"}]
    text = ft.apply_chat_template(messages)
    assert ft.tok_encode(text) == chat_prompt_ids(ft_engine.template, ft_engine.tokenizer, messages)
    # a gen_prefix (final assistant message) is continued, not closed
    prefixed = ft.apply_chat_template([*messages, {"role": "assistant", "content": "The answer is"}],
                                      add_generation_prompt=False)
    assert ft.tok_encode(prefixed)[:len(ft.tok_encode(text))] == ft.tok_encode(text)
    assert prefixed.endswith("The answer is")
    ctx, cont = ft._encode_pair(text, "4")
    assert ctx == ft.tok_encode(text) and cont == ft_engine.tokenizer.encode("4", add_special_tokens=False)
    free = ft.generate_until([Instance("generate_until", {}, (CONTEXTS[0], {"until": [], "max_gen_toks": 10}), 0)])[0]
    stop = free.strip()[:5]  # the tiny random model repeats itself: ' is is is ...'
    cut = ft.generate_until([Instance("generate_until", {}, (CONTEXTS[0], {"until": [stop], "max_gen_toks": 10}), 0)])[0]
    assert cut == free[:free.index(stop)] and len(cut) < len(free)


def test_bad_model_args_are_one_line_config_errors(ft_engine, tiny_llama_path):
    from ft_core import ConfigError, UnsupportedError

    with pytest.raises(ConfigError, match="not served"):
        FtLM(engine=ft_engine, adapter="nope")
    with pytest.raises(ConfigError, match="temprature"):
        FtLM(model_name_or_path=str(tiny_llama_path), temprature=0.3)
    ft = FtLM(engine=ft_engine, adapter="")
    with pytest.raises(UnsupportedError, match="num_beams"):
        ft.generate_until([Instance("generate_until", {}, ("Hi", {"until": [], "num_beams": 4}), 0)])
