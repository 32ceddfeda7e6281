"""The generation core's parts without a model: settings, penalties, filters, draws, text deltas, stop strings."""

from __future__ import annotations

import pytest
import torch

from ft_core import ConfigError
from ft_models.generation import (
    GeneratingArgs,
    IncrementalText,
    SamplingParams,
    StopStrings,
    defaults_from_generation_config,
)
from ft_models.generation.sampling import _keep, apply_penalties, choose_tokens

# ---------------------------------------------------------------------------------------- params


def test_generating_args_refuse_beam_search():
    with pytest.raises(ConfigError, match="num_beams=4"):
        GeneratingArgs(num_beams=4)
    assert GeneratingArgs(num_beams=1).num_beams == 1


def test_do_sample_false_means_temperature_zero():
    args = GeneratingArgs(do_sample=False, temperature=0.7, max_new_tokens=8)
    params = args.sampling_params()
    assert params.temperature == 0.0 and params.greedy and params.max_tokens == 8
    assert GeneratingArgs(do_sample=False).sampling_overrides(fields={"do_sample"}) == {"temperature": 0.0}


def test_generating_args_defaults_are_llama_factorys():
    params = GeneratingArgs().sampling_params()
    assert (params.temperature, params.top_p, params.top_k, params.max_tokens) == (0.95, 0.7, 50, 1024)
    assert GeneratingArgs(temperature=0.3, top_k=5).sampling_overrides(fields={"temperature"}) == {"temperature": 0.3}


def test_max_length_counts_the_prompt_when_max_new_tokens_is_off():
    args = GeneratingArgs(max_new_tokens=0, max_length=100)
    assert args.max_tokens(prompt_len=30) == 70
    assert args.max_tokens(prompt_len=150) == 1
    assert GeneratingArgs(max_new_tokens=5, max_length=100).max_tokens(prompt_len=30) == 5


def test_generating_args_forbid_unknown_keys():
    with pytest.raises(ValueError, match="max_new_token"):
        GeneratingArgs(max_new_token=3)


def test_sampling_params_stop_forms():
    assert SamplingParams(stop="\n\n").stop == ("\n\n",)
    assert SamplingParams(stop=["a", "", "b"]).stop == ("a", "b")
    assert SamplingParams(stop=None).stop == ()
    assert SamplingParams(top_k=0, top_p=1.0).filtered is False
    assert SamplingParams(min_p=0.1).filtered and SamplingParams(frequency_penalty=0.5).penalised


def test_defaults_from_generation_config():
    from transformers import GenerationConfig

    config = GenerationConfig(do_sample=False, temperature=0.6, top_p=0.9)
    assert defaults_from_generation_config(config) == {"temperature": 0.0, "top_p": 0.9}
    assert defaults_from_generation_config(GenerationConfig(do_sample=True, top_k=20)) == {"top_k": 20}
    assert defaults_from_generation_config(None) == {}


# ---------------------------------------------------------------------------------------- penalties


def test_penalties_follow_the_formulas():
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0, -2.0, 1.0])
    params = SamplingParams(repetition_penalty=2.0, presence_penalty=0.5, frequency_penalty=0.25)
    apply_penalties(logits, params, prompt_ids=[0, 1], output_ids=[3, 3, 1])
    expected = [
        2.0 / 2,                      # prompt only: repetition (positive logit: divided)
        -1.0 * 2 - 0.5 - 0.25 * 1,    # prompt and output once: repetition (negative: multiplied), presence, 1 x frequency
        0.5,                          # unseen
        3.0 / 2 - 0.5 - 0.25 * 2,     # output twice
        -2.0,                         # unseen
        1.0,                          # unseen
    ]
    assert logits.tolist() == pytest.approx(expected)


def test_presence_and_frequency_ignore_the_prompt():
    logits = torch.zeros(4)
    apply_penalties(logits, SamplingParams(presence_penalty=1.0, frequency_penalty=1.0), [0, 1, 2], [])
    assert logits.tolist() == [0.0] * 4
    apply_penalties(logits, SamplingParams(presence_penalty=-1.0), [0], [2, 2])
    assert logits.tolist() == [0.0, 0.0, 1.0, 0.0]  # negative presence encourages repeats


# ---------------------------------------------------------------------------------------- filters and draws

PROBS = [0.5, 0.2, 0.15, 0.1, 0.05]


def _kept(**settings):
    vals = torch.tensor([PROBS])
    kept, ids = _keep(vals, torch.arange(len(PROBS)).unsqueeze(0), SamplingParams(temperature=1.0, **settings))
    return [int(i) for i in ids[0][kept[0] > 0]], kept[0]


@pytest.mark.parametrize(("settings", "kept"), [
    ({"top_p": 0.6}, [0, 1]),             # mass above token 1 is 0.5 < 0.6, above token 2 is 0.7
    ({"top_p": 0.75}, [0, 1, 2]),
    ({"top_p": 0.1}, [0]),                # the most likely token always survives
    ({"min_p": 0.35}, [0, 1]),            # threshold 0.175
    ({"min_p": 0.25}, [0, 1, 2]),         # threshold 0.125
    ({"top_k": 3}, [0, 1, 2]),
    ({"top_k": 3, "top_p": 0.6}, [0, 1]),
    ({"top_k": 3, "top_p": 0.75}, [0, 1]),  # top-p within the top-3 renormalised: 0.588, 0.235 | 0.176
    ({"top_k": 4, "top_p": 0.75}, [0, 1, 2]),  # within the top-4: 0.526, 0.211, 0.158 | 0.105
    ({"top_k": 2, "min_p": 0.1}, [0, 1]),
    ({}, [0, 1, 2, 3, 4]),
])
def test_keep_filters_the_right_tokens(settings, kept):
    ids, probs = _kept(**settings)
    assert ids == kept
    assert float(probs.sum()) == pytest.approx(1.0)
    assert probs[kept].tolist() == pytest.approx([PROBS[i] / sum(PROBS[i] for i in kept) for i in kept])


@pytest.mark.parametrize("settings", [{"top_k": 20}, {"top_p": 0.8}, {"min_p": 0.05}, {"top_k": 30, "top_p": 0.5},
                                      {"top_k": 50, "top_p": 0.7, "min_p": 0.02}])
def test_keep_matches_hf_warpers(settings):
    from transformers.generation.logits_process import MinPLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    logits = torch.randn(4, 200, generator=torch.Generator().manual_seed(1)) * 2
    scores = logits.clone()
    # HF's order: top-k, then top-p, then min-p, each on what the previous left
    if "top_k" in settings:
        scores = TopKLogitsWarper(settings["top_k"])(None, scores)
    if "top_p" in settings:
        scores = TopPLogitsWarper(settings["top_p"])(None, scores)
    if "min_p" in settings:
        scores = MinPLogitsWarper(settings["min_p"])(None, scores)
    vals, idx = logits.softmax(-1).sort(-1, descending=True)
    for row in range(4):
        kept, ids = _keep(vals[row:row + 1], idx[row:row + 1], SamplingParams(temperature=1.0, **settings))
        assert set(ids[0][kept[0] > 0].tolist()) == set(torch.nonzero(scores[row] > float("-inf")).flatten().tolist())


def test_draws_follow_the_filtered_distribution():
    rows = 20000
    logits = torch.tensor(PROBS).log().repeat(rows, 1)
    params = [SamplingParams(temperature=1.0, top_p=0.75)] * rows
    torch.manual_seed(0)
    counts = torch.bincount(choose_tokens(logits, params, [None] * rows), minlength=5).tolist()
    assert counts[3] == counts[4] == 0
    for token in range(3):
        expected = PROBS[token] / 0.85
        assert counts[token] / rows == pytest.approx(expected, abs=0.015)


def test_temperature_sharpens_the_draws():
    rows = 20000
    logits = torch.tensor(PROBS).log().repeat(rows, 1)
    torch.manual_seed(0)
    cold = torch.bincount(choose_tokens(logits, [SamplingParams(temperature=0.5)] * rows, [None] * rows),
                          minlength=5)
    sharpened = [p ** 2 for p in PROBS]
    assert cold[0].item() / rows == pytest.approx(sharpened[0] / sum(sharpened), abs=0.015)


def _slow_decay(vocab=3000):
    """Logits of a distribution that falls slowly: the last token still has 74% of the first's probability."""
    return -torch.arange(vocab, dtype=torch.float32) * 1e-4


@pytest.mark.parametrize("settings", [{"min_p": 0.5}, {"top_p": 0.9}], ids=["min-p", "top-p"])
def test_filters_reach_past_the_1024_candidates(settings):
    # min_p 0.5 keeps all 3000 tokens and top_p 0.9 about 2700: the draws must reach past rank 1024
    rows = 2000
    logits = _slow_decay().repeat(rows, 1)
    torch.manual_seed(0)
    tokens = choose_tokens(logits, [SamplingParams(temperature=1.0, **settings)] * rows, [None] * rows)
    assert (tokens >= 1024).float().mean().item() > 0.5


def test_an_unfiltered_row_keeps_the_whole_vocabulary_next_to_filtered_rows():
    rows = 2000
    logits = _slow_decay().repeat(rows + 1, 1)
    params = [SamplingParams(temperature=1.0)] * rows + [SamplingParams(temperature=1.0, top_k=5)]
    torch.manual_seed(0)
    tokens = choose_tokens(logits, params, [None] * (rows + 1))
    assert tokens[-1] < 5
    assert (tokens[:-1] >= 1024).float().mean().item() > 0.5  # not cut to the filtered rows' candidates


def test_a_seeded_row_draws_the_same_whatever_the_other_rows_ask():
    logits = torch.randn(3, 5000, generator=torch.Generator().manual_seed(0))
    mine = SamplingParams(temperature=1.0, top_k=40)

    def first_row(others, seed):
        """Three draws of row 0 from one seeded generator (each draw consumes noise of the row's width)."""
        gens = [torch.Generator().manual_seed(seed)] + [None] * len(others)
        return [int(choose_tokens(logits[:1 + len(others)], [mine, *others], gens)[0]) for _ in range(3)]

    for seed in range(5):
        alone = first_row([], seed)
        # a wider top-k elsewhere used to widen this row's candidates too, so its later draws
        # read the generator's stream at other offsets
        assert first_row([SamplingParams(temperature=1.0, top_k=3000)], seed) == alone
        assert first_row([SamplingParams(temperature=0.0), SamplingParams(temperature=1.0, min_p=0.2)], seed) == alone


def test_greedy_rows_take_the_argmax_after_penalties_and_masks():
    logits = torch.tensor([[0.0, 1.0, 3.0], [5.0, -1.0, 0.0]])
    tokens = choose_tokens(logits, [SamplingParams(temperature=0.0)] * 2, [None, None])
    assert tokens.tolist() == [2, 0]


# ---------------------------------------------------------------------------------------- text


@pytest.fixture(scope="module")
def tokenizer(tiny_llama_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_llama_path))


MULTI_BYTE = "héllo wörld — 日本語のテキスト 🎉👩‍🔬 naïve café Ελληνικά"


def test_incremental_text_equals_decoding_the_whole(tokenizer):
    ids = tokenizer.encode(MULTI_BYTE)
    text = IncrementalText(tokenizer)
    deltas = [text.push(t) for t in ids]
    assert "".join(deltas) + text.flush() == tokenizer.decode(ids) == MULTI_BYTE
    assert "" in deltas  # some tokens are parts of a character and were held back ...
    assert not any("\ufffd" in d for d in deltas)  # ... instead of shown broken


def test_incremental_text_after_a_prompt(tokenizer):
    prompt, rest = tokenizer.encode("Le café"), tokenizer.encode(" est très bon 🎉")
    text = IncrementalText(tokenizer, context=prompt)
    out = "".join(text.push(t) for t in rest) + text.flush()
    whole = tokenizer.decode(prompt + rest)
    assert out == whole[len(tokenizer.decode(prompt)):] == " est très bon 🎉"


def test_incremental_text_flushes_a_cut_character(tokenizer):
    ids = tokenizer.encode("🎉")
    assert len(ids) > 1
    text = IncrementalText(tokenizer)
    assert text.push(ids[0]) == ""
    assert text.flush() == tokenizer.decode(ids[:1])  # the broken character is still the answer's end
    assert text.flush() == ""


def test_incremental_text_skips_special_tokens(tokenizer):
    ids = [*tokenizer.encode("hi"), tokenizer.eos_token_id, *tokenizer.encode(" there")]
    assert "".join(IncrementalText(tokenizer).push(t) for t in ids) == "hi there"
    kept = IncrementalText(tokenizer, skip_special_tokens=False)
    assert "".join(kept.push(t) for t in ids) == "hi" + tokenizer.eos_token + " there"


def _stream(stop, pieces):
    s = StopStrings(stop)
    shown, hit = [], False
    for piece in pieces:
        out, hit = s.push(piece)
        shown.append(out)
        if hit:
            break
    if not hit:
        shown.append(s.flush())
    return shown, hit


def test_stop_string_split_over_pieces_is_never_shown():
    shown, hit = _stream(["STOP"], ["abc S", "T", "O", "P tail"])
    assert hit and "".join(shown) == "abc "
    assert all("S" not in piece for piece in shown)


def test_the_earliest_stop_string_wins():
    shown, hit = _stream(["world", "lo w"], ["hello", " world"])
    assert hit and "".join(shown) == "hel"


def test_held_back_text_comes_out_when_no_stop_string_follows():
    shown, hit = _stream(["STOP"], ["abc S", "T", "ART"])
    assert not hit and "".join(shown) == "abc START"
    assert shown[0] == "ab"  # "c S" might have begun "STOP"


def test_no_stop_strings_pass_everything_at_once():
    s = StopStrings([])
    assert s.push("abc") == ("abc", False) and s.flush() == ""
