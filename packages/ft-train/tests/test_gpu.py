"""CUDA-only paths: QLoRA (bitsandbytes), DeepSpeed ZeRO-2/3 and FSDP through torchrun (marker ``gpu``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
ROOT = Path(__file__).resolve().parents[3]


def _train(cfg: dict, helpers, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    config = helpers.write_yaml(tmp_path / "run.yaml", cfg)
    return subprocess.run([sys.executable, "-m", "ft_train.cli", "train", str(config)], capture_output=True,
                          text=True, env={**os.environ, **env}, cwd=ROOT)


def test_qlora_trains(tiny_config, helpers, tmp_path):
    pytest.importorskip("bitsandbytes")
    cfg = {**tiny_config, "quantization_bit": 4, "bf16": True}
    proc = _train(cfg, helpers, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    curve = helpers.losses(Path(cfg["output_dir"]))
    assert curve[-1] < curve[0]


@pytest.mark.parametrize("zero", ["ds_z2_config.json", "ds_z3_config.json"])
def test_deepspeed_zero(tiny_config, helpers, tmp_path, zero):
    pytest.importorskip("deepspeed")
    cfg = {**tiny_config, "deepspeed": str(ROOT / "docs" / "examples" / "deepspeed" / zero), "bf16": True}
    proc = _train(cfg, helpers, tmp_path, FORCE_TORCHRUN="1", NPROC_PER_NODE="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (Path(cfg["output_dir"]) / "adapter_model.safetensors").is_file()


def test_fsdp(tiny_config, helpers, tmp_path):
    cfg = {**tiny_config, "finetuning_type": "full", "learning_rate": 1.0e-4, "bf16": True,
           "fsdp": "full_shard auto_wrap", "fsdp_config": {"transformer_layer_cls_to_wrap": ["LlamaDecoderLayer"]}}
    proc = _train(cfg, helpers, tmp_path, FORCE_TORCHRUN="1", NPROC_PER_NODE=str(torch.cuda.device_count()))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (Path(cfg["output_dir"]) / "trainer_state.json").is_file()
