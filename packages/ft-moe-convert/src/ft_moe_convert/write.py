"""Write planned shards by copying byte ranges: in the kernel when possible, in constant memory always.

Every output byte has a planned place (absolute offsets on both sides). Copies run in output
order, so each output shard is written front to back as ``cp`` writes it; measured on ext4,
this beat input order (sequential reads, scattered writes) for split and tied for merge,
because scattered dirty pages make writeback fragment. Ranges contiguous on both sides are
coalesced into one copy. ``copy_file_range`` copies inside the kernel (no user-space
buffer); ``sendfile`` is the next best; a ``pread``/``pwrite`` loop with one fixed 4 MiB buffer
is the fallback. The first method that works is kept for the rest of the run;
``FT_MOE_COPY=buffered`` (or ``sendfile``) forces one.

Only a ``--dtype`` cast goes through user space (numpy, imported only then), chunk by chunk,
in output order.

Example:
    >>> files, method = write_shards(plan, tmp_dir)
    >>> method
    'copy_file_range'
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ft_core import FtError, progress

from .plan import Piece, Plan, Shard

CHUNK = 4 * 1024 * 1024  # bytes per buffered read; a multiple of every dtype width
MAX_OPEN_INPUTS = 64
METHODS = ("copy_file_range", "sendfile", "buffered")
# errno values meaning "this method does not work for these files here", so the next one is tried.
_UNSUPPORTED = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTSUP, errno.EBADF,
                errno.ETXTBSY, errno.EPERM}


@dataclass
class CopyJob:
    """Copy ``length`` bytes from ``src`` at ``src_offset`` to output ``dst`` (fd) at ``dst_offset``."""

    src: Path
    src_offset: int
    length: int
    dst: int
    dst_offset: int


class ByteCopier:
    """Copies byte ranges between files by absolute offsets, with the best method the system allows."""

    def __init__(self, method: str | None = None) -> None:
        method = method or os.environ.get("FT_MOE_COPY") or None
        if method is not None and method not in METHODS:
            raise FtError(f"copy method {method!r}: expected one of {', '.join(METHODS)}")
        self.methods = [method] if method else [m for m in METHODS if m == "buffered" or hasattr(os, m)]
        self._fds: dict[Path, int] = {}
        self._buffer: memoryview | None = None
        self.copied = 0

    @property
    def method(self) -> str:
        return self.methods[0]

    @property
    def buffer(self) -> memoryview:
        if self._buffer is None:
            self._buffer = memoryview(bytearray(CHUNK))
        return self._buffer

    def fd(self, path: Path) -> int:
        if path not in self._fds:
            if len(self._fds) >= MAX_OPEN_INPUTS:  # output order moves through the inputs: drop the oldest
                os.close(self._fds.pop(next(iter(self._fds))))
            self._fds[path] = os.open(path, os.O_RDONLY)
        return self._fds[path]

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def copy(self, job: CopyJob) -> None:
        """Run one job, falling back to the next method when the current one is unsupported here."""
        while True:
            try:
                self._copy(self.method, self.fd(job.src), job)
                break
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED or len(self.methods) == 1:
                    raise
                self.methods.pop(0)  # offsets are absolute: the next method simply redoes the range
        self.copied += job.length

    def _copy(self, method: str, src: int, job: CopyJob) -> None:
        done = 0
        while done < job.length:
            todo, s_off, d_off = job.length - done, job.src_offset + done, job.dst_offset + done
            if method == "copy_file_range":
                n = os.copy_file_range(src, job.dst, todo, s_off, d_off)
            elif method == "sendfile":
                os.lseek(job.dst, d_off, os.SEEK_SET)
                n = os.sendfile(job.dst, src, s_off, todo)
            else:
                view = self.buffer[: min(todo, CHUNK)]
                n = os.preadv(src, [view], s_off)
                if n:
                    _pwrite_all(job.dst, view[:n], d_off)
            if n == 0:
                raise FtError(f"{job.src}: unexpected end of file at byte {s_off} (was it changed while converting?)")
            done += n

    def read_chunks(self, piece: Piece) -> Iterator[memoryview]:
        """``piece``'s bytes in chunks of at most ``CHUNK`` (one reused buffer; consume before the next)."""
        src, done = self.fd(piece.file), 0
        while done < piece.length:
            view = self.buffer[: min(piece.length - done, CHUNK)]
            n = os.preadv(src, [view], piece.start + done)
            if n == 0:
                raise FtError(f"{piece.file}: unexpected end of file at byte {piece.start + done}")
            yield view[:n]
            done += n


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def shard_jobs(shard: Shard, fd: int) -> list[CopyJob]:
    """The byte ranges of one output shard (open as ``fd``), in output order, contiguous ranges coalesced."""
    jobs: list[CopyJob] = []
    offset = len(shard.header)
    for tensor in shard.tensors:
        for piece in tensor.pieces:
            last = jobs[-1] if jobs else None
            if last is not None and last.src == piece.file and last.src_offset + last.length == piece.start:
                last.length += piece.length  # destination is contiguous by construction
            else:
                jobs.append(CopyJob(piece.file, piece.start, piece.length, fd, offset))
            offset += piece.length
    return jobs


def _open_shards(plan: Plan, directory: Path, written: list[Path]) -> Iterator[tuple[Shard, int]]:
    """Each shard opened and its header written, one at a time; closed when the caller moves on."""
    for shard in plan.shards:
        path = directory / shard.name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        written.append(path)
        try:
            _pwrite_all(fd, memoryview(shard.header), 0)
            yield shard, fd
        finally:
            os.close(fd)


def _copy_work(plan: Plan, directory: Path, written: list[Path]) -> Iterator[CopyJob]:
    for shard, fd in _open_shards(plan, directory, written):
        yield from shard_jobs(shard, fd)


def write_shards(plan: Plan, directory: Path, method: str | None = None) -> tuple[list[Path], str]:
    """Write every shard of ``plan`` into ``directory``; returns the files written and the copy method used."""
    copier = ByteCopier(method)
    written: list[Path] = []
    try:
        if plan.dtype is None:
            work = _copy_work(plan, directory, written)
            total = sum(len(shard_jobs(shard, -1)) for shard in plan.shards)
            try:
                for job in progress(work, total=total, description="copying byte ranges"):
                    copier.copy(job)
            finally:
                work.close()
            expected = sum(t.nbytes for t in plan.tensors)
            if copier.copied != expected:  # guards the planning arithmetic
                raise FtError(f"copied {copier.copied} bytes but planned {expected}")
        else:
            _write_cast(plan, directory, written, copier)
    finally:
        copier.close()
    for path, shard in zip(written, plan.shards):
        if path.stat().st_size != shard.nbytes:
            raise FtError(f"{path}: wrote {path.stat().st_size} bytes, planned {shard.nbytes}")
    return written, ("cast" if plan.dtype else copier.method)


def _write_cast(plan: Plan, directory: Path, written: list[Path], copier: ByteCopier) -> None:
    from .cast import cast_bytes  # numpy only when a cast is asked for

    shards = _open_shards(plan, directory, written)
    try:
        for shard, fd in progress(shards, total=len(plan.shards), description="casting shards"):
            offset = len(shard.header)
            for tensor in shard.tensors:
                for piece in tensor.pieces:
                    for chunk in copier.read_chunks(piece):
                        data = memoryview(chunk if tensor.dtype == tensor.src_dtype
                                          else cast_bytes(chunk, tensor.src_dtype, tensor.dtype))
                        _pwrite_all(fd, data, offset)
                        offset += len(data)
    finally:
        shards.close()
