"""Every validation failure: one line naming the problem, exit code 2, and nothing written."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ft_moe_convert import merge, split
from ft_moe_convert.cli import main
from ft_testing.moe import synthetic_moe_keys, write_synthetic_moe


def keys(**kw) -> list[tuple[str, list[int]]]:
    return list(synthetic_moe_keys(2, 4, 16, 8, **kw))


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def assert_refused(src: Path, tmp_path: Path, capsys, needle: str, *extra: str, verb: str = "merge") -> None:
    out = tmp_path / "out"
    code, _, err = run_cli([verb, "-i", str(src), "-o", str(out), *extra], capsys)
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 2, err
    assert len(lines) == 1 and needle in lines[0], err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temporary sibling left


def drop(entries, *names):
    return [(n, s) for n, s in entries if n not in names]


def test_missing_expert_id(tmp_path, capsys):
    src = write_synthetic_moe(tmp_path / "in", keys=drop(keys(), "model.layers.1.mlp.experts.2.up_proj.weight"))
    assert_refused(src, tmp_path, capsys, "model.layers.1 up_proj lacks expert(s) 2; expert ids must be 0..3")


def test_missing_projection(tmp_path, capsys):
    entries = [(n, s) for n, s in keys() if not (n.startswith("model.layers.0.") and "down_proj" in n)]
    src = write_synthetic_moe(tmp_path / "in", keys=entries)
    assert_refused(src, tmp_path, capsys, "model.layers.0 has experts but no down_proj")


def test_unequal_shapes_in_a_group(tmp_path, capsys):
    entries = [(n, [9, 16] if n == "model.layers.0.mlp.experts.3.gate_proj.weight" else s) for n, s in keys()]
    src = write_synthetic_moe(tmp_path / "in", keys=entries)
    assert_refused(src, tmp_path, capsys, "model.layers.0.mlp.experts.3.gate_proj.weight is BF16 [9, 16] but "
                   "model.layers.0.mlp.experts.0.gate_proj.weight is BF16 [8, 16]")


def test_unequal_dtypes_in_a_group(tmp_path, capsys):
    odd = "model.layers.0.mlp.experts.1.down_proj.weight"
    src = write_synthetic_moe(tmp_path / "in", keys=[(n, s, "F16") if n == odd else (n, s) for n, s in keys()])
    assert_refused(src, tmp_path, capsys, f"{odd} is F16 [16, 8] but model.layers.0.mlp.experts.0.down_proj.weight "
                   "is BF16 [16, 8]")


def test_gate_and_down_must_fit(tmp_path, capsys):
    entries = [(n, [16, 9] if ".down_proj" in n and "layers.1." in n else s) for n, s in keys()]
    src = write_synthetic_moe(tmp_path / "in", keys=entries)
    assert_refused(src, tmp_path, capsys, "model.layers.1: down [16, 9] is not the transpose of gate [8, 16]")


def test_expert_count_disagrees_with_config(tmp_path, capsys):
    src = write_synthetic_moe(tmp_path / "in", config={"model_type": "deepseek_v3", "n_routed_experts": 8})
    assert_refused(src, tmp_path, capsys, "config.json: n_routed_experts=8 but the weights hold 4 experts")


def test_no_experts_at_all(tmp_path, capsys):
    entries = [(n, s) for n, s in keys() if ".experts." not in n]
    src = write_synthetic_moe(tmp_path / "in", keys=entries)
    assert_refused(src, tmp_path, capsys, "no expert weights found")


def test_merge_of_a_merged_checkpoint_says_use_split(tmp_path, capsys):
    src = write_synthetic_moe(tmp_path / "in")
    merged = merge(src, tmp_path / "merged").output
    assert_refused(merged, tmp_path, capsys, "is merged (use `split` instead")
    assert_refused(src, tmp_path, capsys, "is separate (use `merge` instead", verb="split")


def test_mixed_layouts(tmp_path, capsys):
    entries = [*keys(), ("model.layers.5.mlp.experts.gate_proj", [4, 8, 16])]
    src = write_synthetic_moe(tmp_path / "in", keys=entries)
    assert_refused(src, tmp_path, capsys, "mixes expert layouts: 'model.layers.5.mlp.experts.gate_proj' is merged")


def test_shard_named_in_index_is_missing(tmp_path, capsys):
    src = write_synthetic_moe(tmp_path / "in")
    victim = sorted(src.glob("*.safetensors"))[1]
    victim.unlink()
    assert_refused(src, tmp_path, capsys, f"names shard '{victim.name}' which is missing")


def test_stray_shard_is_ignored_with_a_warning(tmp_path):
    src = write_synthetic_moe(tmp_path / "in")
    other = write_synthetic_moe(tmp_path / "other", experts=8)
    sorted(other.glob("*.safetensors"))[0].rename(src / "stale.safetensors")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("ft.moe_convert")
    logger.addHandler(handler)
    try:
        result = merge(src, tmp_path / "out")
    finally:
        logger.removeHandler(handler)
    assert any("stale.safetensors is not named in the shard index; it is ignored" in r.getMessage() for r in records)
    assert result.plan.num_experts == 4  # the stale shard (8 experts) was not read
    assert not (tmp_path / "out" / "stale.safetensors").exists()


def test_output_not_empty_needs_overwrite(tmp_path, capsys):
    src = write_synthetic_moe(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run_cli(["merge", "-i", str(src), "-o", str(out)], capsys)
    assert code == 2 and "output directory is not empty; choose another path or pass --overwrite" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert run_cli(["merge", "-i", str(src), "-o", str(out), "--overwrite"], capsys)[0] == 0
    assert (out / "model.safetensors").is_file() and not (out / "keep.txt").exists()


def test_bad_arguments(tmp_path, capsys):
    src = write_synthetic_moe(tmp_path / "in")
    assert_refused(src, tmp_path, capsys, "lacks the named group(s) (?P<expert>...)", "--key-in", r"layers\.(?P<layer>\d+)\.(?P<proj>w1)")
    assert_refused(src, tmp_path, capsys, "--max-shard-size: size 'lots'", "--max-shard-size", "lots")
    assert_refused(src, tmp_path, capsys, "--layout-out separate: merge writes one of merged, fused-v5",
                   "--layout-out", "separate")
    assert_refused(src, tmp_path, capsys, "reference directory not found", "--reference-dir", str(tmp_path / "nope"))
    assert_refused(src, tmp_path, capsys, "must differ from the input", "-o", str(src))


def test_stacked_input_checks(tmp_path, capsys):
    entries = [("model.embed_tokens.weight", [256, 16]),
               ("model.layers.0.mlp.experts.gate_proj", [4, 8, 16]),
               ("model.layers.0.mlp.experts.up_proj", [4, 8, 16]),
               ("model.layers.0.mlp.experts.down_proj", [3, 16, 8])]
    src = write_synthetic_moe(tmp_path / "in", keys=entries, config={})
    assert_refused(src, tmp_path, capsys, "stacked projections disagree on the expert count", verb="split")
    flat = [(n, s[1:] if "experts" in n else s) for n, s in entries]
    src2 = write_synthetic_moe(tmp_path / "in2", keys=flat, config={})
    assert_refused(src2, tmp_path, capsys, "a stacked expert weight is 3-D", verb="split")


def test_fp8_kept_byte_for_byte_and_never_cast_silently(tmp_path, capsys):
    src = write_synthetic_moe(tmp_path / "in", dtype="F8_E4M3")
    assert_refused(src, tmp_path, capsys, "casting quantized weights needs dequantization", "--dtype", "bf16")
    back = split(merge(src, tmp_path / "m").output, tmp_path / "s", max_shard_size="4KB").output
    from ft_core import read_checkpoint
    from ft_moe_convert import verify

    assert verify(src, back).identical
    assert {t.dtype for t in read_checkpoint(back).tensors.values()} == {"F8_E4M3"}
    index = json.loads((back / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == read_checkpoint(src).total_size


def test_shards_without_index_are_read_by_glob_but_duplicates_refused(tmp_path, capsys):
    src = write_synthetic_moe(tmp_path / "in")
    (src / "model.safetensors.index.json").unlink()
    result = merge(src, tmp_path / "m")
    from ft_moe_convert import verify

    assert verify(src, result.output).identical
    shards = sorted(src.glob("*.safetensors"))
    (src / "zz-copy.safetensors").write_bytes(shards[1].read_bytes())
    assert_refused(src, tmp_path, capsys, "is in both")


def test_single_file_wins_over_stray_files_without_index(tmp_path):
    src = write_synthetic_moe(tmp_path / "in", shard_bytes=10**9)  # one shard
    (src / "model.safetensors.index.json").unlink()
    next(src.glob("*.safetensors")).rename(src / "model.safetensors")
    other = write_synthetic_moe(tmp_path / "adapter", experts=8, shard_bytes=10**9)
    next(other.glob("*.safetensors")).rename(src / "adapter_model.safetensors")
    result = merge(src, tmp_path / "m")
    assert result.plan.num_experts == 4 and not any("adapter" in t.name for t in result.plan.tensors)


def test_unknown_dtype_passes_through_byte_for_byte(tmp_path):
    entries = [*keys(), ("model.layers.0.mlp.gate.scales", [4, 3], "F8_E4M3")]
    src = write_synthetic_moe(tmp_path / "in", keys=entries)
    shard = next(p for p in src.glob("*.safetensors") if b"gate.scales" in p.read_bytes()[:4096])
    raw = shard.read_bytes()
    shard.write_bytes(raw.replace(b'"scales":{"dtype":"F8_E4M3"', b'"scales":{"dtype":"F8_NEW1"'))
    from ft_moe_convert import verify

    back = split(merge(src, tmp_path / "m").output, tmp_path / "s").output
    assert verify(src, back).identical


def test_transposed_stacked_experts_are_refused_by_hidden_size(tmp_path, capsys):
    entries = [("model.embed_tokens.weight", [256, 16]),
               ("model.layers.0.mlp.experts.gate_proj", [4, 16, 8]),  # (in, out): transposed
               ("model.layers.0.mlp.experts.up_proj", [4, 16, 8]),
               ("model.layers.0.mlp.experts.down_proj", [4, 8, 16])]
    src = write_synthetic_moe(tmp_path / "in", keys=entries, config={"hidden_size": 16, "num_experts": 4})
    assert_refused(src, tmp_path, capsys, "config.json hidden_size=16: expert weights must be (out, in)",
                   verb="split")
