"""CLI verbs and options on synthetic checkpoints (no torch): reference flags, dry run, verify, casts, sharding."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ft_core import read_checkpoint
from ft_moe_convert import LAYOUTS, merge, split, verify
from ft_moe_convert.cli import main
from ft_testing.moe import write_synthetic_moe


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.fixture
def src(tmp_path):
    return write_synthetic_moe(tmp_path / "in", layers=3, experts=4, hidden=16, inter=8)


def test_reference_flags_without_a_verb(src, tmp_path, capsys):
    code, _, err = run_cli(["--input-path", src, "--output-path", tmp_path / "m", "--mode", "merge"], capsys)
    assert code == 0, err
    assert "model.layers.0.mlp.experts.gate_proj" in read_checkpoint(tmp_path / "m").tensors
    code, _, err = run_cli(["-i", tmp_path / "m", "-o", tmp_path / "s", "-m", "split"], capsys)
    assert code == 0, err
    assert run_cli(["verify", src, tmp_path / "s"], capsys)[0] == 0
    assert run_cli(["convert", "-i", tmp_path / "s", "-o", tmp_path / "m2"], capsys)[0] == 0  # merge is the default


def test_dry_run_prints_plan_and_writes_nothing(src, tmp_path, capsys):
    code, out, _ = run_cli(["merge", "-i", src, "-o", tmp_path / "out", "--dry-run", "--max-shard-size", "5KB"],
                           capsys)
    assert code == 0
    assert "output     merged: 21 tensors (= 12 other + expert tensors)" in out
    assert "experts    4 per layer in 3 MoE layers 0..2" in out
    assert "invariants tensor count 21 == 21 (ok)" in out and "dry run: nothing written" in out
    assert not (tmp_path / "out").exists()


def test_verify_reports_differences(src, tmp_path, capsys):
    merged = merge(src, tmp_path / "m").output
    code, out, _ = run_cli(["verify", src, merged], capsys)
    assert code == 0 and "identical" in out
    other = write_synthetic_moe(tmp_path / "other", layers=3, experts=4, hidden=16, inter=8)  # new random bytes
    code, _, err = run_cli(["verify", merged, other], capsys)
    assert code == 1 and "bytes differ" in err
    result = verify(merged, other)
    assert "model.layers.2.experts[3].down: bytes differ" in result.differences


def test_max_shard_size_and_index(src, tmp_path):
    result = merge(src, tmp_path / "m", max_shard_size="3KB")
    files = sorted((tmp_path / "m").glob("*.safetensors"))
    assert len(files) == len(result.plan.shards) > 2
    assert files[0].name == f"model-00001-of-{len(files):05d}.safetensors"
    index = json.loads((tmp_path / "m" / "model.safetensors.index.json").read_text())
    ckpt = read_checkpoint(tmp_path / "m")
    assert index["metadata"]["total_size"] == ckpt.total_size == read_checkpoint(src).total_size
    assert index["weight_map"] == {n: t.file.name for n, t in sorted(ckpt.tensors.items())}
    assert index["metadata"]["total_parameters"] == ckpt.total_size // 2  # bf16
    single = merge(src, tmp_path / "one")
    assert [p.name for p in (tmp_path / "one").glob("*.safetensors")] == ["model.safetensors"]
    assert not (tmp_path / "one" / "model.safetensors.index.json").exists()
    assert len(single.plan.shards) == 1


def test_output_loads_with_safetensors(tmp_path):
    from safetensors.numpy import load_file

    src = write_synthetic_moe(tmp_path / "in", layers=3, experts=4, hidden=16, inter=8, dtype="F16")
    fused = merge(src, tmp_path / "f", layout_out="fused-v5").output
    loaded = load_file(fused / "model.safetensors")
    assert loaded["model.layers.1.mlp.experts.gate_up_proj"].shape == (4, 16, 16)


def test_dtype_cast_is_explicit_and_exact(tmp_path):
    src = write_synthetic_moe(tmp_path / "in", dtype="F32", layers=1, experts=2, hidden=4, inter=2)
    out = merge(src, tmp_path / "bf16", dtype="bf16", max_shard_size="1KB").output
    ckpt = read_checkpoint(out)
    assert {t.dtype for t in ckpt.tensors.values()} == {"BF16"} and len(ckpt.files) > 1
    back = split(out, tmp_path / "f32", dtype="fp32", max_shard_size="1KB").output
    name = "model.layers.0.mlp.experts.1.up_proj.weight"
    f32 = np.frombuffer(_bytes(read_checkpoint(src).tensors[name]), "<f4")
    roundtrip = np.frombuffer(_bytes(read_checkpoint(back).tensors[name]), "<f4")
    finite = np.isfinite(f32)
    bits = f32.view(np.uint32)
    expected = (((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16).view(np.float32)  # round to nearest even
    np.testing.assert_array_equal(roundtrip[finite], expected[finite])
    assert np.isnan(roundtrip[~finite]).all() == np.isnan(f32[~finite]).all()


def _bytes(info) -> bytes:
    with open(info.file, "rb") as fh:
        fh.seek(info.start)
        return fh.read(info.nbytes)


def test_reference_dir_and_set_config(src, tmp_path):
    ref = tmp_path / "base"
    ref.mkdir()
    (ref / "config.json").write_text(json.dumps({"model_type": "llada2_moe", "num_experts": 4}))
    (ref / "modeling_llada2_moe.py").write_text("# custom code\n")
    (ref / "tokenizer.json").write_text("{}")
    (ref / "model.safetensors").write_bytes(b"stale")  # never copied
    out = split(merge(src, tmp_path / "m").output, tmp_path / "s", reference_dir=ref,
                set_config={"torch_dtype": "bfloat16"}).output
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".safetensors") and "index" not in p.name) == [
        "config.json", "modeling_llada2_moe.py", "tokenizer.json"]
    assert json.loads((out / "config.json").read_text()) == {
        "model_type": "llada2_moe", "num_experts": 4, "torch_dtype": "bfloat16"}


@pytest.mark.parametrize("method", ["copy_file_range", "sendfile", "buffered"])
def test_copy_methods_agree(src, tmp_path, method):
    reference = merge(src, tmp_path / "ref", layout_out="fused-v5").output
    result = merge(src, tmp_path / method, layout_out="fused-v5", copy_method=method)
    assert result.copy_method == method
    assert (result.output / "model.safetensors").read_bytes() == (reference / "model.safetensors").read_bytes()


def test_few_input_files_open_at_once(src, tmp_path, monkeypatch):
    from ft_moe_convert import write

    monkeypatch.setattr(write, "MAX_OPEN_INPUTS", 1)
    assert len(read_checkpoint(src).files) > 2
    out = merge(src, tmp_path / "m", layout_out="fused-v5", max_shard_size="2KB").output
    assert verify(src, out).identical


def test_merged_key_suffix_and_layout_conversions(src, tmp_path):
    m = merge(src, tmp_path / "m", merged_key_suffix="weight").output
    assert "model.layers.0.mlp.experts.down_proj.weight" in read_checkpoint(m).tensors
    # merged -> fused-v5 directly, and separate -> Mixtral naming.
    fused = merge(m, tmp_path / "f", layout_in="merged", layout_out="fused-v5").output
    assert "model.layers.0.mlp.experts.gate_up_proj" in read_checkpoint(fused).tensors
    mix = split(fused, tmp_path / "x", layout_out="separate-mixtral").output
    assert "model.layers.2.block_sparse_moe.experts.3.w3.weight" in read_checkpoint(mix).tensors
    assert verify(src, m).identical and verify(src, fused).identical and verify(src, mix).identical


def test_mixtral_split_goes_back_to_mixtral_names(tmp_path):
    src = write_synthetic_moe(tmp_path / "in", mixtral=True)
    back = split(merge(src, tmp_path / "m").output, tmp_path / "s").output
    assert set(read_checkpoint(back).tensors) == set(read_checkpoint(src).tensors)


def test_custom_key_patterns(tmp_path):
    keys = [("model.language_model.layers.0.moe.experts.0.gate_proj.weight", [8, 16]),
            ("model.language_model.layers.0.moe.experts.1.gate_proj.weight", [8, 16]),
            ("model.language_model.layers.0.moe.experts.0.up_proj.weight", [8, 16]),
            ("model.language_model.layers.0.moe.experts.1.up_proj.weight", [8, 16]),
            ("model.language_model.layers.0.moe.experts.0.down_proj.weight", [16, 8]),
            ("model.language_model.layers.0.moe.experts.1.down_proj.weight", [16, 8]),
            ("model.language_model.layers.0.moe.shared_experts.gate_proj.weight", [8, 16])]
    src = write_synthetic_moe(tmp_path / "in", keys=keys, config={"num_experts": 2})
    key_in = r"^(?P<prefix>.*?)layers\.(?P<layer>\d+)\.moe\.experts\.(?P<expert>\d+)\.(?P<proj>\w+)\.weight$"
    m = merge(src, tmp_path / "m", key_in=key_in, key_out="{prefix}layers.{layer}.moe.experts.{proj}").output
    names = set(read_checkpoint(m).tensors)
    assert names == {"model.language_model.layers.0.moe.experts.gate_proj",
                     "model.language_model.layers.0.moe.experts.up_proj",
                     "model.language_model.layers.0.moe.experts.down_proj",
                     "model.language_model.layers.0.moe.shared_experts.gate_proj.weight"}
    back = split(m, tmp_path / "s", key_in=r"^(?P<prefix>.*?)layers\.(?P<layer>\d+)\.moe\.experts\.(?P<proj>\w+)$",
                 key_out="{prefix}layers.{layer}.moe.experts.{expert}.{proj}.weight").output
    assert set(read_checkpoint(back).tensors) == {k for k, _ in keys}


@pytest.mark.parametrize(("key", "layout", "hit"), [
    ("model.layers.3.mlp.experts.7.up_proj.weight", "separate", (3, 7, "up")),
    ("model.language_model.layers.0.mlp.experts.0.down_proj.weight", "separate", (0, 0, "down")),
    ("model.layers.1.block_sparse_moe.experts.2.w3.weight", "separate-mixtral", (1, 2, "up")),
    ("model.layers.1.mlp.experts.gate_proj", "merged", (1, None, "gate")),
    ("model.layers.1.mlp.experts.gate_proj.weight", "merged", (1, None, "gate")),
    ("model.layers.1.mlp.experts.gate_up_proj", "fused-v5", (1, None, "gate_up")),
    ("model.layers.1.mlp.shared_experts.gate_proj.weight", None, None),
    ("model.layers.1.mlp.shared_expert.up_proj.weight", None, None),
    ("model.layers.1.mlp.shared_expert_gate.weight", None, None),
    ("model.layers.1.mlp.gate.weight", None, None),
    ("model.layers.1.mlp.gate.expert_bias", None, None),
    ("model.layers.1.mlp.gate.e_score_correction_bias", None, None),
    ("model.layers.0.mlp.gate_proj.weight", None, None),
    ("model.layers.0.mlp.experts.0.gate_proj.bias", None, None),
])
def test_default_patterns(key, layout, hit):
    found = {name: lay.match(key) for name, lay in LAYOUTS.items() if lay.match(key) is not None}
    if layout is None:
        assert found == {}
    else:
        assert layout in found
        k = found[layout]
        assert (k.layer, k.expert, k.proj) == hit


def test_help_has_an_example(capsys):
    code, out, _ = run_cli(["merge", "--help"], capsys)
    assert code == 0 and "ft-moe-convert merge -i Qwen3-30B-A3B -o qwen3-merged" in out


def test_converting_never_imports_torch(src, tmp_path):
    code = ("import sys; from ft_moe_convert.cli import main\n"
            "try: main(['merge', '-i', sys.argv[1], '-o', sys.argv[2]])\n"
            "except SystemExit as e: assert e.code == 0, e.code\n"
            "try: main(['verify', sys.argv[1], sys.argv[2]])\n"
            "except SystemExit as e: assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch imported'\n"
            "assert 'pydantic' not in sys.modules, 'ft_core import pulled in pydantic'\n")
    proc = subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
