"""The seccomp filter of the sandbox, compiled by libseccomp's own Python binding.

The binding is Debian's ``python3-seccomp`` (libseccomp's official one, kept up to date by the
distribution); it is built for the system interpreter, so the filter is compiled once per process
by running ``/usr/bin/python3`` (or ``FT_SANDBOX_SECCOMP_PYTHON``) and the BPF bytes are cached.
Where the binding is missing the sandbox runs without seccomp and says so in
``probe_isolation().seccomp`` (namespaces and the dropped uid are the boundary; seccomp narrows
the kernel surface the program can reach).

The filter allows everything except, with ``EPERM``: new namespaces (``unshare``, ``setns``,
``clone`` with a namespace flag; ``clone3`` gets ``ENOSYS`` so the C library falls back to
``clone``, whose flags can be checked), mounting and pivoting, ``ptrace`` and cross-process
memory access, kernel modules, kexec, reboot, swap, ``bpf``, ``perf_event_open``,
``userfaultfd``, io_uring, the keyring, handle-based opens, clock setting, terminal input
injection (``TIOCSTI``) and sockets of any family but ``AF_UNIX``. System calls of another
architecture (e.g. 32-bit x86 on x86-64) kill the process: libseccomp's default.

Example:
    >>> bpf = seccomp_filter()
    >>> bpf is None or len(bpf) % 8 == 0
    True
"""

from __future__ import annotations

import functools
import os
import subprocess

_DENIED = ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
           "fsmount", "fsconfig", "fspick", "mount_setattr", "ptrace", "process_vm_readv", "process_vm_writev",
           "kcmp", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
           "swapon", "swapoff", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
           "io_uring_register", "keyctl", "add_key", "request_key", "open_by_handle_at", "name_to_handle_at",
           "acct", "quotactl", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
           "setdomainname", "iopl", "ioperm", "syslog", "lookup_dcookie", "personality", "vhangup")

# Runs under the system interpreter, which has the binding; writes the BPF program to stdout.
_COMPILE = r'''
import errno, os, socket, sys, termios
import seccomp as s
f = s.SyscallFilter(defaction=s.ALLOW)
for name in sys.argv[1].split(","):
    try:
        f.add_rule(s.ERRNO(errno.EPERM), name)
    except (RuntimeError, ValueError, OSError):
        pass  # not a system call of this architecture
f.add_rule(s.ERRNO(errno.ENOSYS), "clone3")
for flag in (0x10000000, 0x20000000, 0x40000000, 0x08000000, 0x04000000, 0x00020000, 0x02000000, 0x00000080):
    # CLONE_NEWUSER, NEWPID, NEWNET, NEWIPC, NEWUTS, NEWNS, NEWCGROUP, NEWTIME
    f.add_rule(s.ERRNO(errno.EPERM), "clone", s.Arg(0, s.MASKED_EQ, flag, flag))
f.add_rule(s.ERRNO(errno.EPERM), "socket", s.Arg(0, s.NE, socket.AF_UNIX))
f.add_rule(s.ERRNO(errno.EPERM), "ioctl", s.Arg(1, s.MASKED_EQ, 0xFFFFFFFF, termios.TIOCSTI))
sys.stdout.flush()
f.export_bpf(sys.stdout)
'''


def seccomp_python() -> str:
    """The interpreter that has libseccomp's binding (``FT_SANDBOX_SECCOMP_PYTHON``, else /usr/bin/python3)."""
    return os.environ.get("FT_SANDBOX_SECCOMP_PYTHON", "/usr/bin/python3")


@functools.cache
def _compiled() -> tuple[bytes | None, str]:
    python = seccomp_python()
    if not os.path.isfile(python):
        return None, f"{python} not found (install python3-seccomp)"
    try:
        done = subprocess.run([python, "-I", "-c", _COMPILE, ",".join(_DENIED)], capture_output=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{python}: {exc}"
    if done.returncode != 0 or not done.stdout or len(done.stdout) % 8:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        return None, f"libseccomp's binding did not compile the filter ({last}; install python3-seccomp)"
    return done.stdout, ""


def seccomp_filter() -> bytes | None:
    """The compiled filter (BPF, 8 bytes an instruction), or None where libseccomp's binding is missing."""
    return _compiled()[0]


def seccomp_missing() -> str:
    """Why there is no filter ('' when there is one)."""
    return _compiled()[1]
