"""Batched tokenization behind an unchanged template API (the fast path of every processor).

A template encodes a conversation by tokenizing each rendered slot string on its own
(``tokenizer.encode(text, add_special_tokens=False)``). Calling the tokenizer once per string
costs far more in Python than the tokenization itself. ``BatchEncoder`` runs the template with a
stand-in tokenizer that returns a placeholder id (a negative number) for each string and remembers
the string; all strings of a chunk of rows are then tokenized in one ``encode_batch`` call of the
fast (Rust) tokenizer, deduplicated, and the placeholders are replaced by the real ids.

The result is checked against the plain path on the first rows of every run; any difference
(a template that inspects token ids, a slow tokenizer) switches to the plain path for that run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ft_core import get_logger

from ._word_cache import WordCache

log = get_logger("ft.data")

CHECK_ROWS = 4


class _Recorder:
    """Tokenizer stand-in: ``encode``/``__call__`` without special tokens return placeholders."""

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer
        self.texts: list[str] = []
        self.index: dict[str, int] = {}

    def _placeholder(self, text: str) -> list[int]:
        k = self.index.get(text)
        if k is None:
            k = self.index[text] = len(self.texts)
            self.texts.append(text)
        return [-1 - k]

    def encode(self, text: Any, add_special_tokens: bool = True, **kwargs: Any) -> list[int]:
        if add_special_tokens or kwargs or not isinstance(text, str):
            return self._tok.encode(text, add_special_tokens=add_special_tokens, **kwargs)
        return self._placeholder(text)

    def __call__(self, text: Any, add_special_tokens: bool = True, **kwargs: Any) -> Any:
        if add_special_tokens or kwargs or not isinstance(text, str):
            return self._tok(text, add_special_tokens=add_special_tokens, **kwargs)
        return {"input_ids": self._placeholder(text), "attention_mask": [1]}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tok, name)

    def __len__(self) -> int:
        return len(self._tok)


def tokenize_many(tokenizer: Any, texts: Sequence[str], words: WordCache | None = None) -> list[list[int]]:
    """Token ids of ``texts`` without special tokens, in one batch call when the tokenizer is fast.

    ``words`` (a ``WordCache`` for this tokenizer) takes the exact word-cached path.
    """
    if not texts:
        return []
    if words is not None:
        return words.encode_many(list(texts))
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is not None and hasattr(backend, "encode_batch"):
        return [enc.ids for enc in backend.encode_batch(list(texts), add_special_tokens=False)]
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def _expand(ids: list[int], table: list[list[int]]) -> list[int]:
    if len(ids) == 1 and ids[0] < 0:
        return table[-1 - ids[0]]  # shared with other rows: processors only slice, never mutate
    out: list[int] = []
    for t in ids:
        if t < 0:
            out.extend(table[-1 - t])
        else:
            out.append(t)
    return out


def _expand_tree(value: Any, table: list[list[int]]) -> Any:
    """Replace placeholders inside the nested lists/tuples a template returns."""
    if isinstance(value, list) and (not value or isinstance(value[0], int)):
        return _expand(value, table)
    if isinstance(value, (list, tuple)):
        return type(value)(_expand_tree(v, table) for v in value)
    return value


class BatchEncoder:
    """Run ``fn(tokenizer, item)`` over many items with batched tokenization.

    Example:
        >>> enc = BatchEncoder(tokenizer)
        >>> pairs = enc.map(lambda tok, row: template.encode_multiturn(tok, row["messages"]), rows)
    """

    def __init__(self, tokenizer: Any, fast: bool = True) -> None:
        self.tokenizer = tokenizer
        self.fast = fast
        self.checked = False
        self.words = WordCache.build(tokenizer) if fast else None

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of ``texts`` (no special tokens added), on the fastest exact path."""
        return tokenize_many(self.tokenizer, texts, self.words)

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any]) -> list[Any]:
        """``[fn(tokenizer, item) for item in items]``, same values, tokenized in one batch.

        ``fn`` may raise; the exception object is returned in that item's place.
        """
        if not self.fast:
            return [_call(fn, self.tokenizer, item) for item in items]
        recorder = _Recorder(self.tokenizer)
        raw = [_call(fn, recorder, item) for item in items]
        table = self.tokenize(recorder.texts)
        out = [r if isinstance(r, Exception) else _expand_tree(r, table) for r in raw]
        if not self.checked:
            self.checked = True
            for item, got in list(zip(items, out))[:CHECK_ROWS]:
                want = _call(fn, self.tokenizer, item)
                if not isinstance(want, Exception) and _plain(want) != _plain(got):
                    log.warning("batched tokenization differs from the template's own; using the slow path")
                    self.fast = False
                    return [_call(fn, self.tokenizer, item) for item in items]
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _call(fn: Callable[[Any, Any], Any], tokenizer: Any, item: Any) -> Any:
    try:
        return fn(tokenizer, item)
    except Exception as exc:  # the processor turns it into a counted bad row
        return exc
