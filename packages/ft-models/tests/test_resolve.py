"""Resolving model names: alias, GGUF file, local directory, hub id; the once-only cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ft_core import BadInputError
from ft_models import ALIASES, build_once, resolve_model_path
from ft_models import resolve as resolve_mod


def test_alias_resolves_offline_to_plain_fp32_hf_dir(smollm2_path):
    path = resolve_model_path("smollm2-135m-instruct")
    assert path == smollm2_path
    names = {p.name for p in path.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "chat_template.jinja", "generation_config.json", "ft_import.json"} <= names
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["tie_word_embeddings"] is True
    assert config["num_hidden_layers"] == 30 and config["vocab_size"] == 49152
    assert "<|im_start|>" in (path / "chat_template.jinja").read_text()


def test_local_dir_resolves_to_itself(tiny_llama_path):
    assert resolve_model_path(str(tiny_llama_path)) == tiny_llama_path


@pytest.mark.parametrize("name, needle", [
    ("no-such-model", "not a directory, a .gguf file, a hub id"),
    ("missing.gguf", "GGUF file not found"),
])
def test_unknown_names_are_bad_input(name, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInputError, match=needle) as info:
        resolve_model_path(name)
    assert info.value.exit_code == 2


def test_dir_without_config_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="no config.json"):
        resolve_model_path(str(tmp_path))


def test_hub_id_offline_names_the_cause(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(BadInputError, match="HF_HUB_OFFLINE"):
        resolve_model_path("nobody/no-such-model", cache_dir=str(tmp_path / "hf"))


def test_gguf_path_is_converted_once_keyed_by_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("FT_HOME", str(tmp_path / "home"))
    calls = []

    def fake_convert(gguf, directory):
        calls.append(Path(gguf))
        (directory / "config.json").write_text("{}")
        (directory / resolve_mod.MARKER).write_text("{}")

    monkeypatch.setattr(resolve_mod, "write_gguf_as_hf", fake_convert)
    a = tmp_path / "a.gguf"
    a.write_bytes(b"one")
    b = tmp_path / "b" / "a.gguf"
    b.parent.mkdir()
    b.write_bytes(b"two")
    first = resolve_model_path(str(a))
    assert resolve_model_path(str(a)) == first  # reused, not converted again
    assert len(calls) == 1
    assert first.parent == tmp_path / "home" / "models" and first.name.startswith("gguf-a-")
    assert resolve_model_path(str(b)) != first  # same name, different content: another key


def test_alias_registry_names_the_embedded_model():
    assert "smollm2-135m-instruct" in ALIASES
    assert ALIASES["smollm2-135m-instruct"].gguf().name == "SmolLM2-135M-Instruct.Q4_1.gguf"


_RACER = """
import sys, time
from pathlib import Path
from ft_models import build_once

def build(tmp):
    with open(sys.argv[2], "a") as fh:
        fh.write("built\\n")
    time.sleep(1.0)  # a wide window for the other process to race
    (tmp / "weights.bin").write_bytes(b"x" * 1000)
    (tmp / "config.json").write_text("{}")

build_once(Path(sys.argv[1]), build)
"""


def test_concurrent_first_use_builds_once(tmp_path):
    target, log = tmp_path / "cache" / "model", tmp_path / "log.txt"
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(target), str(log)]) for _ in range(2)]
    assert [p.wait(120) for p in procs] == [0, 0]
    assert log.read_text() == "built\n"
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "weights.bin"]
    assert [p.name for p in target.parent.iterdir() if ".tmp-" in p.name] == []


def test_failed_build_leaves_nothing(tmp_path):
    target = tmp_path / "model"

    def broken(tmp: Path) -> None:
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        build_once(target, broken)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_misspelt_alias_gets_a_suggestion(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInputError, match="did you mean 'smollm2-135m-instruct'"):
        resolve_model_path("smollm2-135m-instruc")


def test_leftovers_of_a_killed_build_are_removed(tmp_path):
    target = tmp_path / "model"
    leftover = tmp_path / ".model.tmp-dead"
    leftover.mkdir()
    (leftover / "half.bin").write_bytes(b"x")
    build_once(target, lambda tmp: (tmp / "config.json").write_text("{}"))
    assert not leftover.exists() and (target / "config.json").is_file()
