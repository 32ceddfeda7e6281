"""Collators: padding, block-diagonal masks, the varlen path, pairwise order, KTO, generation."""

from __future__ import annotations

import torch

from ft_data import make_collator
from ft_data.collators import block_diagonal_mask


class Tok:
    pad_token_id, eos_token_id = 0, 2


def test_block_diagonal_mask_example():
    mask = block_diagonal_mask(torch.tensor([[1, 1, 2, 2, 2, 0]]))[0, 0]
    allowed = (mask == 0).int().tolist()
    assert allowed == [[1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 1, 1, 0, 0],
                       [0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0]]
    assert mask[5, 5] == torch.finfo(torch.float32).min


def test_sft_padding_and_multiple():
    batch = make_collator("sft", Tok(), pad_to_multiple_of=4)([
        {"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [-100, 6, 7]},
        {"input_ids": [5], "attention_mask": [1], "labels": [5]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 0], [5, 0, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7, -100], [5, -100, -100, -100]]


def test_neat_packing_paths():
    rows = [{"input_ids": [5, 6, 7], "attention_mask": [1, 1, 2], "labels": [5, 6, 7], "position_ids": [0, 1, 0]},
            {"input_ids": [8, 9], "attention_mask": [1, 1], "labels": [8, 9], "position_ids": [0, 1]}]
    sdpa = make_collator("sft", Tok(), neat_packing=True)(rows)
    assert sdpa["attention_mask"].shape == (2, 1, 3, 3)
    assert sdpa["position_ids"].tolist() == [[0, 1, 0], [0, 1, 0]]
    fa2 = make_collator("sft", Tok(), neat_packing=True, attn_implementation="flash_attention_2")(rows)
    assert "attention_mask" not in fa2
    assert fa2["input_ids"].tolist() == [[5, 6, 7, 8, 9]] and fa2["position_ids"].tolist() == [[0, 1, 0, 0, 1]]


def test_pairwise_chosen_first_then_rejected():
    rows = [{"chosen_input_ids": [1, 2], "chosen_labels": [-100, 2], "rejected_input_ids": [1, 3, 3],
             "rejected_labels": [-100, 3, 3]},
            {"chosen_input_ids": [4], "chosen_labels": [4], "rejected_input_ids": [5], "rejected_labels": [5]}]
    batch = make_collator("dpo", Tok())(rows)
    assert batch["input_ids"].tolist() == [[1, 2, 0], [4, 0, 0], [1, 3, 3], [5, 0, 0]]


def test_kto_and_generation():
    rows = [{"input_ids": [1, 2], "labels": [-100, 2], "kl_input_ids": [1, 3, 4], "kl_labels": [-100, 3, 4],
             "kto_tags": True},
            {"input_ids": [5], "labels": [5], "kl_input_ids": [6], "kl_labels": [6], "kto_tags": False}]
    batch = make_collator("kto", Tok())(rows)
    assert batch["input_ids"].shape == (2, 2) and batch["kl_input_ids"].shape == (2, 3)
    assert batch["kto_tags"].tolist() == [True, False]
    gen = make_collator("ppo", Tok())([{"input_ids": [1, 2, 3], "labels": [9]}, {"input_ids": [4], "labels": [8, 7]}])
    assert gen["input_ids"].tolist() == [[1, 2, 3], [0, 0, 4]] and gen["attention_mask"].tolist()[1] == [0, 0, 1]
    assert gen["labels"].tolist() == [[9, -100], [8, 7]]
