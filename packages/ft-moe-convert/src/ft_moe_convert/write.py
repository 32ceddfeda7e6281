"""Write planned shards by copying byte ranges: in the kernel when possible, in constant memory always.

``copy_file_range`` copies inside the kernel (no user-space buffer, and on filesystems that
support it without reading the data at all); ``sendfile`` is the next best; a buffered
``pread``/``write`` loop with one fixed 4 MiB buffer is the fallback. The first method that
works is kept for the rest of the run. ``FT_MOE_COPY=buffered`` (or ``sendfile``) forces a method.

Only a ``--dtype`` cast goes through user space (numpy, imported only then), chunk by chunk.

Example:
    >>> write_shards(plan, tmp_dir)  # -> [Path('tmp_dir/model-00001-of-00002.safetensors'), ...]
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ft_core import FtError, progress

from .plan import OutTensor, Piece, Plan

CHUNK = 4 * 1024 * 1024  # bytes per buffered read; a multiple of every dtype width
METHODS = ("copy_file_range", "sendfile", "buffered")
# errno values meaning "this method does not work for these files here", so the next one is tried.
_UNSUPPORTED = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTSUP, errno.EBADF,
                errno.ETXTBSY, errno.EPERM}


class ByteCopier:
    """Copies byte ranges from input files to the current position of an output file descriptor."""

    def __init__(self, method: str | None = None) -> None:
        method = method or os.environ.get("FT_MOE_COPY") or None
        if method is not None and method not in METHODS:
            raise FtError(f"FT_MOE_COPY={method!r}: expected one of {', '.join(METHODS)}")
        available = [m for m in METHODS if m == "buffered" or hasattr(os, m)]
        self.methods = [method] if method else available
        self._fds: dict[Path, int] = {}
        self._buffer: bytearray | None = None
        self.copied = 0

    @property
    def method(self) -> str:
        return self.methods[0]

    def fd(self, path: Path) -> int:
        if path not in self._fds:
            self._fds[path] = os.open(path, os.O_RDONLY)
        return self._fds[path]

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def copy(self, piece: Piece, out_fd: int) -> None:
        """Append ``piece``'s bytes at ``out_fd``'s position."""
        while True:
            try:
                self._copy(self.method, self.fd(piece.file), piece.start, piece.length, out_fd)
                break
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED or len(self.methods) == 1:
                    raise
                self.methods.pop(0)  # _copy undid its partial output; try the next method
        self.copied += piece.length

    def _copy(self, method: str, src: int, offset: int, length: int, dst: int) -> None:
        start = os.lseek(dst, 0, os.SEEK_CUR)
        done = 0
        try:
            while done < length:
                if method == "copy_file_range":
                    n = os.copy_file_range(src, dst, length - done, offset + done)
                elif method == "sendfile":
                    n = os.sendfile(dst, src, offset + done, length - done)
                else:
                    n = self._buffered(src, offset + done, length - done, dst)
                if n == 0:
                    raise FtError(f"{self._name(src)}: unexpected end of file at byte {offset + done} "
                                  "(was the input changed while converting?)")
                done += n
        except OSError:
            os.lseek(dst, start, os.SEEK_SET)
            os.ftruncate(dst, start)
            raise

    def _buffered(self, src: int, offset: int, length: int, dst: int) -> int:
        if self._buffer is None:
            self._buffer = bytearray(CHUNK)
        view = memoryview(self._buffer)[: min(length, CHUNK)]
        n = os.preadv(src, [view], offset)
        written = 0
        while written < n:
            written += os.write(dst, view[written:n])
        return n

    def read_chunks(self, piece: Piece) -> Iterator[memoryview]:
        """``piece``'s bytes in chunks of at most ``CHUNK`` (one reused buffer; consume before the next)."""
        if self._buffer is None:
            self._buffer = bytearray(CHUNK)
        view = memoryview(self._buffer)
        src, done = self.fd(piece.file), 0
        while done < piece.length:
            n = os.preadv(src, [view[: min(piece.length - done, CHUNK)]], piece.start + done)
            if n == 0:
                raise FtError(f"{piece.file}: unexpected end of file at byte {piece.start + done}")
            yield view[:n]
            done += n

    def _name(self, fd: int) -> str:
        return next((str(p) for p, f in self._fds.items() if f == fd), f"fd {fd}")


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_shards(plan: Plan, directory: Path, method: str | None = None,
                 on_tensor: Callable[[OutTensor], None] | None = None) -> tuple[list[Path], str]:
    """Write every shard of ``plan`` into ``directory``; returns the files written and the copy method used."""
    copier = ByteCopier(method)
    caster = None
    written: list[Path] = []
    total = sum(len(s.tensors) for s in plan.shards)
    items = ((shard, t) for shard in plan.shards for t in shard.tensors)
    fds: dict[str, int] = {}
    try:
        for shard, tensor in progress(items, total=total, description="copying tensors"):
            if shard.name not in fds:
                for fd in fds.values():
                    os.close(fd)
                fds.clear()
                path = directory / shard.name
                fds[shard.name] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                _write_all(fds[shard.name], shard.header)
                written.append(path)
            out = fds[shard.name]
            if tensor.dtype == tensor.src_dtype:
                for piece in tensor.pieces:
                    copier.copy(piece, out)
            else:
                if caster is None:
                    from .cast import cast_bytes  # numpy only when a cast is asked for

                    caster = cast_bytes
                for piece in tensor.pieces:
                    for chunk in copier.read_chunks(piece):
                        _write_all(out, caster(chunk, tensor.src_dtype, tensor.dtype))
            if on_tensor is not None:
                on_tensor(tensor)
        # Empty shards (a checkpoint with no tensors) still need their header.
        for shard in plan.shards:
            if not shard.tensors:
                path = directory / shard.name
                path.write_bytes(shard.header)
                written.append(path)
    finally:
        for fd in fds.values():
            os.close(fd)
        copier.close()
    for path, shard in zip(written, plan.shards):
        if path.stat().st_size != shard.nbytes:  # cheap end-to-end check of the whole copy
            raise FtError(f"{path}: wrote {path.stat().st_size} bytes, planned {shard.nbytes}")
    return written, copier.method
