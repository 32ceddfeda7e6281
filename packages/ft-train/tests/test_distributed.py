"""2-process DDP on CPU (gloo) gives the loss curve of one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.distributed
def test_ddp_two_processes_match_one(tiny_config, helpers, tmp_path):
    base = {**tiny_config, "max_steps": 4, "disable_shuffling": True, "learning_rate": 1.0e-3}
    single = {**base, "output_dir": str(tmp_path / "single"), "per_device_train_batch_size": 4}
    ddp = {**base, "output_dir": str(tmp_path / "ddp"), "per_device_train_batch_size": 2}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ft_train.cli", "train"]
    subprocess.run([*cmd, str(helpers.write_yaml(tmp_path / "single.yaml", single))], check=True, env=env,
                   capture_output=True)
    proc = subprocess.run([*cmd, str(helpers.write_yaml(tmp_path / "ddp.yaml", ddp))], env={
        **env, "NPROC_PER_NODE": "2", "FORCE_TORCHRUN": "1"}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = helpers.losses(tmp_path / "single"), helpers.losses(tmp_path / "ddp")
    assert len(one) == len(two) == 4
    assert two == pytest.approx(one, rel=1e-4, abs=1e-4)
