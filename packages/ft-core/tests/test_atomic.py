"""Atomic output directories and files: complete or absent, never half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ft_core import (
    BadInputError,
    OutputExistsError,
    atomic_open,
    atomic_output_dir,
    atomic_write_json,
    atomic_write_text,
)


def test_success_renames_into_place(tmp_path):
    target = tmp_path / "out"
    with atomic_output_dir(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        (tmp / "a.txt").write_text("x")
        assert not target.exists()
    assert (target / "a.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(ValueError), atomic_output_dir(target) as tmp:
        (tmp / "a.txt").write_text("x")
        raise ValueError("boom")
    assert list(tmp_path.iterdir()) == []


def test_refuses_non_empty_target_unless_overwrite(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(OutputExistsError, match="overwrite_output_dir"), atomic_output_dir(target):
        pass
    assert (target / "old.txt").read_text() == "old"
    with atomic_output_dir(target, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_overwrite_keeps_old_content(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_output_dir(target, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]


def test_empty_existing_dir_is_fine_and_file_target_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with atomic_output_dir(tmp_path / "empty") as tmp:
        (tmp / "f").write_text("1")
    assert (tmp_path / "empty" / "f").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInputError, match="is a file"), atomic_output_dir(tmp_path / "file"):
        pass


def test_sigterm_cleans_up(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, time
        from ft_core import atomic_output_dir
        with atomic_output_dir({str(tmp_path / 'out')!r}) as tmp:
            (tmp / 'partial').write_text('x')
            print('ready', flush=True)
            time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    assert proc.returncode != 0
    assert list(tmp_path.iterdir()) == []


def test_atomic_files(tmp_path):
    path = atomic_write_json(tmp_path / "sub" / "x.json", {"name": "héllo"})
    assert path.read_text(encoding="utf-8") == '{\n  "name": "héllo"\n}\n'
    assert json.loads(path.read_text())["name"] == "héllo"
    atomic_write_text(path, "replaced")
    assert path.read_text() == "replaced"
    assert sorted(os.listdir(tmp_path / "sub")) == ["x.json"]


def test_atomic_open_streams_and_renames(tmp_path):
    target = tmp_path / "out" / "records.json"
    with atomic_open(target) as fh:
        fh.write(b"[1,")
        assert not target.exists()  # nothing under the final name while the block runs
        fh.write(b"2]")
    assert target.read_bytes() == b"[1,2]"


def test_atomic_open_failure_keeps_old_content(tmp_path):
    target = tmp_path / "records.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write(b"new, half-written")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["records.json"]
