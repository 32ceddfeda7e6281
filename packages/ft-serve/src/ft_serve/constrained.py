"""Constrained decoding for ``response_format`` with xgrammar: the reply is valid JSON (any
object, or one matching a JSON schema) because tokens that would break it are masked each step.

``GrammarCache`` compiles a grammar once per distinct schema; ``JsonConstraint`` is the
per-sequence matcher the generation core calls (``ft_models.generation.Constraint``).

Example:
    >>> grammars = GrammarCache(tokenizer, vocab_size=model.config.vocab_size)
    >>> constraint = grammars.constraint({"type": "json_schema", "json_schema": {"schema": schema}})
"""

from __future__ import annotations

import json
import threading
from typing import Any

import torch

from ft_core import BadInputError

__all__ = ["GrammarCache", "JsonConstraint", "schema_of"]


def schema_of(response_format: dict[str, Any] | None) -> str | None:
    """The JSON schema text a ``response_format`` asks for: ``""`` for any JSON object, None for plain text.

    Raises BadInputError for an unknown type or a ``json_schema`` without a schema.
    """
    if not response_format:
        return None
    kind = response_format.get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return ""
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema", spec.get("json_schema"))
        if not isinstance(schema, dict):
            raise BadInputError("response_format.json_schema.schema must be a JSON schema object")
        return json.dumps(schema, sort_keys=True)
    raise BadInputError(f"response_format.type {kind!r} is not supported; use text, json_object or json_schema")


class JsonConstraint:
    """One sequence's grammar state: masks logits, advances on each token, says when JSON is complete."""

    def __init__(self, compiled: Any, vocab_size: int) -> None:
        import xgrammar as xgr

        self._xgr = xgr
        self.matcher = xgr.GrammarMatcher(compiled)
        self.bitmask = xgr.allocate_token_bitmask(1, vocab_size)
        self.vocab_size = vocab_size

    def mask(self, logits: torch.Tensor) -> None:
        self.matcher.fill_next_token_bitmask(self.bitmask)
        row = logits[: self.vocab_size].unsqueeze(0)
        self._xgr.apply_token_bitmask_inplace(row, self.bitmask.to(logits.device))
        if logits.shape[-1] > self.vocab_size:  # padding rows of the output matrix are never valid
            logits[self.vocab_size:] = float("-inf")

    def accept(self, token_id: int) -> None:
        self.matcher.accept_token(int(token_id))

    def is_terminated(self) -> bool:
        return self.matcher.is_terminated()


class GrammarCache:
    """Compiled grammars by schema for one tokenizer (compiling a schema takes milliseconds to seconds)."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: list[int] | None = None) -> None:
        import xgrammar as xgr

        self.vocab_size = vocab_size
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids)
        self.compiler = xgr.GrammarCompiler(info)
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()

    def compiled(self, schema: str) -> Any:
        with self._lock:
            if schema not in self._compiled:
                try:
                    self._compiled[schema] = (self.compiler.compile_builtin_json_grammar() if schema == ""
                                              else self.compiler.compile_json_schema(schema))
                except Exception as exc:  # xgrammar raises RuntimeError/ValueError subclasses for bad schemas
                    raise BadInputError(f"response_format: cannot compile the JSON schema: {exc}") from exc
            return self._compiled[schema]

    def constraint(self, response_format: dict[str, Any] | None) -> JsonConstraint | None:
        """A fresh constraint for ``response_format`` (None for plain text)."""
        schema = schema_of(response_format)
        if schema is None:
            return None
        return JsonConstraint(self.compiled(schema), self.vocab_size)
