"""Tokenizer fix-ups a template needs, and picking a template for a tokenizer.

``fix_tokenizer`` makes EOS/PAD/stop tokens match the template (LLaMA-Factory's
``fix_special_tokens`` + ``fix_jinja_template``); ``prepare_template`` is the one call a trainer
makes: resolve the name (or ``auto``), apply the options, fix the tokenizer.

Example:
    >>> template = prepare_template("qwen3", tokenizer, thinking="off")
    >>> tokenizer.eos_token
    '<|im_end|>'
"""

from __future__ import annotations

import logging
from typing import Any

from .registry import get_template
from .template import ReasoningPolicy, Template

__all__ = ["fix_tokenizer", "prepare_template"]

logger = logging.getLogger("ft_templates")


def fix_tokenizer(template: Template, tokenizer: Any, *, set_chat_template: bool = True) -> list[str]:
    """Adjust ``tokenizer`` in place for ``template``; returns the tokens added to the vocabulary.

    * ``replace_eos``: EOS becomes ``stop_words[0]`` (ValueError if the template has none);
    * no EOS: ``<|endoftext|>`` is added; no PAD: PAD = EOS;
    * the other stop words become additional special tokens;
    * a warning names the tokens when the vocabulary grew (the model's embeddings must be resized);
    * with ``set_chat_template``: the tokenizer gets ``template.to_jinja()`` when it has no chat
      template or the template asks to replace it (``replace_jinja_template``).
    """
    size = len(tokenizer)
    before = set(tokenizer.get_vocab())
    stop_words = list(template.stop_words)
    if template.replace_eos:
        if not stop_words:
            raise ValueError(f"template {template.name!r} sets replace_eos but has no stop words")
        _set_special(tokenizer, "eos_token", stop_words.pop(0))
    if tokenizer.eos_token_id is None:
        _set_special(tokenizer, "eos_token", "<|endoftext|>")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    new_specials = [w for w in stop_words if w not in tokenizer.all_special_tokens]
    if new_specials:
        # extend, don't replace, the tokenizer's own extra special tokens
        tokenizer.add_special_tokens({"extra_special_tokens": new_specials}, replace_extra_special_tokens=False)
    added = sorted(set(tokenizer.get_vocab()) - before)
    if len(tokenizer) > size:
        logger.warning("template %s added %d token(s) to the vocabulary (%s): resize the model's embeddings "
                       "(resize_vocab: true)", template.name, len(added), ", ".join(added))
    if set_chat_template and (template.replace_jinja_template or not getattr(tokenizer, "chat_template", None)):
        try:
            tokenizer.chat_template = template.to_jinja()
        except ValueError as exc:  # a template Jinja cannot express: keep the tokenizer usable
            logger.warning("cannot export template %s to Jinja: %s", template.name, exc)
    return added


def _set_special(tokenizer: Any, key: str, token: str) -> None:
    old = getattr(tokenizer, key)
    tokenizer.add_special_tokens({key: token})
    if old != token:
        logger.info("%s: %r -> %r", key, old, token)


def prepare_template(name: str | None, tokenizer: Any, *, tool_format: str | None = None,
                     default_system: str | None = None, thinking: ReasoningPolicy | None = None,
                     preserve_thinking: bool | None = None, fix: bool = True) -> Template:
    """Template ``name`` (``None``/"auto": derived from the tokenizer's chat template, else ``empty``)
    with the given options, after fixing ``tokenizer`` for it (see ``fix_tokenizer``)."""
    if name in (None, "", "auto"):
        if isinstance(getattr(tokenizer, "chat_template", None), str):
            from .auto import template_from_tokenizer

            template = template_from_tokenizer(tokenizer)
        else:
            template = get_template("empty")
    else:
        template = get_template(name)
    template = template.with_options(tool_format=tool_format, default_system=default_system,
                                     thinking=thinking if thinking is not None else "keep",
                                     preserve_thinking=preserve_thinking)
    if template.reasoning and template.enable_thinking is not False:
        logger.warning("template %s is a reasoning template: for instruct-only checkpoints use the "
                       "*_nothink variant or thinking=off", template.name)
    if fix:
        fix_tokenizer(template, tokenizer)
    return template
