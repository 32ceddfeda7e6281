"""The start-up code that runs inside the sandbox, before and around the untrusted program.

The host never imports this module to run it: ``guard_source()`` hands its text to the sandboxed
interpreter as ``python -I -S -B -c <text> <config JSON>``, so it must use the standard library
only. In order, it:

1. (unshare backend only) builds the filesystem view: a read-only tmpfs root holding read-only
   binds of the Python installation and system libraries, the program's own directory at
   ``/sandbox``, a ``/proc`` of the new PID namespace and a minimal ``/dev``; then
   ``pivot_root`` into it and detaches the host's tree (bwrap does all this itself);
2. (weak backend only) tries a private network namespace, as the former sandbox did; the weak
   backend also keeps the caller's user (the host's files, the Python installation included, may
   not be readable by nobody);
3. (bwrap and unshare backends) drops root for good: ``setgroups([])``, ``setresgid``,
   ``setresuid`` to the sandbox user (65534, nobody), then checks that ``setuid(0)`` fails; in
   every backend, then sets ``PR_SET_NO_NEW_PRIVS``;
4. loads the seccomp filter (unshare and weak backends; bwrap loads it with ``--seccomp``);
5. sets the resource limits (address space, CPU seconds, file size, processes, no core dumps);
6. installs the audit hook (a second layer, off only in the tests that prove the OS layer alone);
7. runs ``program.py`` and, only when it ran to its end, writes the run's nonce to the status file.

Example (what the host runs; the config keys are those of ``ft_core.sandbox.run``):
    python -I -S -B -c "$(guard_source())" '{"workdir": "/sandbox", "nonce": "…", ...}'
"""

from __future__ import annotations

import json
import os
import sys

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
_MNT_DETACH = 0x2
_CLONE_NEWNET = 0x40000000
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}


def _libc():
    import ctypes

    return ctypes, ctypes.CDLL(None, use_errno=True)


def _call(result: int, what: str) -> None:
    if result != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"sandbox set-up: {what}: {os.strerror(err)}")


def build_root(setup: dict) -> None:
    """Mount the view under ``setup['root']`` (an empty host directory) and pivot into it."""
    ctypes, libc = _libc()
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

    def enc(text):
        return None if text is None else os.fsencode(text)

    def mount(source, target, fstype, flags, data=None):
        _call(libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")

    def bind(source, target, flags):
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        mount(source, target, None, _MS_BIND)  # not recursive: mounts below the source stay out
        # A bind mount takes its flags only from a remount.
        mount(None, target, None, _MS_REMOUNT | _MS_BIND | flags)

    os.umask(0o022)
    root = setup["root"]
    mount(None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing done here propagates to the host
    mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=0755")
    for kind, source, dest in setup["mounts"]:
        target = root + dest
        if kind == "symlink":
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(source, target)
        elif kind == "ro":
            bind(source, target, _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
        elif kind == "rw":
            bind(source, target, _MS_NOSUID | _MS_NODEV)
        elif kind == "proc":
            os.makedirs(target, exist_ok=True)
            mount("proc", target, "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
        elif kind == "dev":
            os.makedirs(target, exist_ok=True)
            mount("tmpfs", target, "tmpfs", _MS_NOSUID | _MS_NOEXEC, "size=64k,mode=0755")
            for name in ("null", "zero", "full", "random", "urandom"):
                bind(f"/dev/{name}", f"{target}/{name}", _MS_NOSUID | _MS_NOEXEC)
            os.symlink("/proc/self/fd", f"{target}/fd")
        else:
            raise ValueError(f"sandbox set-up: unknown mount kind {kind!r}")
    import platform

    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"sandbox set-up: pivot_root's number on {platform.machine()} is not known")
    os.chdir(root)
    _call(libc.syscall(number, b".", b"."), "pivot_root")  # the old root is now stacked under the new one
    _call(libc.umount2(b".", _MNT_DETACH), "detach the host's root")
    os.chdir("/")
    mount(None, "/", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    _call(libc.sethostname(b"sandbox", 7), "sethostname")


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary groups, irreversibly (root only; others stay)."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise SystemExit("sandbox: could not drop root")


def no_new_privileges() -> None:
    """``PR_SET_NO_NEW_PRIVS``: no exec gains privileges (setuid files); lets anyone load seccomp."""
    _ctypes, libc = _libc()
    _call(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def load_seccomp(bpf: bytes) -> None:
    """Install a compiled seccomp filter (``bpf``: the bytes libseccomp's ``export_bpf`` wrote)."""
    ctypes, libc = _libc()

    class _Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buffer = ctypes.create_string_buffer(bpf, len(bpf))
    program = _Program(len(bpf) // 8, ctypes.addressof(buffer))  # 8 bytes per sock_filter instruction
    _call(libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0), "load the seccomp filter")


def set_limits(limits: dict) -> None:
    """Address space, CPU seconds, file size, processes (bytes and counts), no core dumps."""
    import resource

    for name, value in (("RLIMIT_AS", limits["memory"]), ("RLIMIT_CPU", limits["cpu"]),
                        ("RLIMIT_FSIZE", limits["fsize"]), ("RLIMIT_CORE", 0), ("RLIMIT_NPROC", limits["nproc"])):
        resource.setrlimit(getattr(resource, name), (value, value))


_BLOCKED_PREFIXES = ("socket.", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "ctypes.", "subprocess.",
                     "pty.", "http.client.", "urllib.", "ftplib.", "smtplib.", "nntplib.", "poplib.", "imaplib.",
                     "telnetlib.", "webbrowser.")
_BLOCKED = {"os.system", "os.kill", "os.killpg", "signal.pthread_kill", "os.chroot", "sys.addaudithook"}
_PATH_EVENTS = {"os.remove", "os.rmdir", "os.rename", "os.truncate", "os.chmod", "os.chown", "os.link",
                "os.symlink", "os.mkdir", "shutil.rmtree", "shutil.copyfile", "shutil.move", "os.utime"}


def audit_hook(root: str):
    """The second layer: refuse process creation, sockets, ctypes, signals and writes outside ``root``."""
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def inside(path) -> bool:
        if isinstance(path, int):
            return True
        try:
            real = os.path.realpath(os.fsdecode(path))
        except Exception:
            return False
        return real == root or real.startswith(root + os.sep)

    def hook(event, args):
        if event in _BLOCKED or event.startswith(_BLOCKED_PREFIXES):
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event in _PATH_EVENTS:
            if not all(inside(a) for a in args if isinstance(a, str | bytes | os.PathLike)):
                raise PermissionError(f"sandbox: {event} outside the sandbox directory")
        elif event == "open":
            path, mode, flags = [*args, None, None][:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & write_flags)
            if writing and path is not None and not inside(path):
                raise PermissionError("sandbox: writing outside the sandbox directory")

    return hook


def main(config: dict) -> None:
    seccomp = None
    if config.get("seccomp"):
        with open(config["seccomp"], "rb") as fh:  # read while the host path is still visible
            seccomp = fh.read()
    if config.get("setup"):
        build_root(config["setup"])
    if config.get("netns"):
        try:  # weak backend: a private, empty network namespace where root allows it
            _ctypes, libc = _libc()
            libc.unshare(_CLONE_NEWNET)
        except OSError:
            pass
    if config.get("drop", True):
        drop_privileges(config["uid"], config["gid"])
    workdir = config["workdir"]
    os.chdir(workdir)  # after the drop: the directory belongs to the sandbox user, mode 0700
    no_new_privileges()
    if seccomp:
        load_seccomp(seccomp)
    set_limits(config["limits"])
    for name in [n for n in sys.modules if n == "ctypes" or n.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[name]  # the program imports its own (audited) copy if it wants one
    with open("program.py", encoding="utf-8") as fh:
        code = compile(fh.read(), "program.py", "exec")
    status, nonce = os.path.join(workdir, config["status"]), config["nonce"]
    sys.argv[:] = ["program.py"]
    if config.get("hook", True):
        sys.addaudithook(audit_hook(os.path.realpath(workdir)))
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    # Reached only when the whole program ran: an early exit (os._exit(0), SystemExit) is no pass.
    with open(status, "w") as fh:
        fh.write(nonce)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))


def guard_source() -> str:
    """The text of this module, as the sandboxed interpreter runs it."""
    with open(__file__, encoding="utf-8") as fh:
        return fh.read()
