"""Expert layouts: how the expert weights of one MoE layer are named and shaped.

Every layout stores per-expert matrices in ``nn.Linear`` (out, in) orientation:

============== ========================================================== ==========================
id             key (layer L, expert e)                                     shape
============== ========================================================== ==========================
separate       ``…layers.L.mlp.experts.e.{gate,up,down}_proj.weight``      gate/up [I, H], down [H, I]
separate-      ``…layers.L.block_sparse_moe.experts.e.{w1,w3,w2}.weight``  same (w1 gate, w3 up,
mixtral                                                                    w2 down)
merged         ``…layers.L.mlp.experts.{gate,up,down}_proj`` (optional     gate/up [E, I, H],
               ``.weight``)                                                down [E, H, I]
fused-v5       ``…layers.L.mlp.experts.gate_up_proj`` / ``…down_proj``     gate_up [E, 2I, H],
                                                                           down [E, H, I]
============== ========================================================== ==========================

``fused-v5`` is what transformers 5 holds at run time (Qwen3-MoE, Mixtral, DeepSeek-V3…):
``gate_up_proj[e]`` is ``gate[e]`` rows followed by ``up[e]`` rows (concatenated, not
interleaved: the forward does ``linear(x, gate_up_proj[e]).chunk(2, dim=-1)``). Because every
layout keeps (out, in) orientation and C order, each conversion is a rearrangement of whole
per-expert byte blocks, which is what lets the converter copy bytes instead of tensors.

Key patterns are regexes with the named groups ``prefix``, ``layer``, ``proj`` and, for the
per-expert layouts, ``expert``; output names come from a ``str.format`` template with the same
fields. Both can be overridden (``key_in`` / ``key_out``).

Example:
    >>> LAYOUTS["separate"].match("model.layers.3.mlp.experts.7.up_proj.weight")
    ExpertKey(prefix='model.', layer=3, expert=7, proj='up')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ft_core import BadInputError

# Canonical projection names; the layouts map them to their own spellings.
GATE, UP, DOWN, GATE_UP = "gate", "up", "down", "gate_up"
# Any spelling a key may use, to its canonical projection (used by custom --key-in regexes too).
PROJ_ALIASES = {"gate_proj": GATE, "w1": GATE, "up_proj": UP, "w3": UP, "down_proj": DOWN, "w2": DOWN,
                "gate_up_proj": GATE_UP}


@dataclass(frozen=True)
class ExpertKey:
    """A key decoded by a layout: ``expert`` is ``None`` for stacked layouts; ``proj`` is canonical."""

    prefix: str
    layer: int
    expert: int | None
    proj: str


@dataclass(frozen=True)
class Layout:
    """One expert layout: its kind (``separate``, ``merged``, ``fused``), key regex and output template."""

    name: str
    kind: str
    pattern: str
    template: str
    proj_names: dict[str, str]
    description: str = ""
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", compile_key_pattern(self.pattern, self.kind != "separate"))

    @property
    def projections(self) -> tuple[str, ...]:
        """Canonical projections one layer holds in this layout, in output order."""
        return (GATE_UP, DOWN) if self.kind == "fused" else (GATE, UP, DOWN)

    def match(self, key: str) -> ExpertKey | None:
        """Decode ``key``, or ``None`` when it is not an expert weight of this layout."""
        m = self.regex.match(key)
        if m is None:
            return None
        proj = PROJ_ALIASES.get(m.group("proj"))
        if proj is None or proj not in self.projections:
            return None
        expert = int(m.group("expert")) if self.kind == "separate" else None
        return ExpertKey(m.groupdict().get("prefix") or "", int(m.group("layer")), expert, proj)

    def key(self, prefix: str, layer: int, proj: str, expert: int | None = None) -> str:
        """The output key of canonical projection ``proj`` (and ``expert`` for per-expert layouts)."""
        return self.template.format(prefix=prefix, layer=layer, expert=expert, proj=self.proj_names[proj])

    def with_overrides(self, key_in: str | None = None, key_out: str | None = None) -> Layout:
        """This layout with a user regex (``key_in``) and/or output template (``key_out``)."""
        if key_in is None and key_out is None:
            return self
        if key_out is not None:
            _check_template(key_out, self.kind)
        return Layout(self.name, self.kind, key_in or self.pattern, key_out or self.template,
                      dict(self.proj_names), self.description)


def compile_key_pattern(pattern: str, stacked: bool = False) -> re.Pattern:
    """Compile a key regex, checking the named groups it must have (``BadInputError`` otherwise)."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise BadInputError(f"key pattern {pattern!r} is not a valid regex: {exc}") from exc
    needed = {"layer", "proj"} if stacked else {"layer", "proj", "expert"}
    missing = sorted(needed - set(regex.groupindex))
    if missing:
        groups = ", ".join(f"(?P<{g}>...)" for g in missing)
        raise BadInputError(f"key pattern {pattern!r} lacks the named group(s) {groups}")
    return regex


def _check_template(template: str, kind: str) -> None:
    fields = {"prefix": "", "layer": 0, "expert": 0, "proj": "x"}
    try:
        template.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise BadInputError(f"key template {template!r}: use only the fields {{prefix}} {{layer}} "
                            f"{{expert}} {{proj}} ({exc})") from exc
    needed = ("{layer}", "{proj}", "{expert}") if kind == "separate" else ("{layer}", "{proj}")
    missing = [f for f in needed if f not in template]
    if missing:
        raise BadInputError(f"key template {template!r} lacks {', '.join(missing)}")


_PREFIX = r"^(?P<prefix>.*?)layers\.(?P<layer>\d+)\."
_NAMES = {GATE: "gate_proj", UP: "up_proj", DOWN: "down_proj"}

LAYOUTS: dict[str, Layout] = {}


def register_layout(layout: Layout) -> Layout:
    """Add ``layout`` to :data:`LAYOUTS` under its name."""
    LAYOUTS[layout.name] = layout
    return layout


register_layout(Layout(
    "separate", "separate",
    _PREFIX + r"mlp\.experts\.(?P<expert>\d+)\.(?P<proj>gate_proj|up_proj|down_proj)\.weight$",
    "{prefix}layers.{layer}.mlp.experts.{expert}.{proj}.weight", dict(_NAMES),
    "per-expert nn.Linear modules (Qwen2/3-MoE, DeepSeek-V2/V3, OLMoE, LLaDA2 on the Hub)"))
register_layout(Layout(
    "separate-mixtral", "separate",
    _PREFIX + r"block_sparse_moe\.experts\.(?P<expert>\d+)\.(?P<proj>w1|w2|w3)\.weight$",
    "{prefix}layers.{layer}.block_sparse_moe.experts.{expert}.{proj}.weight",
    {GATE: "w1", UP: "w3", DOWN: "w2"}, "Mixtral per-expert naming (w1 gate, w3 up, w2 down)"))
register_layout(Layout(
    "merged", "merged",
    _PREFIX + r"mlp\.experts\.(?P<proj>gate_proj|up_proj|down_proj)(?:\.weight)?$",
    "{prefix}layers.{layer}.mlp.experts.{proj}", dict(_NAMES),
    "one stacked tensor per projection [E, out, in] (dFactory/VeOmni merged experts)"))
register_layout(Layout(
    "fused-v5", "fused",
    _PREFIX + r"mlp\.experts\.(?P<proj>gate_up_proj|down_proj)$",
    "{prefix}layers.{layer}.mlp.experts.{proj}", {GATE_UP: "gate_up_proj", DOWN: "down_proj"},
    "transformers 5 runtime layout: gate_up_proj [E, 2I, H] (gate rows, then up), down_proj [E, H, I]"))

SEPARATE_LAYOUTS = ("separate", "separate-mixtral")
STACKED_LAYOUTS = ("merged", "fused-v5")
# Model types whose per-expert checkpoints use Mixtral naming (split chooses it for them).
MIXTRAL_MODEL_TYPES = {"mixtral", "minimax", "minimax_m2", "phimoe"}


def get_layout(name: str) -> Layout:
    """The registered layout ``name`` (``BadInputError`` naming the valid ones otherwise)."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise BadInputError(f"unknown layout {name!r}; expected one of {', '.join(LAYOUTS)}") from None


def merged_with_suffix(layout: Layout, suffix: str) -> Layout:
    """The merged layout writing ``…experts.gate_proj.weight`` (``suffix="weight"``) or no suffix."""
    if suffix in ("", "none"):
        return layout
    if suffix != "weight":
        raise BadInputError(f"merged key suffix {suffix!r}: expected 'none' or 'weight'")
    return Layout(layout.name, layout.kind, layout.pattern, layout.template + ".weight",
                  dict(layout.proj_names), layout.description)
