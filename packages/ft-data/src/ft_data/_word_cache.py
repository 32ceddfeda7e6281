"""Exact word-level cache for byte-level BPE tokenizers (GPT-2, SmolLM, Llama 3 style).

Why: a fast tokenizer spends most of its time per token on bookkeeping (offsets, alignments),
not on BPE. For tokenizers whose pipeline is "split on added tokens, regex pre-tokenizer,
byte-level BPE" (no normalizer), the ids of a text are the concatenation of the ids of its
regex pieces, each of which the real tokenizer encodes once and a dict remembers. This is
several times faster than ``encode_batch`` on real text (words repeat).

It is used only when the tokenizer's JSON describes exactly that pipeline, only for ASCII
texts (where Python's ``regex`` and the Rust regex engine agree on letters, digits and spaces),
and only after a sample of texts encodes identically both ways; everything else goes to
``encode_batch``.
"""

from __future__ import annotations

import json
import re
from itertools import chain
from typing import Any

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# Python's ``re`` is much faster than ``regex``; for ASCII text the known patterns translate exactly
# (letters [A-Za-z], digits [0-9], whitespace [ \t\n\r\f\v] under re.ASCII).
ASCII_PATTERNS = {
    GPT2_PATTERN: r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""",
}
MAX_WORDS = 2_000_000  # stop caching new words beyond this (memory bound)
_UNSAFE = re.compile("[\x1c-\x1f]")  # ASCII separators some regex engines call whitespace


def _pattern(spec: dict[str, Any] | None) -> str | None:
    """The pre-tokenizer's regex when it is a supported byte-level setup, else None."""
    if not spec:
        return None
    if spec.get("type") == "ByteLevel":
        return GPT2_PATTERN if spec.get("use_regex", True) and not spec.get("add_prefix_space") else None
    if spec.get("type") == "Sequence":
        steps = spec.get("pretokenizers", [])
        if (len(steps) == 2 and steps[0].get("type") == "Split" and steps[1].get("type") == "ByteLevel"
                and not steps[1].get("use_regex", True) and not steps[1].get("add_prefix_space")
                and steps[0].get("behavior") == "Isolated" and not steps[0].get("invert")
                and "Regex" in (steps[0].get("pattern") or {})):
            return steps[0]["pattern"]["Regex"]
    return None


class WordCache:
    """``encode_many(texts)`` equal to ``backend.encode_batch(texts, add_special_tokens=False)`` ids."""

    def __init__(self, backend: Any, pattern: str, added: dict[str, int]) -> None:
        import regex

        self.backend = backend
        self.words = re.compile(ASCII_PATTERNS[pattern], re.ASCII) if pattern in ASCII_PATTERNS else regex.compile(pattern)
        ordered = sorted(added, key=len, reverse=True)  # leftmost-longest, like the added-token matcher
        self.split = regex.compile("(" + "|".join(regex.escape(a) for a in ordered) + ")") if ordered else None
        self.added = added
        self.cache: dict[str, list[int]] = {}

    @classmethod
    def build(cls, tokenizer: Any) -> WordCache | None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            return None
        try:
            spec = json.loads(backend.to_str())
        except Exception:
            return None
        model = spec.get("model") or {}
        if spec.get("normalizer") or model.get("type") != "BPE" or model.get("dropout"):
            return None
        pattern = _pattern(spec.get("pre_tokenizer"))
        if pattern is None:
            return None
        added = {}
        for tok in spec.get("added_tokens", []):
            if tok.get("lstrip") or tok.get("rstrip") or tok.get("single_word"):
                return None
            added[tok["content"]] = tok["id"]
        try:
            cache = cls(backend, pattern, added)
        except Exception:  # a pattern Python's regex cannot compile
            return None
        return cache if cache._agrees() else None

    def _agrees(self) -> bool:
        sample = ["Hello world!  It's 2024:\tnumbers 12345, symbols #@$%^&*() and\n\nnew lines.",
                  "  leading spaces, trailing spaces   ", "CamelCaseWords don't_split-here? 3.14159e10 ...",
                  "<|im_start|>user\nhi<|im_end|>\n", "a\r\nb\rc  \n  d\t\te", "x" * 50 + " " + "ab" * 20]
        return self._encode_all(sample) == [e.ids for e in self.backend.encode_batch(sample, add_special_tokens=False)]

    def _word_ids(self, words: list[str]) -> list[int]:
        cache = self.cache
        try:
            return list(chain.from_iterable(map(cache.__getitem__, words)))
        except KeyError:
            missing = [w for w in dict.fromkeys(words) if w not in cache]
            if len(cache) + len(missing) > MAX_WORDS:
                return [i for w in words for i in (cache.get(w) or self.backend.encode(w, add_special_tokens=False).ids)]
            for w, enc in zip(missing, self.backend.encode_batch(missing, add_special_tokens=False)):
                cache[w] = enc.ids
            return list(chain.from_iterable(map(cache.__getitem__, words)))

    def _encode(self, text: str) -> list[int]:
        if self.split is None:
            return self._word_ids(self.words.findall(text))
        out: list[int] = []
        for i, part in enumerate(self.split.split(text)):
            if i % 2:
                out.append(self.added[part])
            elif part:
                out += self._word_ids(self.words.findall(part))
        return out

    def _encode_all(self, texts: list[str]) -> list[list[int]]:
        return [self._encode(t) for t in texts]

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        out: list[list[int] | None] = [None] * len(texts)
        slow: list[int] = []
        for i, text in enumerate(texts):
            if text.isascii() and not _UNSAFE.search(text):
                out[i] = self._encode(text)
            else:
                slow.append(i)
        if slow:
            for i, enc in zip(slow, self.backend.encode_batch([texts[i] for i in slow], add_special_tokens=False)):
                out[i] = enc.ids
        return out  # type: ignore[return-value]
