"""SIGKILL between two checkpoints, resume with ``resume_from_checkpoint: true``: same weights as a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

# Every stage resumes the same way: the Trainer's checkpoints, whatever computes the loss.
STAGES = {"sft": {}, "dpo": {"stage": "dpo", "dataset": "pairs", "pref_beta": 0.5},
          "kto": {"stage": "kto", "dataset": "feedback", "pref_beta": 0.5},
          "rm": {"stage": "rm", "dataset": "pairs"}}


def _train_cmd(config: Path) -> list[str]:
    return [sys.executable, "-m", "ft_train.cli", "train", str(config)]


def _complete(ckpt: Path) -> bool:
    return (ckpt / "trainer_state.json").is_file() and (ckpt / "rng_state.pth").is_file()


@pytest.mark.parametrize("stage", list(STAGES))
def test_sigkill_then_resume_matches_uninterrupted(tiny_config, helpers, tmp_path, stage):
    base = {**tiny_config, "max_steps": 6, "save_strategy": "steps", "save_steps": 2, "save_total_limit": 5,
            "lr_scheduler_type": "cosine", "overwrite_output_dir": False, **STAGES[stage]}
    clean = {**base, "output_dir": str(tmp_path / "clean")}
    subprocess.run(_train_cmd(helpers.write_yaml(tmp_path / "clean.yaml", clean)), check=True,
                   capture_output=True)

    killed = {**base, "output_dir": str(tmp_path / "killed")}
    out = Path(killed["output_dir"])
    config = helpers.write_yaml(tmp_path / "killed.yaml", killed)
    proc = subprocess.Popen(_train_cmd(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not _complete(out / "checkpoint-2") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (out / "checkpoint-2").is_dir() and not (out / "adapter_model.safetensors").exists()

    resume = {**killed, "resume_from_checkpoint": True}
    subprocess.run(_train_cmd(helpers.write_yaml(tmp_path / "resume.yaml", resume)), check=True,
                   capture_output=True)
    a = load_file(str(tmp_path / "clean" / "adapter_model.safetensors"))
    b = load_file(str(out / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    assert helpers.losses(out)[-1] == helpers.losses(tmp_path / "clean")[-1]
