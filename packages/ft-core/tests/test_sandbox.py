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
