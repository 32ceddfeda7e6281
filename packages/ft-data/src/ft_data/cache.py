"""Cache of tokenized datasets, keyed by everything that changes the result.

The key hashes: the data files' bytes (local files; hub datasets by id/subset/split), the registry
entries, the template (its name and the ids it produces for a probe conversation, so any slot or
option change shows), the tokenizer (its serialized vocabulary and special tokens), the processing
settings (stage, cutoff_len, packing, ...), the seed and the ft-data version. Entries live under
``<cache_dir or ft_home()/datasets>/<key>/`` and are written atomically.

Example:
    >>> key = cache_key(files, entries, template, tokenizer, settings)
    >>> load_cached(key, cache_root()) is None
    True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ft_core import atomic_output_dir, ft_home, get_logger

log = get_logger("ft.data")

PROBE = [{"role": "user", "content": "Probe: 1 + 1?"}, {"role": "assistant", "content": "2"}]


def cache_root(cache_dir: str | None = None) -> Path:
    return Path(cache_dir) if cache_dir else ft_home() / "datasets"


def file_digest(path: str | Path, hasher: Any) -> None:
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)


def template_fingerprint(template: Any, tokenizer: Any) -> str:
    """Name plus the ids of a probe conversation (with a system prompt) under this template."""
    parts = [str(getattr(template, "name", type(template).__name__))]
    for attr in ("efficient_eos", "enable_thinking", "preserve_thinking", "default_system"):
        parts.append(repr(getattr(template, attr, None)))
    try:
        parts.append(repr(template.encode_multiturn(tokenizer, PROBE, "Probe system.", None)))
    except Exception as exc:  # the key stays valid; it just holds less
        parts.append(type(exc).__name__)
    return "|".join(parts)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    specials = repr(sorted(getattr(tokenizer, "all_special_tokens", []) or []))
    if backend is not None:
        body = hashlib.blake2b(backend.to_str().encode(), digest_size=16).hexdigest()
    else:
        body = repr(sorted(tokenizer.get_vocab().items()))
    return f"{type(tokenizer).__name__}|{len(tokenizer)}|{specials}|{body}|{getattr(tokenizer, 'add_bos_token', None)}"


def cache_key(files: Iterable[str], sources: Iterable[str], template: Any, tokenizer: Any,
              settings: dict[str, Any]) -> str:
    """A hex digest of the data, template, tokenizer, settings and library version."""
    from . import __version__

    hasher = hashlib.blake2b(digest_size=16)
    for path in files:
        hasher.update(path.encode())
        file_digest(path, hasher)
    for source in sources:
        hasher.update(source.encode())
    hasher.update(template_fingerprint(template, tokenizer).encode())
    hasher.update(tokenizer_fingerprint(tokenizer).encode())
    hasher.update(json.dumps(settings, sort_keys=True, default=str).encode())
    hasher.update(f"ft-data {__version__}".encode())
    return hasher.hexdigest()


def load_cached(key: str, root: Path) -> dict[str, Any] | None:
    """The cached ``{"train": Dataset, "eval": ..., "meta": {...}}`` or None."""
    import datasets

    path = root / key
    meta = path / "meta.json"
    if not meta.is_file():
        return None
    out: dict[str, Any] = {"meta": json.loads(meta.read_text())}
    for part in out["meta"]["parts"]:
        out[part] = datasets.load_from_disk(str(path / part))
    return out


def save_cached(key: str, root: Path, parts: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write each non-None dataset in ``parts`` plus ``meta.json`` atomically."""
    root.mkdir(parents=True, exist_ok=True)
    with atomic_output_dir(root / key, overwrite=True) as tmp:
        names = []
        for name, ds in parts.items():
            if ds is not None:
                ds.save_to_disk(str(Path(tmp) / name))
                names.append(name)
        (Path(tmp) / "meta.json").write_text(json.dumps({**meta, "parts": names}, indent=1))
    return root / key
