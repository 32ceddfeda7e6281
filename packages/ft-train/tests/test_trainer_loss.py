"""The label-only, chunked loss of FtTrainer equals the model's own loss, value and gradients."""

from __future__ import annotations

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from ft_train.loss import linear_cross_entropy
from ft_train.trainer import FtTrainer, _causal_lm_parts, build_training_arguments


def test_label_only_loss_matches_model_loss(tiny_llama_path, tmp_path):
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama_path),
                           LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    assert _causal_lm_parts(model) is not None
    args = build_training_arguments({"output_dir": str(tmp_path), "report_to": "none"})
    trainer = FtTrainer(model=model, args=args)
    ids = torch.randint(0, 1000, (3, 12))
    mask = torch.ones_like(ids)
    mask[2, 9:] = 0
    labels = ids.clone()
    labels[:, :5] = -100
    labels[mask == 0] = -100
    inputs = {"input_ids": ids, "attention_mask": mask, "labels": labels}

    ours = trainer.compute_loss(trainer.model, dict(inputs))
    ours.backward()
    ours_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    reference = model(**inputs).loss
    reference.backward()
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    for name, param in model.named_parameters():
        if param.requires_grad:
            torch.testing.assert_close(ours_grads[name], param.grad, rtol=1e-4, atol=1e-6, msg=name)

    count = (labels[:, 1:] != -100).sum()
    scaled = trainer.compute_loss(trainer.model, dict(inputs), num_items_in_batch=count * 2)
    torch.testing.assert_close(scaled, reference / 2, rtol=1e-5, atol=1e-6)


def _reference(hidden, weight, bias, targets):
    return torch.nn.functional.cross_entropy(torch.nn.functional.linear(hidden, weight, bias), targets,
                                             reduction="sum")


def test_chunked_linear_cross_entropy_equals_plain_expression():
    torch.manual_seed(1)
    for bias_on in (False, True):
        hidden = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
        weight = torch.randn(50, 16, dtype=torch.float64, requires_grad=True)
        bias = torch.randn(50, dtype=torch.float64, requires_grad=True) if bias_on else None
        targets = torch.randint(0, 50, (37,))
        inputs = [t for t in (hidden, weight, bias) if t is not None]
        expected = _reference(hidden, weight, bias, targets)
        expected_grads = torch.autograd.grad(expected * 0.5, inputs)
        for chunk_rows in (1, 5, 37, 100):  # 5 does not divide 37: a short last chunk
            ours = linear_cross_entropy(hidden, weight, bias, targets, chunk_rows=chunk_rows)
            grads = torch.autograd.grad(ours * 0.5, inputs)
            torch.testing.assert_close(ours, expected)
            for got, want in zip(grads, expected_grads, strict=True):
                torch.testing.assert_close(got, want)


def test_chunked_loss_grads_only_where_asked_and_keeps_dtypes():
    torch.manual_seed(2)
    hidden = torch.randn(9, 8, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(20, 8, dtype=torch.bfloat16)  # frozen head, as under LoRA
    targets = torch.randint(0, 20, (9,))
    loss = linear_cross_entropy(hidden, weight, None, targets, chunk_rows=4)
    assert loss.dtype == torch.float32  # the sum is accumulated in float32 even for bf16 inputs
    loss.backward()
    assert hidden.grad.dtype == torch.bfloat16 and weight.grad is None
    reference_hidden = hidden.detach().float().requires_grad_()
    _reference(reference_hidden, weight.float(), None, targets).backward()
    torch.testing.assert_close(hidden.grad.float(), reference_hidden.grad, rtol=2e-2, atol=2e-2)
    with torch.no_grad():  # evaluation: the value only
        torch.testing.assert_close(linear_cross_entropy(hidden, weight, None, targets), loss.detach())


def test_full_finetuning_loss_and_head_gradient_match_model(tiny_llama_path, tmp_path):
    torch.manual_seed(3)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_path)
    args = build_training_arguments({"output_dir": str(tmp_path), "report_to": "none"})
    trainer = FtTrainer(model=model, args=args)
    ids = torch.randint(0, 1000, (2, 10))
    labels = ids.clone()
    labels[:, :4] = -100
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    ours = trainer.compute_loss(model, dict(inputs))
    ours.backward()
    ours_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    reference = model(**inputs).loss
    reference.backward()
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    for name, param in model.named_parameters():  # includes the (tied) output head
        torch.testing.assert_close(ours_grads[name], param.grad, rtol=1e-4, atol=1e-6, msg=name)
