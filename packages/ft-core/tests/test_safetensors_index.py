"""Sharded safetensors: headers, indexes, shard planning, size parsing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from ft_core import (
    DataError,
    parse_size,
    plan_shards,
    read_checkpoint,
    read_header,
    shard_file_names,
    write_index,
)


def _tensors():
    rng = np.random.default_rng(0)
    return {"a.weight": rng.standard_normal((4, 3)).astype(np.float32),
            "b.bias": np.arange(5, dtype=np.int64),
            "c": rng.standard_normal((2, 2)).astype(np.float16)}


def test_header_offsets_point_at_the_bytes(tmp_path):
    tensors = _tensors()
    save_file(tensors, tmp_path / "m.safetensors", metadata={"format": "pt"})
    header = read_header(tmp_path / "m.safetensors")
    assert header.metadata == {"format": "pt"}
    raw = (tmp_path / "m.safetensors").read_bytes()
    for name, array in tensors.items():
        info = header.tensors[name]
        assert info.shape == list(array.shape)
        assert raw[info.start:info.end] == array.tobytes()


def test_sharded_checkpoint_roundtrip(tmp_path):
    tensors = _tensors()
    plan = plan_shards([(n, t.nbytes) for n, t in tensors.items()], max_shard_bytes=48)
    assert plan == [["a.weight"], ["b.bias", "c"]]
    names = shard_file_names(len(plan))
    assert names == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map = {}
    for shard, fname in zip(plan, names):
        save_file({n: tensors[n] for n in shard}, tmp_path / fname)
        weight_map.update(dict.fromkeys(shard, fname))
    total = sum(t.nbytes for t in tensors.values())
    write_index(tmp_path, weight_map, total)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == total
    assert list(index["weight_map"]) == sorted(weight_map)
    ckpt = read_checkpoint(tmp_path)
    assert ckpt.total_size == total
    assert set(ckpt.tensors) == set(tensors)
    assert ckpt.tensors["c"].file.name == names[1]


def test_index_errors(tmp_path):
    save_file({"x": np.zeros(2, np.float32)}, tmp_path / "model-00001-of-00002.safetensors")
    write_index(tmp_path, {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}, 8)
    with pytest.raises(DataError, match="names shard 'model-00002-of-00002.safetensors' which is missing"):
        read_checkpoint(tmp_path)
    write_index(tmp_path, {"x": "model-00001-of-00002.safetensors"}, 8)
    save_file({"z": np.zeros(2, np.float32)}, tmp_path / "stray.safetensors")
    with pytest.raises(DataError, match="'stray.safetensors' is not named"):
        read_checkpoint(tmp_path)
    assert set(read_checkpoint(tmp_path, strict_index=False).tensors) == {"x"}


def test_single_file_and_bad_files(tmp_path):
    save_file({"x": np.ones(3, np.float32)}, tmp_path / "model.safetensors")
    assert set(read_checkpoint(tmp_path).tensors) == {"x"}
    assert set(read_checkpoint(tmp_path / "model.safetensors").tensors) == {"x"}
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "model.safetensors").write_bytes(b"\x05\x00")
    with pytest.raises(DataError, match="not a safetensors file"):
        read_checkpoint(tmp_path / "bad")
    with pytest.raises(DataError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "missing")
    truncated = tmp_path / "trunc.safetensors"
    data = (tmp_path / "model.safetensors").read_bytes()
    truncated.write_bytes(data[:-4])
    with pytest.raises(DataError, match="truncated"):
        read_header(truncated)
    assert load_file(tmp_path / "model.safetensors")["x"].sum() == 3


@pytest.mark.parametrize(("text", "value"), [
    ("5GB", 5_000_000_000), ("500MB", 500_000_000), ("2GiB", 2 * 2**30), ("1.5G", 1_500_000_000),
    ("100", 100), (7, 7), ("64KB", 64_000),
])
def test_parse_size(text, value):
    assert parse_size(text) == value


def test_parse_size_rejects_garbage():
    with pytest.raises(ValueError, match="expected a number"):
        parse_size("big")


def test_oversized_tensor_gets_own_shard():
    assert plan_shards([("a", 1), ("huge", 100), ("b", 1)], 10) == [["a"], ["huge"], ["b"]]
