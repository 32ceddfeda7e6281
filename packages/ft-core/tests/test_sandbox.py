"""The sandbox for untrusted generated code: limits, cleanup, refused escapes, no network."""

from __future__ import annotations

import pytest

from ft_core.sandbox import SandboxLimits, network_isolated, run_untrusted


def test_sandbox_limits_and_cleanup(tmp_path):
    assert run_untrusted("while True: pass", timeout=1).status == "timeout"
    assert run_untrusted("x = bytearray(4 << 30)", limits=SandboxLimits(memory_mb=256)).status == "failed"
    outside = tmp_path / "escape.txt"
    result = run_untrusted(f"open({str(outside)!r}, 'w').write('x')")
    assert not result.passed and "outside" in result.detail and not outside.exists()
    assert run_untrusted("open('inside.txt', 'w').write('ok')\nassert open('inside.txt').read() == 'ok'").passed
    assert run_untrusted("import os\nos.kill(os.getppid(), 9)").status == "failed"
    assert run_untrusted("import subprocess\nsubprocess.run(['true'])").status == "failed"
    assert run_untrusted("import ctypes\nctypes.CDLL(None).getpid()").status == "failed"
    crashed = run_untrusted("import os, signal\nos.abort()")
    assert not crashed.passed


def test_sandbox_network_namespace():
    import os

    if os.geteuid() != 0:
        pytest.skip("a new network namespace needs root (or user namespaces); the audit hook still blocks sockets")
    assert network_isolated()


def test_backend_and_weak_isolation_reported():
    from ft_core.sandbox import probe_isolation

    report = probe_isolation()
    if report.backend is None:
        pytest.skip(f"no OS sandbox here: {report.missing}")
    result = run_untrusted("print('hi')")
    assert result.passed and result.backend == report.backend and result.stdout == "hi\n"
    assert run_untrusted("pass", allow_weak_isolation=True).backend == report.backend  # weak only as a fallback


@pytest.fixture
def no_os_sandbox(monkeypatch):
    """Every backend's probe says it cannot run; and no process may be started at all."""
    from ft_core.sandbox import backends, forget_probes, run

    started = []
    real_popen = run.subprocess.Popen

    def refuse_popen(*args, **kwargs):
        started.append(args)
        return real_popen(*args, **kwargs)

    forget_probes()
    monkeypatch.setattr(backends, "_probe", lambda name: f"{name}: simulated missing namespaces")
    monkeypatch.setattr(run.subprocess, "Popen", refuse_popen)
    monkeypatch.delenv("FT_SANDBOX_ALLOW_WEAK_ISOLATION", raising=False)
    yield started
    forget_probes()


def test_refuses_without_os_isolation(no_os_sandbox, tmp_path):
    from ft_core import EXIT_BAD_INPUT, SandboxUnavailableError

    marker = tmp_path / "ran"
    with pytest.raises(SandboxUnavailableError) as err:
        run_untrusted(f"open({str(marker)!r}, 'w')")
    message = str(err.value)
    assert "\n" not in message and err.value.exit_code == EXIT_BAD_INPUT
    assert "bwrap: simulated missing namespaces; unshare: simulated missing namespaces" in message
    assert "allow_weak_isolation" in message
    with pytest.raises(SandboxUnavailableError, match="bwrap cannot run here"):
        run_untrusted("pass", backend="bwrap")
    with pytest.raises(SandboxUnavailableError, match="needs allow_weak_isolation"):
        run_untrusted("pass", backend="weak")
    assert no_os_sandbox == [] and not marker.exists()  # refused before anything started


def test_weak_isolation_when_allowed(no_os_sandbox, monkeypatch):
    from ft_core.sandbox import weak_isolation_allowed

    result = run_untrusted("assert 1 + 1 == 2", allow_weak_isolation=True)
    assert result.passed and result.backend == "weak"
    assert run_untrusted("pass", limits=SandboxLimits(allow_weak_isolation=True)).backend == "weak"
    with weak_isolation_allowed():
        assert run_untrusted("pass").backend == "weak"
    assert "FT_SANDBOX_ALLOW_WEAK_ISOLATION" not in __import__("os").environ
    # the audit hook still refuses what it refused before, in the weak backend
    assert "not allowed" in run_untrusted("import subprocess\nsubprocess.run(['true'])",
                                          allow_weak_isolation=True).detail


def test_bad_input_is_one_clear_line():
    from ft_core import BadInputError

    with pytest.raises(BadInputError, match="backend 'docker' is unknown"):
        run_untrusted("pass", backend="docker")
    with pytest.raises(BadInputError, match="must be positive"):
        SandboxLimits(timeout=0)
    with pytest.raises(BadInputError, match="relative path"):
        run_untrusted("pass", files={"../escape.txt": "x"})
