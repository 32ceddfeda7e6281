"""Stage processors: truncation rule, SFT labels, packing, pairwise, KTO, pretrain, unsupervised."""

from __future__ import annotations

import itertools

import pytest

from ft_data import DataArgs, infer_seqlen
from ft_data.processors import IGNORE_INDEX, PROCESSORS, Ctx, encode_pairs, greedy_knapsack

U = lambda c: {"role": "user", "content": c}  # noqa: E731
A = lambda c: {"role": "assistant", "content": c}  # noqa: E731


def row(*messages, system=None, tools=None, **extra):
    return {"messages": list(messages), "system": system, "tools": tools, "chosen": None, "rejected": None,
            "kto_tag": None, **extra}


@pytest.mark.parametrize("source,target,cutoff,expected", [
    (3000, 2000, 1000, (600, 400)), (2000, 3000, 1000, (400, 600)), (1000, 100, 1000, (900, 100)),
    (100, 1000, 1000, (100, 900)), (100, 500, 1000, (100, 500)), (500, 100, 1000, (500, 100)),
    (10, 10, 1000, (10, 10)),
])
def test_infer_seqlen_vectors(source, target, cutoff, expected):
    assert infer_seqlen(source, target, cutoff) == expected


def test_encode_pairs_rules():
    pairs = [([1, 2], [3, 4]), ([5, 6], [7, 8])]
    kw = dict(cutoff_len=100, efficient_eos=False, eos_id=0)
    assert encode_pairs(pairs, train_on_prompt=False, mask_history=False, **kw) == (
        [1, 2, 3, 4, 5, 6, 7, 8], [-100, -100, 3, 4, -100, -100, 7, 8])
    assert encode_pairs(pairs, train_on_prompt=True, mask_history=False, **kw)[1] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert encode_pairs(pairs, train_on_prompt=False, mask_history=True, **kw) == (
        [1, 2, 3, 4, 5, 6, 7, 8], [-100] * 6 + [7, 8])
    # efficient_eos: later sources start with an EOS label, one EOS closes the sequence
    ids, labels = encode_pairs(pairs, train_on_prompt=False, mask_history=False, cutoff_len=100,
                               efficient_eos=True, eos_id=9)
    assert ids == [1, 2, 3, 4, 5, 6, 7, 8, 9] and labels == [-100, -100, 3, 4, 9, -100, 7, 8, 9]
    # cutoff: the first turn uses the budget, the second is dropped
    assert encode_pairs(pairs, train_on_prompt=False, mask_history=False, cutoff_len=4, efficient_eos=False,
                        eos_id=0) == ([1, 2, 3, 4], [-100, -100, 3, 4])
    # mask_history keeps the LAST turn when the budget is short
    assert encode_pairs(pairs, train_on_prompt=False, mask_history=True, cutoff_len=4, efficient_eos=False,
                        eos_id=0) == ([5, 6, 7, 8], [-100, -100, 7, 8])


def test_greedy_knapsack_fills_bins_largest_first():
    assert greedy_knapsack([5, 3, 4, 2], 7) == [[0, 3], [2, 1]]
    bins = greedy_knapsack([1, 9, 3, 7, 5, 5], 10)
    assert sorted(i for b in bins for i in b) == list(range(6))
    assert all(sum([1, 9, 3, 7, 5, 5][i] for i in b) <= 10 for b in bins)


def _ctx(template, tok, stage="sft", **kw):
    return Ctx(template, tok, DataArgs(**kw), stage)


def test_sft_matches_the_template_and_masks_prompts(smol):
    template, tok = smol
    rows = [row(U("What is 2+2?"), A("4")), row(U("Hi"), A("Hello"), U("Bye"), A("See you"), system="Be brief."),
            row(U("Größe? 你好"), A("Très bien"))]
    cols = PROCESSORS["sft"](rows, _ctx(template, tok))
    for r, ids, labels in zip(rows, cols["input_ids"], cols["labels"]):
        pairs = template.encode_multiturn(tok, r["messages"], r["system"], None)
        assert ids == [t for s, tg in pairs for t in s + tg]
        want = [x for s, tg in pairs for x in [IGNORE_INDEX] * len(s) + tg]
        assert labels == want
    assert tok.decode([t for t in cols["labels"][0] if t != IGNORE_INDEX]) == "4<|im_end|>\n"


def test_template_errors_are_counted_not_raised(smol):
    template, tok = smol
    bad = []
    ctx = Ctx(template, tok, DataArgs(), "sft", lambda i, reason, detail: bad.append((i, reason)))
    rows = [row(U("ok"), A("fine")), row({"role": "function", "content": "x"}, A("no"))]
    cols = PROCESSORS["sft"](rows, ctx)
    assert len(cols["input_ids"]) == 1 and bad == [(1, "template error")]


def test_packing_and_neat_packing(smol):
    template, tok = smol
    rows = [row(U(f"q{i}" * (i + 1)), A(f"a{i}")) for i in range(12)]
    plain = PROCESSORS["sft"](rows, _ctx(template, tok))
    lengths = [len(x) for x in plain["input_ids"]]
    cutoff = max(lengths) * 3
    packed = PROCESSORS["sft"](rows, _ctx(template, tok, packing=True, cutoff_len=cutoff))
    neat = PROCESSORS["sft"](rows, _ctx(template, tok, neat_packing=True, cutoff_len=cutoff))
    assert len(packed["input_ids"]) < len(rows)
    assert sum(len(x) for x in packed["input_ids"]) == sum(lengths)
    assert all(len(x) <= cutoff for x in packed["input_ids"])
    assert set(t for m in packed["attention_mask"] for t in m) == {1}
    # every packed piece is one of the unpacked conversations, ids and labels together
    pieces = []
    for ids, labels, pos in zip(neat["input_ids"], neat["labels"], neat["position_ids"]):
        starts = [i for i, p in enumerate(pos) if p == 0] + [len(pos)]
        pieces += [(tuple(ids[a:b]), tuple(labels[a:b])) for a, b in itertools.pairwise(starts)]
    assert sorted(pieces) == sorted(zip(map(tuple, plain["input_ids"]), map(tuple, plain["labels"])))
    for mask, pos in zip(neat["attention_mask"], neat["position_ids"]):
        # positions restart at 0 exactly where the sequence index changes
        starts = [i for i, p in enumerate(pos) if p == 0]
        assert starts == [0] + [i for i in range(1, len(mask)) if mask[i] != mask[i - 1]]
        assert mask[0] == 1 and mask[-1] == len(starts)


def test_pairwise_truncates_both_answers_alike(smol):
    template, tok = smol
    r = row(U("q " * 30), chosen=A("good " * 40), rejected=A("bad"))
    cols = PROCESSORS["dpo"]([r], _ctx(template, tok, "dpo", cutoff_len=40))
    c_ids, c_lab = cols["chosen_input_ids"][0], cols["chosen_labels"][0]
    r_ids, r_lab = cols["rejected_input_ids"][0], cols["rejected_labels"][0]
    prompt_len = sum(1 for t in c_lab if t == IGNORE_INDEX)
    assert c_ids[:prompt_len] == r_ids[:prompt_len] and len(c_ids) <= 40
    assert sum(1 for t in r_lab if t == IGNORE_INDEX) == prompt_len


def test_kto_kl_pairs_rotate_answers(smol):
    template, tok = smol
    rows = [row(U(f"question {i}"), A(f"answer {i}"), kto_tag=i % 2 == 0) for i in range(3)]
    cols = PROCESSORS["kto"](rows, _ctx(template, tok, "kto"))
    decode = lambda ids, labels: tok.decode([t for t, lab in zip(ids, labels) if lab != IGNORE_INDEX])  # noqa: E731
    assert cols["kto_tags"] == [True, False, True]
    assert [decode(i, la) for i, la in zip(cols["input_ids"], cols["labels"])] == [
        f"answer {i}<|im_end|>\n" for i in range(3)]
    # row i's KL pair is its prompt with row i-1's answer (row 0 takes the last)
    assert [decode(i, la) for i, la in zip(cols["kl_input_ids"], cols["kl_labels"])] == [
        "answer 2<|im_end|>\n", "answer 0<|im_end|>\n", "answer 1<|im_end|>\n"]
    assert "question 0" in tok.decode(cols["kl_input_ids"][0])


def test_pretrain_keeps_the_tail(smol):
    template, tok = smol
    rows = [row(U("one two three four five six seven")), row(U("eight nine ten"))]
    whole = tok.encode("one two three four five six seven" + tok.eos_token + "eight nine ten" + tok.eos_token,
                       add_special_tokens=False)
    cols = PROCESSORS["pt"](rows, _ctx(template, tok, "pt", cutoff_len=4))
    assert [t for b in cols["input_ids"] for t in b] == whole  # nothing dropped
    assert [len(b) for b in cols["input_ids"]][:-1] == [4] * (len(cols["input_ids"]) - 1)
    assert cols["labels"] == cols["input_ids"]
    unpacked = PROCESSORS["pt"](rows, _ctx(template, tok, "pt", cutoff_len=4, packing=False))
    assert len(unpacked["input_ids"]) == 2 and all(len(b) <= 4 for b in unpacked["input_ids"])


def test_unsupervised_prompt_and_reference(smol):
    template, tok = smol
    cols = PROCESSORS["ppo"]([row(U("2+2?"), A("4")), row(U("3+3?"))], _ctx(template, tok, "ppo"))
    assert tok.decode(cols["input_ids"][0]).endswith("<|im_start|>assistant\n")
    assert tok.decode(cols["labels"][0]) == "4<|im_end|>\n"
    assert tok.decode(cols["labels"][1]) == "<|im_end|>\n"


def test_worker_processes_give_the_same_result_and_report(smol, monkeypatch):
    from ft_data.processors import parallel

    template, tok = smol
    rows = [row(U(f"q{i}"), A(f"a{i}")) for i in range(9)]
    rows[4] = row({"role": "function", "content": "x"}, A("no"))
    one = PROCESSORS["sft"](rows, _ctx(template, tok))
    monkeypatch.setattr(parallel, "CHUNK_ROWS", 2)
    bad = []
    ctx = Ctx(template, tok, DataArgs(preprocessing_num_workers=2), "sft", lambda i, r, d: bad.append((i, r)))
    assert parallel.workers_for(ctx, len(rows)) == 2
    two = PROCESSORS["sft"](rows, ctx)
    assert list(two["input_ids"]) == list(one["input_ids"]) and list(two["labels"]) == list(one["labels"])
    assert bad == [(4, "template error")]
