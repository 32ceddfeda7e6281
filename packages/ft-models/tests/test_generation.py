"""The generation core on the tiny Llama: equal to HF greedy with rows joining and leaving,
stop tokens and strings, lengths, seeds, logprobs, the KV cache's join/select/trim, mixed LoRA
adapters, constraints and abort."""

from __future__ import annotations

import pytest
import torch

from ft_models.generation import (
    BASE_ADAPTER,
    DecodeBatch,
    SamplingParams,
    Sequence,
    generate,
)
from ft_models.generation import cache as kv

GREEDY = SamplingParams(temperature=0.0, max_tokens=12)
TEXTS = [
    "Hello",
    "The quick brown fox jumps over the lazy dog and",
    "Paris is",
    "One two three four five six seven eight nine ten eleven twelve",
    "Zürich, café and naïve",
]


@pytest.fixture(scope="module")
def tiny(tiny_llama_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_llama_path))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama_path)).eval()
    return model, tokenizer


@pytest.fixture(scope="module")
def prompts(tiny):
    return [tiny[1].encode(t) for t in TEXTS]


def hf_greedy(model, prompt, n, **kwargs):
    """HF's own greedy continuation of one unpadded prompt: the reference."""
    out = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                         do_sample=False, max_new_tokens=n, **kwargs)
    return out[0, len(prompt):].tolist()


def run(batch, seqs):
    """Add ``seqs`` and step until all end; returns every event."""
    events = batch.add(seqs)
    while batch.active:
        events += batch.step()
    return events


# ---------------------------------------------------------------------------------------- greedy


def test_greedy_equals_hf_generate_while_rows_join_and_leave(tiny, prompts):
    model, tokenizer = tiny
    # a long prompt (more than 64 columns of padding for the others once it leaves, so the cache
    # is trimmed) and different max_tokens, so rows leave at different steps and others take their slot
    long_prompt = tokenizer.encode(" ".join(f"word{i}" for i in range(40)))
    all_prompts = [*prompts, long_prompt]
    lengths = [3, 14, 6, 20, 9, 2]
    params = [GREEDY.replace(max_tokens=n) for n in lengths]
    results = generate(model, tokenizer, all_prompts, params, max_batch_size=3)
    for prompt, n, result in zip(all_prompts, lengths, results, strict=True):
        assert result.token_ids == hf_greedy(model, prompt, n)
        assert result.finish_reason == "length" and len(result.token_ids) == n
        assert result.prompt_tokens == len(prompt)
        assert result.text == tokenizer.decode(result.token_ids)


def test_trimming_keeps_the_remaining_rows_right(tiny, prompts):
    model, tokenizer = tiny
    long_prompt = tokenizer.encode(" ".join(f"word{i}" for i in range(40)))
    assert len(long_prompt) - len(prompts[0]) >= 64  # the padding the short row carries
    batch = DecodeBatch(model, tokenizer)
    events = batch.add([Sequence("long", long_prompt, GREEDY.replace(max_tokens=1)),
                        Sequence("short", prompts[0], GREEDY.replace(max_tokens=10))])
    assert batch.mask.shape[1] < len(long_prompt)  # the long row left at once and the padding went with it
    events += run(batch, [])
    short = [e.token_id for e in events if e.seq_id == "short"]
    assert short == hf_greedy(model, prompts[0], 10)


def test_top_k_one_equals_greedy(tiny, prompts):
    model, tokenizer = tiny
    greedy = generate(model, tokenizer, prompts, GREEDY, max_batch_size=2)
    top1 = generate(model, tokenizer, prompts, SamplingParams(temperature=1.0, top_k=1, max_tokens=12), max_batch_size=2)
    assert [r.token_ids for r in top1] == [r.token_ids for r in greedy]


# ---------------------------------------------------------------------------------------- stopping


def _first_new_token(tokens, start):
    """Index >= ``start`` of a token that does not occur before it."""
    return next(i for i in range(start, len(tokens)) if tokens[i] not in tokens[:i])


def test_stop_token_ends_the_sequence_and_is_not_in_the_text(tiny, prompts):
    model, tokenizer = tiny
    free = generate(model, tokenizer, [prompts[3]], GREEDY.replace(max_tokens=20))[0].token_ids
    i = _first_new_token(free, 2)
    stopped = generate(model, tokenizer, [prompts[3]], GREEDY.replace(max_tokens=20), stop_token_ids=[free[i]])[0]
    assert stopped.finish_reason == "stop"
    assert stopped.token_ids == free[:i + 1]  # the stop token is generated ...
    assert stopped.text == tokenizer.decode(free[:i])  # ... but not shown


def test_the_models_eos_stops_without_being_asked(tiny, prompts):
    model, tokenizer = tiny
    free = generate(model, tokenizer, [prompts[3]], GREEDY.replace(max_tokens=20))[0].token_ids
    i = _first_new_token(free, 2)
    saved = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = [saved, free[i]]
    try:
        stopped = generate(model, tokenizer, [prompts[3]], GREEDY.replace(max_tokens=20))[0]
        ignored = generate(model, tokenizer, [prompts[3]], GREEDY.replace(max_tokens=20, ignore_eos=True),
                           stop_token_ids=[free[i]])[0]
        explicit = generate(model, tokenizer, [prompts[3]],
                            GREEDY.replace(max_tokens=20, ignore_eos=True, stop_token_ids=[free[i]]))[0]
    finally:
        model.generation_config.eos_token_id = saved
    assert stopped.finish_reason == "stop" and stopped.token_ids == free[:i + 1]
    # ignore_eos ignores the model's and the template's end ids, not the request's own stop ids
    assert ignored.finish_reason == "length" and ignored.token_ids == free
    assert explicit.finish_reason == "stop" and explicit.token_ids == free[:i + 1]


def test_min_tokens_masks_the_stop_token(tiny, prompts):
    model, tokenizer = tiny
    free = generate(model, tokenizer, [prompts[3]], GREEDY.replace(max_tokens=20))[0].token_ids
    i = _first_new_token(free, 2)
    out = generate(model, tokenizer, [prompts[3]], GREEDY.replace(max_tokens=20, min_tokens=i + 2),
                   stop_token_ids=[free[i]])[0]
    assert out.token_ids[:i] == free[:i] and out.token_ids[i] != free[i]
    assert free[i] not in out.token_ids[:i + 2]


def _spanning_stop(tokenizer, tokens):
    """A 3-character string that starts inside one generated token, ends in the next and occurs
    first there; returns (stop string, its offset in the text)."""
    text = tokenizer.decode(tokens)
    for i in range(1, len(tokens)):
        b = len(tokenizer.decode(tokens[:i]))
        if b < 2 or b + 2 > len(text):
            continue
        stop = text[b - 1:b + 2]
        if text.find(stop) == b - 1:
            return stop, b - 1
    raise AssertionError(f"no stop string spans two tokens in {text!r}")


def test_stop_string_cuts_the_text_and_is_never_streamed(tiny, prompts):
    model, tokenizer = tiny
    for prompt in prompts[1:4]:
        free = generate(model, tokenizer, [prompt], GREEDY.replace(max_tokens=20))[0]
        stop, offset = _spanning_stop(tokenizer, free.token_ids)
        batch = DecodeBatch(model, tokenizer)
        events = run(batch, [Sequence(0, prompt, GREEDY.replace(max_tokens=20, stop=[stop, "never appears"]))])
        streamed = ""
        for ev in events:
            streamed += ev.text
            assert free.text[:offset].startswith(streamed)  # nothing of the stop string, ever
        assert streamed == free.text[:offset]
        assert events[-1].finish_reason == "stop"
        assert len(events) < len(free.token_ids)


def test_max_tokens_gives_length(tiny, prompts):
    model, tokenizer = tiny
    results = generate(model, tokenizer, prompts, GREEDY.replace(max_tokens=5), max_batch_size=2)
    assert all(r.finish_reason == "length" and len(r.token_ids) == 5 for r in results)


def test_max_model_len_gives_length(tiny, prompts):
    model, tokenizer = tiny
    batch = DecodeBatch(model, tokenizer, max_model_len=len(prompts[1]) + 3)
    events = run(batch, [Sequence(0, prompts[1], GREEDY.replace(max_tokens=50))])
    assert [e.finish_reason for e in events] == [None, None, "length"]


# ---------------------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("seeded", [SamplingParams(temperature=1.0, top_p=0.9, max_tokens=10, seed=1234),
                                    SamplingParams(temperature=0.8, top_k=50, max_tokens=10, seed=99),
                                    SamplingParams(temperature=1.0, max_tokens=10, seed=7)],
                         ids=["top-p", "top-k", "plain"])
def test_same_seed_same_text_whatever_else_is_in_the_batch(tiny, prompts, seeded):
    model, tokenizer = tiny
    alone = generate(model, tokenizer, [prompts[2]], seeded)[0].token_ids
    others = [SamplingParams(temperature=1.0, max_tokens=7),  # unseeded
              SamplingParams(temperature=0.7, top_k=2000, max_tokens=13, seed=5),  # wider candidates
              GREEDY]
    mixed = generate(model, tokenizer, [prompts[0], prompts[2], prompts[1], prompts[3]],
                     [others[0], seeded, others[1], others[2]], max_batch_size=2)
    assert mixed[1].token_ids == alone
    again = generate(model, tokenizer, [prompts[3], prompts[2]], [others[1], seeded], max_batch_size=4)
    assert again[1].token_ids == alone
    other_seed = generate(model, tokenizer, [prompts[2]], seeded.replace(seed=1235))[0].token_ids
    assert other_seed != alone


def test_unseeded_sampling_differs_from_greedy(tiny, prompts):
    model, tokenizer = tiny
    sampled = generate(model, tokenizer, [prompts[2]] * 3, SamplingParams(temperature=1.0, max_tokens=8))
    greedy = generate(model, tokenizer, [prompts[2]], GREEDY.replace(max_tokens=8))[0]
    # near-uniform logits of a random model: 8 draws from 49k tokens do not repeat
    assert len({tuple(r.token_ids) for r in sampled} | {tuple(greedy.token_ids)}) == 4


# ---------------------------------------------------------------------------------------- logprobs


def test_logprobs_are_log_softmax_of_the_models_logits(tiny, prompts):
    model, tokenizer = tiny
    prompt = prompts[1]
    batch = DecodeBatch(model, tokenizer)
    events = run(batch, [Sequence(0, prompt, GREEDY.replace(max_tokens=6, logprobs=3)),
                         Sequence(1, prompts[0], GREEDY.replace(max_tokens=4))])
    mine = [e for e in events if e.seq_id == 0]
    tokens = [e.token_id for e in mine]
    with torch.no_grad():
        logits = model(torch.tensor([prompt + tokens[:-1]])).logits[0, len(prompt) - 1:]
    reference = torch.log_softmax(logits.float(), dim=-1)
    for step, ev in enumerate(mine):
        assert ev.logprob == pytest.approx(float(reference[step, ev.token_id]), abs=1e-4)
        ids, vals = zip(*ev.top_logprobs, strict=True)
        ref_vals, ref_ids = reference[step].topk(3)
        assert list(ids) == ref_ids.tolist() and ids[0] == ev.token_id  # greedy takes the most likely
        assert list(vals) == pytest.approx(ref_vals.tolist(), abs=1e-4)
    assert all(e.logprob is None and e.top_logprobs is None for e in events if e.seq_id == 1)


# ---------------------------------------------------------------------------------------- cache


def _prefill(model, rows):
    """Left-padded prefill of ``rows`` into a fresh growable cache; returns (cache, mask)."""
    width = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r)
        mask[i, width - len(r):] = 1
    cache = kv.new_cache(model.config)
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
              past_key_values=cache, use_cache=True)
    return cache, mask


def _decode(model, cache, mask, rows, next_tokens):
    """One decode step of ``next_tokens`` over ``cache``; returns the last logits per row."""
    mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=mask.dtype)], dim=1)
    positions = torch.tensor([[len(r)] for r in rows])
    with torch.no_grad():
        out = model(input_ids=torch.tensor(next_tokens).unsqueeze(1), attention_mask=mask, position_ids=positions,
                    past_key_values=cache, use_cache=True)
    return out.logits[:, -1]


def _fresh(model, row):
    with torch.no_grad():
        return model(torch.tensor([row])).logits[0, -1]


def test_cache_join_select_trim_keep_the_right_rows(tiny, prompts):
    model = tiny[0]
    a_rows, b_rows = [prompts[0], prompts[2]], [prompts[3], prompts[1]]
    a, a_mask = _prefill(model, a_rows)
    b, b_mask = _prefill(model, b_rows)
    w = max(a_mask.shape[1], b_mask.shape[1])
    cache = kv.join(a, b)
    mask = torch.cat([torch.nn.functional.pad(a_mask, (w - a_mask.shape[1], 0)),
                      torch.nn.functional.pad(b_mask, (w - b_mask.shape[1], 0))])
    rows = a_rows + b_rows
    assert kv.width(cache) == w and cache.layers[0].keys.shape[0] == 4
    # keep rows 2 and 0, in that order (the longest and the shortest)
    keep = torch.tensor([2, 0])
    kv.select(cache, keep)
    mask, rows = mask[keep], [rows[2], rows[0]]
    nxt = [11, 22]
    logits = _decode(model, cache, mask, rows, nxt)
    for i, row in enumerate(rows):
        torch.testing.assert_close(logits[i], _fresh(model, [*row, nxt[i]]), atol=1e-4, rtol=1e-4)
    # drop row 0 (the long one): the short one's leading padding can go
    kv.select(cache, torch.tensor([1]))
    mask, rows = torch.cat([mask, torch.ones((2, 1), dtype=mask.dtype)], dim=1)[1:], [rows[1] + [nxt[1]]]
    lead = int((mask[0] == 0).sum())
    assert lead > 0
    kv.trim_left(cache, lead)
    mask = mask[:, lead:]
    assert kv.width(cache) == mask.shape[1] == len(rows[0])
    logits = _decode(model, cache, mask, rows, [33])
    torch.testing.assert_close(logits[0], _fresh(model, rows[0] + [33]), atol=1e-4, rtol=1e-4)


def test_growable_layer_grows_past_its_spare_capacity(tiny, prompts):
    model, tokenizer = tiny
    # 40 decode steps: more than the 32 spare columns, so the buffers are reallocated mid-way
    out = generate(model, tokenizer, [prompts[0], prompts[2]], GREEDY.replace(max_tokens=40), max_batch_size=2)
    assert out[0].token_ids == hf_greedy(model, prompts[0], 40)
    assert out[1].token_ids == hf_greedy(model, prompts[2], 40)


# ---------------------------------------------------------------------------------------- adapters


@pytest.fixture(scope="module")
def two_loras(tiny_llama_path):
    """The tiny Llama with two random LoRA adapters, ``sql`` (active) and ``math``."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama_path))
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    torch.manual_seed(1)
    # init_lora_weights=False: B is random too, so each adapter changes the output from step one
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=targets,
                                                  init_lora_weights=False), adapter_name="sql")
    torch.manual_seed(2)
    peft_model.add_adapter("math", LoraConfig(r=8, lora_alpha=16, target_modules=targets, init_lora_weights=False))
    peft_model.set_adapter("sql")
    return peft_model.eval()


def _alone(peft_model, adapter, prompt, n):
    """HF greedy with only ``adapter`` applied (None: the base)."""
    if adapter is None:
        with peft_model.disable_adapter():
            return hf_greedy(peft_model, prompt, n)
    peft_model.set_adapter(adapter)
    try:
        return hf_greedy(peft_model, prompt, n)
    finally:
        peft_model.set_adapter("sql")


def test_mixed_batch_of_adapters_equals_each_adapter_alone(two_loras, tiny, prompts):
    tokenizer = tiny[1]
    plan = [("sql", prompts[1]), ("math", prompts[2]), (None, prompts[0]), (BASE_ADAPTER, prompts[3]), ("math", prompts[4])]
    batch = DecodeBatch(two_loras, tokenizer)
    # two join at first, the others while those decode
    events = batch.add([Sequence(i, p, GREEDY.replace(max_tokens=8), adapter=a) for i, (a, p) in enumerate(plan[:2])])
    events += batch.step()
    events += batch.add([Sequence(i + 2, p, GREEDY.replace(max_tokens=8), adapter=a)
                         for i, (a, p) in enumerate(plan[2:])])
    events += run(batch, [])
    expected = {i: _alone(two_loras, None if a == BASE_ADAPTER else a, p, 8) for i, (a, p) in enumerate(plan)}
    for i in expected:
        assert [e.token_id for e in events if e.seq_id == i] == expected[i], plan[i][0]
    # the adapters really differ from each other and from the base, so the check above means something
    assert expected[1] != _alone(two_loras, None, prompts[2], 8) != _alone(two_loras, "sql", prompts[2], 8)


def test_offline_generate_uses_the_active_adapter_by_default(two_loras, tiny, prompts):
    tokenizer = tiny[1]
    with_lora = generate(two_loras, tokenizer, [prompts[1], prompts[2]], GREEDY.replace(max_tokens=8))
    base = generate(two_loras, tokenizer, [prompts[1]], GREEDY.replace(max_tokens=8), adapter=BASE_ADAPTER)[0]
    b = generate(two_loras, tokenizer, [prompts[1]], GREEDY.replace(max_tokens=8), adapter="math")[0]
    assert with_lora[0].token_ids == _alone(two_loras, "sql", prompts[1], 8)
    assert with_lora[1].token_ids == _alone(two_loras, "sql", prompts[2], 8)
    assert base.token_ids == _alone(two_loras, None, prompts[1], 8)
    assert b.token_ids == _alone(two_loras, "math", prompts[1], 8)


# ---------------------------------------------------------------------------------------- constraint, abort


class FixedTokens:
    """A Constraint that allows exactly ``tokens``, in order, then is complete."""

    def __init__(self, tokens):
        self.tokens, self.pos = list(tokens), 0

    def mask(self, logits):
        allowed = logits[self.tokens[self.pos]].clone()
        logits.fill_(float("-inf"))
        logits[self.tokens[self.pos]] = allowed

    def accept(self, token_id):
        assert token_id == self.tokens[self.pos]
        self.pos += 1

    def is_terminated(self):
        return self.pos == len(self.tokens)


@pytest.mark.parametrize("params", [GREEDY.replace(max_tokens=20),
                                    SamplingParams(temperature=1.0, top_p=0.5, max_tokens=20, seed=3),
                                    GREEDY.replace(max_tokens=20, repetition_penalty=1.3)],
                         ids=["greedy", "sampled", "penalised"])
def test_constraint_is_respected(tiny, prompts, params):
    model, tokenizer = tiny
    answer = tokenizer.encode(" forty two, forty two")
    batch = DecodeBatch(model, tokenizer)
    events = run(batch, [Sequence("c", prompts[1], params, constraint=FixedTokens(answer)),
                         Sequence("free", prompts[2], GREEDY.replace(max_tokens=8))])
    mine = [e for e in events if e.seq_id == "c"]
    assert [e.token_id for e in mine] == answer
    assert "".join(e.text for e in mine) == " forty two, forty two"
    assert mine[-1].finish_reason == "stop"
    assert [e.token_id for e in events if e.seq_id == "free"] == hf_greedy(model, prompts[2], 8)


def test_abort_ends_a_row_and_the_others_go_on(tiny, prompts):
    model, tokenizer = tiny
    batch = DecodeBatch(model, tokenizer)
    events = batch.add([Sequence("x", prompts[1], GREEDY.replace(max_tokens=10)),
                        Sequence("y", prompts[2], GREEDY.replace(max_tokens=10))])
    events += batch.step()
    batch.abort("x")
    batch.abort("unknown")  # harmless
    aborted = batch.step()
    assert aborted[0].seq_id == "x" and aborted[0].finish_reason == "abort" and aborted[0].token_id is None
    assert aborted[0].completion_tokens == 2
    assert batch.active == 1 and [s.seq_id for s in batch.seqs] == ["y"]
    events += aborted + run(batch, [])
    assert [e.token_id for e in events if e.seq_id == "y"] == hf_greedy(model, prompts[2], 10)
    assert [e.finish_reason for e in events if e.seq_id == "x"] == [None, None, "abort"]


# ------------------------------------------------------------------- prefill groups and shared prefixes


def test_prefill_groups_bound_the_padding():
    from ft_models.generation.batch import prefill_groups

    assert prefill_groups([20, 200, 190, 25, 180]) == [[1, 2, 4], [3, 0]]
    lengths = [5, 90, 7, 60, 88, 6, 61, 30]
    groups = prefill_groups(lengths)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for g in groups:  # each group computes at most 25% padding
        assert max(lengths[i] for i in g) * len(g) <= 1.25 * sum(lengths[i] for i in g)


def test_shared_prefix_is_computed_once_and_changes_nothing(tiny, prompts):
    from ft_models.generation import common_prefix_len

    model, tokenizer = tiny
    system = tokenizer.encode("You are a helpful assistant. Answer briefly and exactly. Question:")
    rows = [system + p for p in prompts]
    shared = common_prefix_len(rows)
    assert shared >= len(system) >= 8
    plain = run(DecodeBatch(model, tokenizer), [Sequence(i, r, GREEDY.replace(max_tokens=6)) for i, r in enumerate(rows)])
    batch = DecodeBatch(model, tokenizer)
    with_prefix = run(batch, [Sequence(i, r, GREEDY.replace(max_tokens=6), prefix_len=shared)
                              for i, r in enumerate(rows)])

    def tokens(events):
        out = {}
        for e in events:
            if e.token_id is not None:
                out.setdefault(e.seq_id, []).append(e.token_id)
        return out

    assert tokens(with_prefix) == tokens(plain)
    assert [r for r in tokens(plain).values()] == [hf_greedy(model, r, 6) for r in rows]
    assert len(batch._prefixes) == 1 and len(next(iter(batch._prefixes))[0]) == shared
    assert common_prefix_len([[1, 2, 3], [1, 2]]) == 2 and common_prefix_len([[1, 2]]) == 0
