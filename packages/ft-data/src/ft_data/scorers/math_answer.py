"""The MATH scorer: the last ``\\boxed{...}`` answer, compared after the standard normalisation.

The normalisation is the one of the MATH benchmark (Hendrycks et al.): drop spaces, ``\\left`` /
``\\right``, ``\\!``, degrees, ``\\$``, ``\\%`` and trailing ``\\text{ units}``; ``tfrac``/``dfrac``
-> ``frac``; ``\\frac12`` -> ``\\frac{1}{2}``; ``\\sqrt3`` -> ``\\sqrt{3}``; ``a/b`` (integers) ->
``\\frac{a}{b}``; ``0.5`` -> ``\\frac{1}{2}``; a leading ``x =`` whose left side has at most two
characters is dropped; ``.5`` -> ``0.5``.

Example:
    >>> math_equiv("\\\\dfrac{1}{2}", "0.5")
    True
    >>> math_score("so \\\\boxed{\\\\frac{\\\\sqrt{3}}{2}}", {"ground_truth": "... $\\\\boxed{\\\\frac{\\\\sqrt3}{2}}$"})
    1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .registry import register_scorer


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` or ``\\fbox{...}`` (braces matched), or of ``\\boxed x``."""
    text = str(text)
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    rest = text[start:]
    head = "\\boxed" if rest.startswith("\\boxed") else "\\fbox"
    after = rest[len(head):]
    if after.startswith(" "):  # "\boxed 5" form: up to the closing $ (or the end)
        return after[1:].split("$")[0].strip()
    open_at = after.find("{")
    if open_at != 0:
        return None
    depth = 0
    for i, ch in enumerate(after):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return after[1:i]
    return None


def _fix_fracs(text: str) -> str:
    parts = text.split("\\frac")
    out = parts[0]
    for part in parts[1:]:
        out += "\\frac"
        if not part or part[0] == "{":
            out += part
            continue
        if len(part) < 2:
            return text
        a, b, rest = part[0], part[1], part[2:]
        out += "{" + a + "}" + (b + rest if b == "{" else "{" + b + "}" + rest)
    return out


def _fix_sqrt(text: str) -> str:
    parts = text.split("\\sqrt")
    out = parts[0]
    for part in parts[1:]:
        out += "\\sqrt" + (part if not part or part[0] == "{" else "{" + part[0] + "}" + part[1:])
    return out


def _fix_slash(text: str) -> str:
    parts = text.split("/")
    if len(parts) != 2:
        return text
    a, b = parts
    if a.isdigit() and b.isdigit() and str(int(a)) == a and str(int(b)) == b:
        return "\\frac{" + a + "}{" + b + "}"
    return text


def normalize_math(text: str) -> str:
    """The MATH benchmark's answer normalisation (see module docstring)."""
    s = str(text).replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac")
    s = s.replace("\\left", "").replace("\\right", "")
    s = s.replace("^{\\circ}", "").replace("^\\circ", "")
    s = s.replace("\\$", "")
    if "\\text{ " in s:  # trailing units: "5 \text{ cm}"
        s = s.split("\\text{ ")[0]
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if s.startswith("."):
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0].strip()) <= 2:
        s = sides[1]
    s = _fix_sqrt(s).replace(" ", "")
    s = _fix_fracs(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    return _fix_slash(s)


def math_equiv(a: str, b: str) -> bool:
    """True when two answers are equal after ``normalize_math``."""
    return normalize_math(a) == normalize_math(b)


@register_scorer("MATH", "math")
def math_score(prediction: str, example: Mapping[str, Any]) -> float:
    """1.0 when the prediction's last boxed answer equals the reference's (the whole reference
    when it has no box); a prediction without a box scores 0."""
    gold_text = str(example["ground_truth"])
    gold = last_boxed(gold_text)
    predicted = last_boxed(prediction)
    if predicted is None:
        return 0.0
    return float(math_equiv(predicted, gold if gold is not None else gold_text))
