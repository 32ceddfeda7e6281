"""The batched and word-cached tokenization is exact: same ids as the tokenizer, or it is not used."""

from __future__ import annotations

from ft_data._batch_encode import BatchEncoder
from ft_data._word_cache import WordCache

TEXTS = ["Hello world!  It's 2024:\tnumbers 12345", "   spaces   everywhere   ", "line\nbreaks\r\n\n\nx",
         "<|im_start|>user\nhi<|im_end|>\n", "Größe – ça va? 你好 🙂", "tabs\t\tand\x0bvertical\x0c", "a\x1cb",
         "don't we'll I'm they've", "x" * 300, "", "1+1=2; (a*b)/c >= d"]


def test_word_cache_equals_the_tokenizer(smollm2_tokenizer):
    cache = WordCache.build(smollm2_tokenizer)
    assert cache is not None
    want = [smollm2_tokenizer.encode(t, add_special_tokens=False) for t in TEXTS]
    assert cache.encode_many(TEXTS) == want
    assert cache.encode_many(TEXTS) == want  # from the cache the second time


def test_word_cache_refuses_other_pipelines():
    class NotFast:
        pass

    assert WordCache.build(NotFast()) is None


def test_batch_encoder_equals_plain_template_calls(smol):
    template, tok = smol
    rows = [[{"role": "user", "content": t or "empty"}, {"role": "assistant", "content": "ok " + t}] for t in TEXTS]
    enc = BatchEncoder(tok)
    got = enc.map(lambda tk, msgs: template.encode_multiturn(tk, msgs, "Be brief.", None), rows)
    want = [template.encode_multiturn(tok, msgs, "Be brief.", None) for msgs in rows]
    assert [[list(map(list, p)) for p in r] for r in got] == [[list(map(list, p)) for p in r] for r in want]
    assert enc.fast
