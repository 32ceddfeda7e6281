"""Load a YAML or JSON config file plus ``key=value`` overrides into a pydantic model.

Errors are one line each and exit 2 (``ConfigError``): an unknown key names the file and the
closest valid keys, a wrong type names the key, the expected type and the value given, a
missing file names its path.

Example:
    >>> class TrainArgs(pydantic.BaseModel):
    ...     model_config = pydantic.ConfigDict(extra="forbid")
    ...     learning_rate: float = 1e-4
    >>> load_config(TrainArgs, "train.yaml", ["learning_rate=5e-5"]).learning_rate
    5e-05
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from .errors import ConfigError

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or JSON file holding one mapping.

    Example:
        >>> read_config_file("docs/examples/quickstart.yaml")["stage"]
        'sft'
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found (give the path of a .yaml or .json file)")
    text = p.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{p}:{line} not valid {'JSON' if p.suffix == '.json' else 'YAML'}: "
                          f"{str(exc).splitlines()[0]}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of keys to values at the top level, got {type(data).__name__}")
    return data


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """Turn ``["a=1", "b.c=x", "d=[1,2]"]`` into a nested dict; values are parsed as YAML scalars.

    Example:
        >>> parse_overrides(["lora_rank=16", "model.name=smol"])
        {'lora_rank': 16, 'model': {'name': 'smol'}}
    """
    result: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value (e.g. learning_rate=1e-4)")
        key, raw = item.split("=", 1)
        key = key.strip()
        if key.startswith("--"):  # accept LLaMA-Factory style "--lora_rank=8" too
            key = key[2:].replace("-", "_")
        if not key:
            raise ConfigError(f"override {item!r}: the key before '=' is empty")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = result
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is both a value and a section")
        node[parts[-1]] = value
    return result


def flags_to_overrides(argv: Sequence[str], keep: Iterable[str] = ()) -> list[str]:
    """LLaMA-Factory / fire style ``--key value`` (and a bare ``--flag``) as ``key=value``; other items stay.

    ``keep``: option strings that are the program's own (``--help``, ``--debug``), left as they are.

    Example:
        >>> flags_to_overrides(["--dataset", "router_test", "--cutoff_len=2048", "--skip_special_tokens"])
        ['dataset=router_test', 'cutoff_len=2048', 'skip_special_tokens=true']
    """
    argv, keep = list(argv), set(keep)
    out: list[str] = []
    i = 0
    while i < len(argv):
        item = argv[i]
        flag = item.split("=", 1)[0]
        if not item.startswith("--") or item == "--" or flag in keep:
            out.append(item)
        elif "=" in item:
            out.append(item[2:])
        else:
            key = item[2:].replace("-", "_")
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                out.append(f"{key}={argv[i + 1]}")
                i += 1
            else:
                out.append(f"{key}=true")
        i += 1
    return out


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``extra`` into a copy of ``base``; nested mappings merge, other values replace."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def closest_keys(key: str, valid: Iterable[str], n: int = 3) -> list[str]:
    """Valid keys that look like ``key`` (difflib ratio >= 0.6), best first."""
    return difflib.get_close_matches(key, list(valid), n=n, cutoff=0.6)


def _model_keys(model: type[pydantic.BaseModel]) -> list[str]:
    keys: list[str] = []
    for name, field in model.model_fields.items():
        keys.append(field.alias or name)
    return keys


def _nested_model(model: type[pydantic.BaseModel], loc: Sequence[Any]) -> type[pydantic.BaseModel] | None:
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, pydantic.BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = field.annotation
    if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
        return current
    return None


def describe_validation_error(
    exc: pydantic.ValidationError, model: type[pydantic.BaseModel], source: str
) -> str:
    """One line for the first error of a pydantic ``ValidationError``, naming key, expectation and value."""
    err = exc.errors()[0]
    loc = [p for p in err.get("loc", ()) if not isinstance(p, int)]
    key = ".".join(str(p) for p in err.get("loc", ())) or "<root>"
    kind = err.get("type", "")
    value = err.get("input")
    if kind == "extra_forbidden":
        parent = _nested_model(model, loc[:-1]) or model
        hints = closest_keys(str(loc[-1]), _model_keys(parent)) if loc else []
        hint = f"; did you mean {' or '.join(repr(h) for h in hints)}?" if hints else ""
        return f"{source}: unknown key {key!r}{hint}"
    if kind == "missing":
        return f"{source}: missing required key {key!r}"
    msg = err.get("msg", "invalid value")
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{source}: key {key!r}: {msg} (got {shown})"


def validate_config(model: type[ModelT], data: Mapping[str, Any], source: str = "config") -> ModelT:
    """Validate a mapping into ``model``; a failure becomes a one-line ``ConfigError``."""
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, model, source)) from exc


def load_config(
    model: type[ModelT],
    path: str | Path | None = None,
    overrides: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
) -> ModelT:
    """Read ``path`` (YAML/JSON, optional), apply ``key=value`` overrides, validate into ``model``.

    The error source names the file, or "command line" when the bad key came from an override.

    Example:
        >>> cfg = load_config(TrainArgs, "train.yaml", ["num_train_epochs=1"])
    """
    data: dict[str, Any] = dict(defaults or {})
    file_data: dict[str, Any] = {}
    if path is not None:
        file_data = read_config_file(path)
        data = deep_merge(data, file_data)
    over = parse_overrides(overrides)
    data = deep_merge(data, over)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        top = str(first.get("loc", ("",))[0]) if first.get("loc") else ""
        source = "command line" if top in over else (str(path) if path is not None else "config")
        raise ConfigError(describe_validation_error(exc, model, source)) from exc
