"""Programs that try to break out of the sandbox, run below the audit hook (``audit_hook=False``)
on each OS backend: the host must be unharmed and the run must end with the status it should.

Each program ends by asserting that its escape worked, so a contained escape is ``failed`` (or
``timeout`` for the bombs); the host-side checks (marker files, the loopback server, the sleeping
process, a signal handler) decide whether anything got out. The fork_exec and ctypes cases also
run on the weak backend as a control: there they do reach the host, so these checks can fail.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ft_core.sandbox import SandboxLimits, execute
from ft_core.sandbox.backends import backend_unavailable
from ft_core.sandbox.seccomp import seccomp_filter

REPO = Path(__file__).resolve().parents[3]
LIMITS = SandboxLimits(timeout=10)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the escape tests run as root, the way CI does")


@pytest.fixture(params=["bwrap", "unshare"])
def backend(request):
    reason = backend_unavailable(request.param)
    if reason:
        pytest.skip(f"this machine cannot run the {request.param} backend: {reason}")
    return request.param


def run(program: str, backend: str, limits: SandboxLimits = LIMITS):
    return execute(program, limits, backend, audit_hook=False)


def fork_exec_program(marker: Path) -> str:
    return f"""
import _posixsubprocess, os
args = [b"/bin/sh", b"-c", b"touch {marker}"]
errpipe_read, errpipe_write = os.pipe()
common = (args, [b"/bin/sh"], True, (), None, None, -1, -1, -1, -1, -1, -1, errpipe_read, errpipe_write,
          True, False)
try:  # the argument list grew over Python versions (process_group in 3.11)
    pid = _posixsubprocess.fork_exec(*common, -1, None, None, None, -1, None, False)
except TypeError:
    pid = _posixsubprocess.fork_exec(*common, None, None, None, -1, None)
os.close(errpipe_write)
os.waitpid(pid, 0)
assert os.path.exists({str(marker)!r}), "escape failed"
"""


def ctypes_program(marker: Path) -> str:
    return f"""
import ctypes, _ctypes
ctypes.CDLL(None).system(b"touch {marker}.a")
system = _ctypes.dlsym(_ctypes.dlopen(None, 2), "system")
_ctypes.call_function(system, (b"touch {marker}.b",))
import os
assert os.path.exists({str(marker)!r} + ".a") or os.path.exists({str(marker)!r} + ".b"), "escape failed"
"""


def test_fork_exec_shell_cannot_touch_the_host(backend, tmp_path):
    marker = tmp_path / "fork_exec_marker"
    result = run(fork_exec_program(marker), backend)
    assert not marker.exists()
    assert result.status == "failed" and "escape failed" in result.detail, result


def test_ctypes_system_cannot_touch_the_host(backend, tmp_path):
    marker = tmp_path / "ctypes_marker"
    result = run(ctypes_program(marker), backend)
    assert not any(tmp_path.iterdir())
    assert result.status == "failed" and "escape failed" in result.detail, result


def test_control_the_weak_backend_without_the_hook_lets_them_out(tmp_path):
    # The same programs get out where only Python guards: the checks above can see an escape.
    limits = SandboxLimits(timeout=10, allow_weak_isolation=True)
    marker = tmp_path / "weak_marker"
    assert execute(fork_exec_program(marker), limits, "weak", audit_hook=False).passed
    assert marker.exists()
    ctypes_marker = tmp_path / "weak_ctypes"
    execute(ctypes_program(ctypes_marker), limits, "weak", audit_hook=False)
    assert Path(f"{ctypes_marker}.a").exists() and Path(f"{ctypes_marker}.b").exists()


def test_os_fork_exec_spawn_and_posix_spawn(backend, tmp_path):
    marker = tmp_path / "os_marker"
    program = f"""
import os
sh = ["/bin/sh", "-c", "touch {marker}"]
pid = os.fork()
if pid == 0:
    try:
        os.execv("/bin/sh", sh)
    finally:
        os._exit(1)
os.waitpid(pid, 0)
os.waitpid(os.posix_spawn("/bin/sh", sh, {{}}), 0)
os.spawnv(os.P_WAIT, "/bin/sh", sh)
os.system("touch {marker}")
assert os.path.exists({str(marker)!r}), "escape failed"
"""
    result = run(program, backend)
    assert not marker.exists()
    assert result.status == "failed" and "escape failed" in result.detail, result


def test_subprocess_and_multiprocessing(backend, tmp_path):
    marker = tmp_path / "mp_marker"
    program = f"""
import multiprocessing, os, subprocess
subprocess.run(["/bin/sh", "-c", "touch {marker}.sub"])
def write():
    open({str(marker)!r} + ".mp", "w").write("x")
ctx = multiprocessing.get_context("fork")
p = ctx.Process(target=write)
p.start()
p.join()
assert os.path.exists({str(marker)!r} + ".sub") or os.path.exists({str(marker)!r} + ".mp"), "escape failed"
"""
    result = run(program, backend)
    assert not any(tmp_path.iterdir())
    assert result.status == "failed", result


@pytest.fixture
def loopback_server():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_sockets_cannot_reach_a_host_server(backend, loopback_server):
    port, accepted = loopback_server
    program = f"""
import socket, _socket
reached = []
for make in (lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2),
             lambda: _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)):
    try:
        s = make()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", {port}))
        except OSError as exc:
            if exc.errno == 106:  # already connected by create_connection
                reached.append(s)
        else:
            reached.append(s)
    except OSError as exc:
        print("refused:", exc)
assert reached, "escape failed"
"""
    result = run(program, backend)
    time.sleep(0.5)  # the server thread accepts within 0.2 s
    assert accepted == []
    assert result.status == "failed" and "escape failed" in result.detail, result
    # Both attempts fail, one way or another (no route in the empty network namespace, seccomp).
    assert result.stdout.count("refused:") == 2, result.stdout


def test_writes_to_absolute_paths_and_through_proc(backend, tmp_path):
    tmp_marker = Path(f"/tmp/ft-sandbox-escape-{secrets.token_hex(6)}")
    targets = [tmp_marker, tmp_path / "abs", Path(f"/proc/self/root{tmp_path}/self_root"),
               Path(f"/proc/1/root{tmp_path}/pid1_root"), Path(f"/proc/1/root{tmp_marker}.pid1")]
    program = f"""
written = []
for path in {[str(t) for t in targets]!r}:
    try:
        with open(path, "w") as fh:
            fh.write("x")
        written.append(path)
    except OSError as exc:
        print("refused:", path, exc)
assert written, "escape failed"
"""
    try:
        result = run(program, backend)
        assert not tmp_marker.exists() and not Path(f"{tmp_marker}.pid1").exists()
        assert not any(tmp_path.iterdir())
        assert result.status == "failed" and result.stdout.count("refused:") == len(targets), result
    finally:
        for path in (tmp_marker, Path(f"{tmp_marker}.pid1")):
            path.unlink(missing_ok=True)


def test_home_and_project_checkout_are_unreadable(backend):
    secret = Path.home() / f".ft-sandbox-secret-{secrets.token_hex(6)}"
    secret.write_text("the secret " + secrets.token_hex(8))
    secret.chmod(0o644)  # readable by anyone who can reach it: only the view keeps it out
    pyproject = REPO / "pyproject.toml"
    assert pyproject.is_file()
    program = f"""
import os
seen = []
for path in ({str(secret)!r}, {str(pyproject)!r}, "/proc/1/root" + {str(pyproject)!r}):
    try:
        seen.append(open(path).read())
    except OSError as exc:
        print("refused:", path, exc)
print("home holds", sorted(os.listdir({str(Path.home())!r})) if os.path.isdir({str(Path.home())!r}) else [])
assert seen, "escape failed"
"""
    try:
        result = run(program, backend)
    finally:
        secret.unlink()
    assert result.status == "failed" and result.stdout.count("refused:") == 3, result
    assert "the secret" not in result.stdout and "[project]" not in result.stdout.replace("[tool", "")
    listing = next(line for line in result.stdout.splitlines() if line.startswith("home holds"))
    assert secret.name not in listing  # the home the program sees is not the host's


def test_signals_cannot_reach_host_processes(backend):
    sleeper = subprocess.Popen(["sleep", "60"])
    got: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
    try:
        program = f"""
import os, signal
hit = []
for pid, sig in (({sleeper.pid}, signal.SIGKILL), ({os.getpid()}, signal.SIGUSR1)):
    try:
        os.kill(pid, sig)
        hit.append(pid)
    except OSError as exc:
        print("refused:", pid, exc)
assert hit, "escape failed"
"""
        result = run(program, backend)
        time.sleep(0.2)
        assert sleeper.poll() is None, "the host's sleeping process was killed"
        assert got == []
        assert result.status == "failed" and result.stdout.count("refused:") == 2, result
    finally:
        signal.signal(signal.SIGUSR1, previous)
        sleeper.kill()
        sleeper.wait()


def _sandbox_user_pids() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                uid_line = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("Uid:"))
            except (OSError, StopIteration):
                continue
            if uid_line.split()[1] == "65534":
                pids.add(int(entry.name))
    return pids


def test_fork_bomb_is_contained(backend):
    before = _sandbox_user_pids()
    program = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
    start = time.monotonic()
    result = run(program, backend, SandboxLimits(timeout=3))
    assert time.monotonic() - start < 10
    assert result.status == "timeout", result
    deadline = time.monotonic() + 5
    while _sandbox_user_pids() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (_sandbox_user_pids() - before), "processes of the fork bomb outlived the run"
    assert subprocess.run(["true"]).returncode == 0  # the host can still start processes


def test_memory_bomb_is_contained(backend):
    program = """
chunks = []
while True:
    chunks.append(bytearray(64 << 20))
"""
    start = time.monotonic()
    result = run(program, backend, SandboxLimits(timeout=20, memory_mb=256))
    assert time.monotonic() - start < 15
    assert result.status == "failed" and "MemoryError" in result.detail, result


def test_infinite_loop_times_out(backend):
    start = time.monotonic()
    result = run("while True: pass", backend, SandboxLimits(timeout=1))
    assert result.status == "timeout" and result.returncode is None
    assert time.monotonic() - start < 5


def test_runs_as_nobody_in_new_namespaces(backend):
    own = {ns: os.readlink(f"/proc/self/ns/{ns}") for ns in ("mnt", "pid", "ipc", "uts", "net")}
    program = f"""
import os, socket
assert (os.getuid(), os.getgid(), os.getgroups()) == (65534, 65534, []), (os.getuid(), os.getgid(), os.getgroups())
own = {own!r}
for ns, link in own.items():
    assert os.readlink(f"/proc/self/ns/{{ns}}") != link, ns
assert socket.gethostname() == "sandbox"
assert {{"null", "random", "urandom", "zero"}} <= set(os.listdir("/dev")), os.listdir("/dev")
assert not os.path.exists("/etc") and not os.path.exists("/tmp")
open("/sandbox/ok.txt", "w").write("ok")
try:
    open("/usr/ft-probe", "w")
except OSError:
    pass
else:
    raise AssertionError("/usr is writable")
"""
    result = run(program, backend)
    assert result.passed, result


@pytest.mark.skipif(seccomp_filter() is None, reason="libseccomp's binding (python3-seccomp) is not installed")
def test_seccomp_refuses_new_namespaces_and_mounts(backend):
    program = """
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
assert libc.unshare(0x10000000) == -1 and ctypes.get_errno() == errno.EPERM, "unshare(CLONE_NEWUSER) allowed"
assert libc.mount(b"none", b"/sandbox", b"tmpfs", 0, None) == -1 and ctypes.get_errno() == errno.EPERM
assert libc.ptrace(0, 0, None, None) == -1 and ctypes.get_errno() == errno.EPERM
"""
    result = run(program, backend)
    assert result.passed, result


def test_the_program_gets_its_files_and_stdin(backend):
    program = "import sys\nprint(open('data/in.txt').read(), sys.stdin.read())"
    result = execute(program, LIMITS, backend, files={"data/in.txt": "from a file"}, stdin="from stdin")
    assert result.passed and result.stdout == "from a file from stdin\n", result


def test_interpreter_is_the_running_one(backend):
    result = run(f"import sys\nassert sys.version == {sys.version!r}\nimport json, math, re, collections", backend)
    assert result.passed, result


def test_children_left_behind_die_with_the_run(backend):
    before = _sandbox_user_pids()
    program = """
import os, time
if os.fork() == 0:
    os.setsid()  # out of the process group: only the PID namespace still holds it
    if os.fork() == 0:
        time.sleep(60)
    os._exit(0)
"""
    result = run(program, backend)
    assert result.passed, result
    deadline = time.monotonic() + 5
    while _sandbox_user_pids() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (_sandbox_user_pids() - before), "a process of the program outlived the run"
