"""Read a checkpoint's headers, find its expert weights and validate them before anything is written.

Everything here works on safetensors headers (JSON) only: no tensor is loaded and torch is not
imported. Each problem raises ``BadInputError`` (exit code 2) with one line naming the file,
layer, projection or key and what would be right.

Example:
    >>> scan = scan_checkpoint("qwen3-moe", ["separate", "separate-mixtral"])
    >>> scan.layout.name, scan.num_experts, scan.moe_layers
    ('separate', 128, [0, 1, ..., 47])
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ft_core import (
    INDEX_NAME,
    BadInputError,
    Checkpoint,
    DataError,
    TensorInfo,
    get_logger,
    read_checkpoint,
    read_header,
)

from .layouts import DOWN, GATE, GATE_UP, LAYOUTS, UP, ExpertKey, Layout, get_layout

log = get_logger("ft.moe_convert")

EXPERT_COUNT_FIELDS = ("num_experts", "n_routed_experts", "num_local_experts", "moe_num_experts")


@dataclass
class ExpertGroup:
    """The expert weights of one MoE layer: ``tensors[proj][expert]`` (expert ``None`` when stacked)."""

    prefix: str
    layer: int
    tensors: dict[str, dict[int | None, TensorInfo]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.prefix}layers.{self.layer}"


@dataclass
class Scan:
    """A validated checkpoint: its layout, expert groups (in source order) and everything else."""

    checkpoint: Checkpoint
    layout: Layout
    order: list[str]  # every tensor name, in source order (shard file, then byte offset)
    matches: dict[str, ExpertKey]  # expert tensor name -> decoded key
    groups: dict[tuple[str, int], ExpertGroup]
    num_experts: int
    config: dict

    @property
    def moe_layers(self) -> list[int]:
        return sorted({layer for _, layer in self.groups})

    @property
    def passthrough(self) -> list[str]:
        return [n for n in self.order if n not in self.matches]


def read_config(directory: Path) -> dict:
    """``config.json`` of ``directory`` as a dict ({} when absent)."""
    path = directory / "config.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc


def config_expert_count(config: dict) -> tuple[str, int] | None:
    """The first expert-count field present (top level, then ``text_config``), as ``(field, value)``."""
    for scope in (config, config.get("text_config") or {}):
        for name in EXPERT_COUNT_FIELDS:
            if isinstance(scope.get(name), int):
                return name, scope[name]
    return None


def _source_order(ckpt: Checkpoint) -> list[str]:
    rank = {f: i for i, f in enumerate(ckpt.files)}
    return sorted(ckpt.tensors, key=lambda n: (rank[ckpt.tensors[n].file], ckpt.tensors[n].start))


def _matches(layout: Layout, names: Sequence[str]) -> dict[str, ExpertKey]:
    found = {}
    for name in names:
        key = layout.match(name)
        if key is not None:
            found[name] = key
    return found


def _hits(names: list[str], layouts: Sequence[Layout]) -> dict[str, tuple[Layout, dict]]:
    hits = {lay.name: (lay, _matches(lay, names)) for lay in layouts}
    hits = {k: v for k, v in hits.items() if v[1]}
    if "fused-v5" in hits and "merged" in hits:  # they share the down_proj spelling
        fused = any(k.proj == GATE_UP for k in hits["fused-v5"][1].values())
        hits.pop("merged" if fused else "fused-v5")
    return hits


def _choose_layout(root: Path, names: list[str], candidates: Sequence[Layout]) -> tuple[Layout, dict]:
    hits = _hits(names, candidates)
    if len(hits) > 1:
        (a, (_, ma)), (b, (_, mb)) = list(hits.items())[:2]
        raise BadInputError(f"{root}: mixes expert layouts: {next(iter(ma))!r} is {a} while "
                            f"{next(iter(mb))!r} is {b}; convert one layout at a time")
    if hits:
        return next(iter(hits.values()))
    wanted = " or ".join(lay.name for lay in candidates)
    others = _hits(names, [lay for lay in LAYOUTS.values() if lay.name not in {c.name for c in candidates}])
    if others:  # the input is fine, just not what this verb reads
        name, (other, found) = next(iter(others.items()))
        verb = "merge" if other.kind == "separate" else "split"
        raise BadInputError(f"{root}: no expert weights in the {wanted} layout; {next(iter(found))!r} is "
                            f"{name} (use `{verb}` instead, or pass --layout-in/--key-in)")
    example = candidates[0].pattern if candidates else ""
    raise BadInputError(f"{root}: no expert weights found (no key matches {example!r}); "
                        "is this an MoE checkpoint? pass --key-in REGEX for other key names")


def _check_no_other_layout(root: Path, names: list[str], chosen: Layout, matched: dict) -> None:
    for other in LAYOUTS.values():
        if other.name == chosen.name:
            continue
        for name in names:
            if name not in matched and other.match(name) is not None:
                raise BadInputError(f"{root}: mixes expert layouts: {name!r} is {other.name} while "
                                    f"{next(iter(matched))!r} is {chosen.name}; convert one layout at a time")


def scan_checkpoint(path: str | Path, candidates: Sequence[str | Layout]) -> Scan:
    """Read headers of the checkpoint at ``path``, pick its layout among ``candidates``, validate."""
    root = Path(path)
    if not root.is_dir():
        raise BadInputError(f"{root}: input checkpoint directory not found")
    ckpt = read_input_checkpoint(root)
    if ckpt.index_path is not None:
        named = {f.name for f in ckpt.files}
        for stray in sorted(p.name for p in root.glob("*.safetensors") if p.name not in named):
            log.warning("%s: %s is not named in the shard index; it is ignored", root, stray)
    layouts = [c if isinstance(c, Layout) else get_layout(c) for c in candidates]
    order = _source_order(ckpt)
    layout, matched = _choose_layout(root, order, layouts)
    _check_no_other_layout(root, order, layout, matched)
    groups: dict[tuple[str, int], ExpertGroup] = {}
    for name in order:  # dict insertion order = source order of each group's first key
        key = matched.get(name)
        if key is None:
            continue
        group = groups.setdefault((key.prefix, key.layer), ExpertGroup(key.prefix, key.layer))
        slot = group.tensors.setdefault(key.proj, {})
        if key.expert in slot:
            raise BadInputError(f"{root}: {name!r} and {slot[key.expert].name!r} both decode to layer "
                                f"{key.layer} {key.proj} expert {key.expert}; fix --key-in")
        slot[key.expert] = ckpt.tensors[name]
    leftovers = [n for n in order if n not in matched and _PER_EXPERT.search(n)]
    if leftovers:
        log.warning("%s: %d per-expert tensor(s) not matched by the %s pattern pass through unchanged, e.g. %r",
                    root, len(leftovers), layout.name, leftovers[0])
    config = read_config(root)
    validate = _validate_separate if layout.kind == "separate" else _validate_stacked
    num_experts = validate(root, layout, groups)
    _check_config(root, config, num_experts, sorted({layer for _, layer in groups}))
    _check_hidden_size(root, config, next(iter(groups.values())))
    return Scan(ckpt, layout, order, matched, groups, num_experts, config)


_PER_EXPERT = re.compile(r"\.experts\.\d+\.")
SINGLE_NAME = "model.safetensors"


def read_input_checkpoint(root: Path) -> Checkpoint:
    """The checkpoint's headers: by the index, else ``model.safetensors``, else every shard (warning)."""
    files = sorted(root.glob("*.safetensors"))
    single = root / SINGLE_NAME
    if not (root / INDEX_NAME).is_file() and single.is_file() and len(files) > 1:
        others = [f.name for f in files if f != single]
        log.warning("%s: no %s; reading %s only and ignoring %s", root, INDEX_NAME, SINGLE_NAME, ", ".join(others))
        return read_checkpoint(single)
    if (root / INDEX_NAME).is_file() or len(files) <= 1:
        return read_checkpoint(root, strict_index=False)
    log.warning("%s: %d shards but no %s; reading every *.safetensors file (stray files would be included)",
                root, len(files), INDEX_NAME)
    tensors: dict[str, TensorInfo] = {}
    for f in files:
        for name, info in read_header(f).tensors.items():
            if name in tensors:
                raise DataError(f"{root}: tensor {name!r} is in both {tensors[name].file.name} and {f.name}; "
                                f"remove the stale shard or add {INDEX_NAME}")
            tensors[name] = info
    return Checkpoint(root, files, tensors)


def _check_projs(root: Path, layout: Layout, group: ExpertGroup) -> None:
    missing = [p for p in layout.projections if p not in group.tensors]
    if missing:
        names = ", ".join(layout.proj_names[p] for p in missing)
        raise BadInputError(f"{root}: {group.label} has experts but no {names} ({layout.name} layout); "
                            "the checkpoint is incomplete or --key-in matches too little")


def _shape(t: TensorInfo) -> str:
    return "[" + ", ".join(map(str, t.shape)) + "]"


def _validate_separate(root: Path, layout: Layout, groups: dict) -> int:
    num_experts = 1 + max(e for g in groups.values() for slot in g.tensors.values() for e in slot)
    for group in groups.values():
        _check_projs(root, layout, group)
        for proj, slot in group.tensors.items():
            absent = [e for e in range(num_experts) if e not in slot]
            if absent:
                shown = ", ".join(map(str, absent[:8])) + (", ..." if len(absent) > 8 else "")
                raise BadInputError(f"{root}: {group.label} {layout.proj_names[proj]} lacks expert(s) {shown}; "
                                    f"expert ids must be 0..{num_experts - 1} in every layer and projection")
            first = slot[0]
            for e in range(num_experts):
                t = slot[e]
                if len(t.shape) != 2:
                    raise BadInputError(f"{root}: {t.name} has shape {_shape(t)}; an expert weight is 2-D (out, in)")
                if t.shape != first.shape or t.dtype != first.dtype:
                    raise BadInputError(f"{root}: {t.name} is {t.dtype} {_shape(t)} but {first.name} is "
                                        f"{first.dtype} {_shape(first)}; experts of one group must match")
        _check_gate_up_down(root, group, group.tensors[GATE][0], group.tensors[UP][0], group.tensors[DOWN][0])
    return num_experts


def _check_gate_up_down(root: Path, group: ExpertGroup, gate: TensorInfo, up: TensorInfo, down: TensorInfo) -> None:
    if gate.shape != up.shape or gate.dtype != up.dtype:
        raise BadInputError(f"{root}: {group.label}: gate {gate.dtype} {_shape(gate)} and up {up.dtype} "
                            f"{_shape(up)} differ; they must have equal shapes and dtypes")
    if down.shape[-2:] != gate.shape[-2:][::-1]:
        raise BadInputError(f"{root}: {group.label}: down {_shape(down)} is not the transpose of gate "
                            f"{_shape(gate)} (expected [..., {gate.shape[-1]}, {gate.shape[-2]}])")


def _validate_stacked(root: Path, layout: Layout, groups: dict) -> int:
    counts: set[int] = set()
    for group in groups.values():
        _check_projs(root, layout, group)
        ts = {proj: slot[None] for proj, slot in group.tensors.items()}
        for t in ts.values():
            if len(t.shape) != 3:
                raise BadInputError(f"{root}: {t.name} has shape {_shape(t)}; a stacked expert weight is 3-D "
                                    "[experts, out, in]")
            counts.add(t.shape[0])
        if len({t.shape[0] for t in ts.values()}) > 1:
            raise BadInputError(f"{root}: {group.label}: stacked projections disagree on the expert count "
                                f"({', '.join(f'{t.name} {_shape(t)}' for t in ts.values())})")
        if layout.kind == "fused":
            gu, down = ts[GATE_UP], ts[DOWN]
            if gu.shape[1] % 2 or gu.dtype != down.dtype:
                raise BadInputError(f"{root}: {gu.name} {gu.dtype} {_shape(gu)} is not [E, 2*I, H] of "
                                    f"{down.dtype} like {down.name}")
            if down.shape[1:] != [gu.shape[2], gu.shape[1] // 2]:
                raise BadInputError(f"{root}: {group.label}: down {_shape(down)} does not fit gate_up "
                                    f"{_shape(gu)} (expected [E, {gu.shape[2]}, {gu.shape[1] // 2}])")
        else:
            _check_gate_up_down(root, group, ts[GATE], ts[UP], ts[DOWN])
    if len(counts) > 1:
        raise BadInputError(f"{root}: layers stack different expert counts {sorted(counts)}; every MoE layer "
                            "must hold the same number of experts")
    return counts.pop()


def _check_config(root: Path, config: dict, num_experts: int, layers: list[int]) -> None:
    found = config_expert_count(config)
    if found is not None and found[1] != num_experts:
        raise BadInputError(f"{root}/config.json: {found[0]}={found[1]} but the weights hold {num_experts} "
                            f"experts per layer; fix the config or the checkpoint")
    n = config.get("num_hidden_layers")
    if not isinstance(n, int):
        return
    expected = None
    if isinstance(config.get("first_k_dense_replace"), int):
        expected = list(range(config["first_k_dense_replace"], n))
    elif "decoder_sparse_step" in config or "mlp_only_layers" in config:
        step = config.get("decoder_sparse_step") or 1
        dense = set(config.get("mlp_only_layers") or [])
        expected = [i for i in range(n) if i not in dense and (i + 1) % step == 0]
    if expected is not None and expected != layers:
        log.warning("%s: MoE layers in the weights %s differ from those the config implies %s", root,
                    _span(layers), _span(expected))


def _check_hidden_size(root: Path, config: dict, group: ExpertGroup) -> None:
    """An (in, out) checkpoint is self-consistent too; the config's hidden_size tells them apart."""
    hidden = next((scope["hidden_size"] for scope in (config, config.get("text_config") or {})
                   if isinstance(scope.get("hidden_size"), int)), None)
    slot = group.tensors.get(GATE) or group.tensors.get(GATE_UP) or {}
    first = next(iter(slot.values()), None)
    if hidden is None or first is None or first.shape[-1] == hidden:
        return
    raise BadInputError(f"{root}: {first.name} has shape {_shape(first)} but config.json hidden_size={hidden}: "
                        "expert weights must be (out, in) with in = hidden_size; transposed (in, out) storage "
                        "is not supported")


def _span(layers: list[int]) -> str:
    if layers and layers == list(range(layers[0], layers[-1] + 1)):
        return f"{layers[0]}..{layers[-1]}"
    return str(layers)
