"""Text of a growing token sequence, one delta per new token, and stop strings over it.

Decoding each token alone breaks multi-byte characters and SentencePiece spaces, decoding the
whole sequence every step costs O(length). ``IncrementalText`` decodes a short window (vLLM's
prefix/read offsets): the delta is the window's text minus the text of its first part, held back
while it ends in an incomplete character (U+FFFD). ``StopStrings`` finds a stop string in the
text produced so far and holds back a tail that could still become one, so a streamed reply
never shows part of a stop string.

Example:
    >>> text = IncrementalText(tokenizer)
    >>> "".join(text.push(t) for t in tokenizer.encode("héllo wörld"))
    'héllo wörld'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["IncrementalText", "StopStrings"]

class IncrementalText:
    """Decode tokens one at a time into text deltas."""

    def __init__(self, tokenizer: Any, skip_special_tokens: bool = True, context: Sequence[int] = ()) -> None:
        self.tokenizer = tokenizer
        self.skip = skip_special_tokens
        # the prompt's last tokens give the first generated token its context (a leading space)
        self.ids: list[int] = [int(t) for t in context[-4:]]
        self.prefix_offset = 0
        self.read_offset = len(self.ids)

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=self.skip, clean_up_tokenization_spaces=False)

    def push(self, token_id: int) -> str:
        """Add one token; returns the new text it completes (possibly '')."""
        self.ids.append(int(token_id))
        prefix = self._decode(self.ids[self.prefix_offset:self.read_offset])
        full = self._decode(self.ids[self.prefix_offset:])
        if len(full) > len(prefix) and not full.endswith("\ufffd"):
            delta = full[len(prefix):]
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return delta
        return ""

    def flush(self) -> str:
        """Text of tokens still held back (an incomplete character at the very end)."""
        if self.read_offset == len(self.ids):
            return ""
        prefix = self._decode(self.ids[self.prefix_offset:self.read_offset])
        full = self._decode(self.ids[self.prefix_offset:])
        self.read_offset = len(self.ids)
        return full[len(prefix):]


class StopStrings:
    """Cut the text at the first stop string; hold back a tail that may start one."""

    def __init__(self, stop: Sequence[str]) -> None:
        self.stop = [s for s in stop if s]
        self.hold = max((len(s) for s in self.stop), default=1) - 1
        self.text = ""      # everything generated so far
        self.emitted = 0    # characters of ``text`` already handed out

    def push(self, delta: str) -> tuple[str, bool]:
        """Add generated text; returns (text safe to show now, whether a stop string was hit)."""
        if not self.stop:
            self.text += delta
            self.emitted = len(self.text)
            return delta, False
        start = max(0, len(self.text) - self.hold)
        self.text += delta
        hits = [i for i in (self.text.find(s, start) for s in self.stop) if i >= 0]
        if hits:
            cut = min(hits)
            out = self.text[self.emitted:cut]
            self.text = self.text[:cut]
            self.emitted = cut
            return out, True
        safe = max(self.emitted, len(self.text) - self.hold)
        out = self.text[self.emitted:safe]
        self.emitted = safe
        return out, False

    def flush(self) -> str:
        """The held-back tail, once generation has ended without a stop string."""
        out = self.text[self.emitted:]
        self.emitted = len(self.text)
        return out
