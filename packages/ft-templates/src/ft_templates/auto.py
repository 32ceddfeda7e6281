"""Derive a Template from a tokenizer's own Jinja chat template (the ``auto`` template).

The chat template is rendered with marker strings as message contents and the renders are
diffed (LLaMA-Factory's ``parse_template`` idea, done on whole conversations):

* assistant block = render(system, user, assistant) minus render(system, user, generation prompt);
* user block = what follows the first answer in a two-exchange render (it opens the next
  assistant header);
* system block = the one-exchange prompt minus its user block; when the system text sits inside
  the user block the template folds it into the first user turn (Llama-2/Gemma style);
* prefix = a BOS that starts the conversation but not each user block, plus fixed text every
  prompt starts with (``[gMASK]<sop>``);
* default system = what a prompt without a system message carries in front of the user block;
* an answer wrapped in ``<think>`` tags marks a reasoning template.

Example:
    >>> t = template_from_tokenizer(smollm2_tokenizer)
    >>> t.default_system
    'You are a helpful AI assistant named SmolLM, trained by Hugging Face'
"""

from __future__ import annotations

from typing import Any

from .registry import build_template
from .slots import BOS, EOS, Slot
from .template import Template

__all__ = ["template_from_tokenizer"]

_S, _U, _U2, _A = "\x02SYS\x03", "\x02USR\x03", "\x02USR2\x03", "\x02ASST\x03"
_EMPTY_THOUGHTS = ("<think>\n\n</think>\n\n", "<think>\n</think>\n\n", "<think></think>")


def _render(tokenizer: Any, messages: list[tuple[str, str]], gen: bool) -> str:
    return tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in messages],
                                         tokenize=False, add_generation_prompt=gen)


def template_from_tokenizer(tokenizer: Any, name: str = "auto") -> Template:
    """A Template equivalent to ``tokenizer.chat_template`` on plain conversations (not registered).

    Raises ValueError when the chat template cannot be probed (no template, or it rejects
    user/assistant probes).
    """
    if not isinstance(getattr(tokenizer, "chat_template", None), str):
        raise ValueError("the tokenizer has no chat template to derive a template from")
    try:
        one = _render(tokenizer, [("user", _U)], True)
        full = _render(tokenizer, [("user", _U), ("assistant", _A)], False)
        two = _render(tokenizer, [("user", _U), ("assistant", _A), ("user", _U2)], True)
    except Exception as exc:
        raise ValueError(f"cannot render the tokenizer's chat template with probe messages: {exc}") from exc
    try:
        sys_one = _render(tokenizer, [("system", _S), ("user", _U)], True)
    except Exception:  # "System role not supported" (Gemma): fold a system into the user turn
        sys_one = None
    if sys_one is not None and _S not in sys_one:  # the template ignores system messages
        sys_one = None

    # assistant block: what the answer adds after the generation prompt
    if not full.startswith(one):
        raise ValueError("the chat template renders an answer that does not extend its generation prompt")
    answer = full[len(one):]
    reasoning = False
    for empty in _EMPTY_THOUGHTS:
        if answer.startswith(empty):
            answer, reasoning = answer[len(empty):], True
            break
    a_pre, _, a_post = answer.partition(_A)
    # user block: what follows the first answer in a two-exchange conversation
    after = two[two.find(_A) + len(_A):]
    if after.startswith(a_post):
        user_block = after[len(a_post):]
    else:
        # the answer-only render ends differently (a trailing EOS or an always-appended header):
        # the user block is what the one-exchange prompt and the two-exchange tail share at the end
        probe = one.replace(_U, _U2)
        bos = tokenizer.bos_token or ""
        if bos and probe.startswith(bos):
            probe = probe[len(bos):]
        n = 0
        while n < min(len(probe), len(after)) and probe[-1 - n] == after[-1 - n]:
            n += 1
        n = len(after) - _snap(after, len(after) - n, tokenizer)
        if n == 0 or _U2 not in after[len(after) - n:]:
            raise ValueError("cannot locate the end of the assistant turn in the chat template")
        user_block, a_post = after[len(after) - n:], after[: len(after) - n]
    user_pre = user_block[: user_block.find(_U2)]

    bos = tokenizer.bos_token or ""
    prefix = bos if bos and one.startswith(bos) and not user_block.startswith(bos) else ""
    first = one[len(prefix):]
    plain_user = user_block.replace(_U2, _U)
    # fixed text in front of every conversation (e.g. "[gMASK]<sop>"): what a prompt carries before
    # its user block whether or not it has a system message
    extra = ""
    if sys_one is not None and first != plain_user and first.endswith(plain_user):
        head = first[: len(first) - len(plain_user)]
        if sys_one[len(prefix):].startswith(head):
            extra = head
    first = first[len(extra):]

    default_system = ""
    system_slot = "{{content}}\n\n"
    folded = sys_one is None
    if sys_one is not None:
        body = sys_one[len(prefix) + len(extra):]
        if body.endswith(plain_user) and _S in body[: len(body) - len(plain_user)]:
            system_slot = body[: len(body) - len(plain_user)].replace(_S, "{{content}}")
        elif body.startswith(user_pre) and body.find(_S) < body.find(_U):
            folded = True
            system_slot = body[len(user_pre): body.find(_U)].replace(_S, "{{content}}")
        else:
            raise ValueError("cannot locate the system block in the chat template")
    if first != plain_user and first.endswith(plain_user) and not folded:
        head = first[: len(first) - len(plain_user)]
        pre, _, post = system_slot.partition("{{content}}")
        if head.startswith(pre) and head.endswith(post):
            default_system = head[len(pre): len(head) - len(post)]

    slots: list[Slot] = ([BOS] if prefix else []) + ([extra] if extra else [])
    return build_template(
        name,
        format_prefix=slots,
        format_system=_markers(system_slot, tokenizer),
        format_user=_markers(user_block.replace(_U2, "{{content}}"), tokenizer),
        format_assistant=_markers(a_pre + "{{content}}" + a_post, tokenizer),
        default_system=default_system,
        system_in_user=folded,
        reasoning=reasoning,
    )


def _markers(text: str, tokenizer: Any) -> list[Slot]:
    """Split ``text`` into slots, turning the BOS/EOS text into markers where the chat template
    writes the ``bos_token``/``eos_token`` variables (not the literal token text)."""
    source = tokenizer.chat_template
    out: list[Slot] = [text]
    for token, marker in ((tokenizer.eos_token, EOS), (tokenizer.bos_token, BOS)):
        if not token or token in source:
            continue
        split: list[Slot] = []
        for part in out:
            if not isinstance(part, str):
                split.append(part)
                continue
            pieces = part.split(token)
            for k, piece in enumerate(pieces):
                if k:
                    split.append(marker)
                if piece:
                    split.append(piece)
        out = split
    return out


def _snap(text: str, cut: int, tokenizer: Any) -> int:
    """Move ``cut`` forward so that it does not fall inside a special token's text."""
    specials = {t for t in getattr(tokenizer, "all_special_tokens", []) if t}
    specials |= {str(t) for t in getattr(tokenizer, "added_tokens_decoder", {}).values()}
    for tok in specials:
        start = text.find(tok)
        while 0 <= start < cut:
            if cut < start + len(tok):
                return _snap(text, start + len(tok), tokenizer)
            start = text.find(tok, start + 1)
    return cut
