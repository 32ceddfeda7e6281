"""The label-only loss of FtTrainer equals the model's own loss, value and gradients."""

from __future__ import annotations

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

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
