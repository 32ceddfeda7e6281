"""predict_with_generate and the quickstart's accuracy generate through ft-models' core: the
answers are HF's greedy ones, of the model with the LoRA being trained, cut at the template's stop ids."""

from __future__ import annotations

import json

import pytest
import torch

from ft_train import TrainConfig
from ft_train.data import split_prompt_label
from ft_train.modeling import load_tokenizer_and_template, load_trainable_model
from ft_train.quickstart import Verifier, accuracy, encode_prompts
from ft_train.workflow import predict_with_generate

QUESTIONS = [{"instruction": f"What is {a} plus {b}?", "input": "", "answer": str(a + b)}
             for a, b in [(1, 2), (3, 4), (9, 9), (0, 7), (5, 5), (8, 1), (2, 6)]]
QUESTIONS[3]["input"] = "Answer with one number, please, and nothing else at all."  # a longer prompt


@pytest.fixture
def lora_model(tiny_config):
    """The tiny Llama with a trainable LoRA whose B matrices are random (a fresh LoRA is the identity)."""
    cfg = TrainConfig(**tiny_config)
    tokenizer, template = load_tokenizer_and_template(cfg)
    model = load_trainable_model(cfg)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.3)
    return model, tokenizer, template


def hf_answers(model, tokenizer, template, prompts, **limits):
    """The answers the old ``model.generate`` loop gave: greedy, stopped at the template's ids, stripped."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for p in prompts:
            ids = torch.tensor([p])
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 eos_token_id=template.get_stop_token_ids(tokenizer),
                                 pad_token_id=tokenizer.pad_token_id, **limits)
            out.append(tokenizer.decode(gen[0, len(p):], skip_special_tokens=True).strip())
    finally:
        model.train(was_training)
    return out


def _sft_rows(tokenizer, template):
    rows = []
    for q, prompt in zip(QUESTIONS, encode_prompts(QUESTIONS, tokenizer, template), strict=True):
        answer = tokenizer.encode(q["answer"]) + template.get_stop_token_ids(tokenizer)[:1]
        rows.append({"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer})
    return rows


def test_split_prompt_label():
    assert split_prompt_label([5, 6, 7, 8], [-100, -100, 7, 8]) == ([5, 6], [7, 8])
    assert split_prompt_label([5, 6], [-100, -100]) == ([5, 6], [])


def test_predict_with_generate_writes_the_trained_models_greedy_answers(lora_model, tiny_config, tmp_path):
    model, tokenizer, template = lora_model
    cfg = TrainConfig(**{**tiny_config, "do_sample": False, "max_new_tokens": 6, "per_device_eval_batch_size": 3})
    rows = _sft_rows(tokenizer, template)
    prompts = [split_prompt_label(r["input_ids"], r["labels"])[0] for r in rows]
    assert model.training
    metrics = predict_with_generate(cfg, model, tokenizer, template, rows, tmp_path)
    assert model.training  # put back the way it was
    written = [json.loads(line) for line in (tmp_path / "generated_predictions.jsonl").read_text().splitlines()]
    expected = hf_answers(model, tokenizer, template, prompts, max_new_tokens=6)
    assert [w["predict"] for w in written] == expected
    assert [w["label"] for w in written] == [q["answer"] for q in QUESTIONS]
    assert [w["prompt"] for w in written] == [tokenizer.decode(p, skip_special_tokens=False) for p in prompts]
    assert set(metrics) == {"predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l"}
    with model.disable_adapter():
        base = hf_answers(model, tokenizer, template, prompts, max_new_tokens=6)
    assert base != expected  # so the equality above shows the LoRA was used


def test_predict_with_generate_max_length_counts_the_prompt(lora_model, tiny_config, tmp_path):
    model, tokenizer, template = lora_model
    rows = _sft_rows(tokenizer, template)
    prompts = [split_prompt_label(r["input_ids"], r["labels"])[0] for r in rows]
    limit = max(len(p) for p in prompts) + 2
    cfg = TrainConfig(**{**tiny_config, "do_sample": False, "max_new_tokens": 0, "generation_max_length": limit})
    predict_with_generate(cfg, model, tokenizer, template, rows, tmp_path)
    written = [json.loads(line)["predict"] for line in (tmp_path / "generated_predictions.jsonl").read_text().splitlines()]
    assert written == hf_answers(model, tokenizer, template, prompts, max_length=limit)


def test_quickstart_accuracy_is_greedy_and_checks_answers(lora_model, tiny_config):
    model, tokenizer, template = lora_model
    # sampling keys on: the accuracy check is greedy anyway
    cfg = TrainConfig(**{**tiny_config, "do_sample": True, "temperature": 1.0, "max_new_tokens": 4,
                         "per_device_eval_batch_size": 2})
    prompts = encode_prompts(QUESTIONS, tokenizer, template)
    expected = hf_answers(model, tokenizer, template, prompts, max_new_tokens=4)
    # the first three rows are answered "right" by construction, the others are not
    rows = [{**q, "answer": expected[i] if i < 3 else expected[i] + " wrong"} for i, q in enumerate(QUESTIONS)]
    correct, preds = accuracy(model, tokenizer, template, prompts, rows, Verifier(), cfg)
    assert preds == expected
    assert correct == [True, True, True, False, False, False, False]  # rows without rg_* fields: exact match
