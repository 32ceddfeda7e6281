"""Atomic outputs: a directory or file appears complete under its final name, or not at all.

A directory is written into a temporary sibling (same filesystem, so the final ``rename`` is
atomic) and renamed on success; on an exception, ``KeyboardInterrupt`` or SIGTERM the sibling
is removed and the target is left as it was. A non-empty target is refused unless
``overwrite=True``, in which case the old directory is replaced only after the new one is
complete.

Example:
    >>> with atomic_output_dir("out/merged", overwrite=False) as tmp:
    ...     (tmp / "config.json").write_text("{}")
    >>> sorted(p.name for p in Path("out/merged").iterdir())
    ['config.json']
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .errors import BadInputError, OutputExistsError


def _is_nonempty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def check_output_dir(target: str | Path, overwrite: bool = False) -> Path:
    """Refuse a target that exists and is non-empty unless ``overwrite`` (raises ``OutputExistsError``)."""
    path = Path(target)
    if path.exists() and not path.is_dir():
        raise BadInputError(f"{path}: output path exists and is a file; give a directory path")
    if _is_nonempty_dir(path) and not overwrite:
        raise OutputExistsError(
            f"{path}: output directory is not empty; choose another path or set overwrite_output_dir: true"
        )
    return path


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so cleanup runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not allowed in this context
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def atomic_output_dir(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling directory of ``target``; rename it to ``target`` on success."""
    path = check_output_dir(target, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        with _sigterm_as_interrupt():
            yield tmp
            if path.exists():
                # Re-check: something may have appeared while we were writing.
                check_output_dir(path, overwrite)
                trash = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, trash)
                os.replace(tmp, path)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, fsync: bool = True) -> Iterator[BinaryIO]:
    """A binary file handle whose content appears at ``path`` only when the block succeeds.

    Writes into a temporary sibling and renames it over ``path`` on success; on any exception
    the sibling is removed and ``path`` is untouched. For outputs streamed in pieces (too large
    to assemble in memory first); ``atomic_write_bytes`` is the one-shot form.

    Example:
        >>> with atomic_open("out/records.json") as fh:
        ...     fh.write(b"[]")
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory and ``os.replace``.

    ``fsync=False`` skips flushing to disk: for files inside a directory that is itself made
    atomic by ``atomic_output_dir`` (on ext4 an fsync can wait for gigabytes of other dirty data).
    """
    with atomic_open(path, fsync=fsync) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, fsync: bool = True) -> Path:
    """Write UTF-8 ``text`` atomically (see ``atomic_write_bytes``)."""
    return atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2, ensure_ascii: bool = False,
                      fsync: bool = True) -> Path:
    """Write ``obj`` as JSON atomically; non-ASCII is kept, a trailing newline is added."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=ensure_ascii) + "\n", fsync=fsync)
