"""Config loading: every error kind gives one line naming the key/file, and exits 2 through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest

from ft_core import Arg, Command, ConfigError, load_config, parse_overrides


class Lora(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    rank: int = 8


class TrainArgs(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    learning_rate: float = 1e-4
    num_train_epochs: float = 3.0
    stage: str = "sft"
    lora: Lora = Lora()


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(text)
    return path


def test_yaml_file_and_overrides(tmp_path):
    path = _yaml(tmp_path, "learning_rate: 5.0e-5\nstage: pt\n")
    cfg = load_config(TrainArgs, path, ["num_train_epochs=1", "lora.rank=16"])
    assert cfg.learning_rate == 5e-5
    assert cfg.stage == "pt"
    assert cfg.num_train_epochs == 1.0
    assert cfg.lora.rank == 16


def test_json_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"learning_rate": 0.1}))
    assert load_config(TrainArgs, path).learning_rate == 0.1


def test_unknown_key_names_file_and_closest_key(tmp_path):
    path = _yaml(tmp_path, "learning_rat: 1.0e-4\n")
    with pytest.raises(ConfigError) as err:
        load_config(TrainArgs, path)
    msg = str(err.value)
    assert str(path) in msg
    assert "unknown key 'learning_rat'" in msg
    assert "did you mean 'learning_rate'" in msg
    assert "\n" not in msg


def test_unknown_nested_key_suggests_within_section(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'lora.rnak'; did you mean 'rank'"):
        load_config(TrainArgs, None, ["lora.rnak=4"])


def test_unknown_override_is_attributed_to_command_line(tmp_path):
    path = _yaml(tmp_path, "stage: sft\n")
    with pytest.raises(ConfigError, match=r"^command line: unknown key 'stag'"):
        load_config(TrainArgs, path, ["stag=pt"])


def test_wrong_type_names_key_expected_and_value(tmp_path):
    path = _yaml(tmp_path, "learning_rate: fast\n")
    with pytest.raises(ConfigError) as err:
        load_config(TrainArgs, path)
    msg = str(err.value)
    assert "key 'learning_rate'" in msg
    assert "valid number" in msg
    assert "'fast'" in msg


def test_missing_file_names_path(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(TrainArgs, missing)


def test_invalid_yaml_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(TrainArgs, _yaml(tmp_path, "a: [1, 2\n"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(TrainArgs, _yaml(tmp_path, "- 1\n- 2\n"))


def test_parse_overrides_values_and_errors():
    assert parse_overrides(["a=1", "b=true", "c=[1, 2]", "d=text", "--e=0.5", "f="]) == {
        "a": 1, "b": True, "c": [1, 2], "d": "text", "e": 0.5, "f": "",
    }
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["novalue"])


def _cli(tmp_path: Path) -> Command:
    def handler(args):
        load_config(TrainArgs, args.config, args.overrides)
        print("ok")

    return Command("train", "Train.", handler,
                   arguments=[Arg("config"), Arg("overrides", nargs="*")], example="demo train c.yaml")


@pytest.mark.parametrize(
    ("content", "overrides", "needle"),
    [
        ("learning_rat: 1\n", [], "unknown key 'learning_rat'; did you mean 'learning_rate'"),
        ("learning_rate: fast\n", [], "key 'learning_rate'"),
        (None, [], "config file not found"),
        ("stage: sft\n", ["lora.rank=many"], "key 'lora.rank'"),
    ],
)
def test_cli_exit_code_2_and_one_line(tmp_path, capsys, monkeypatch, content, overrides, needle):
    monkeypatch.delenv("FT_DEBUG", raising=False)
    path = tmp_path / "c.yaml"
    if content is not None:
        path.write_text(content)
    code = _cli(tmp_path).main([str(path), *overrides])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "Traceback" not in err


def test_cli_debug_shows_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FT_DEBUG", "1")
    path = tmp_path / "c.yaml"
    path.write_text("learning_rat: 1\n")
    assert _cli(tmp_path).main([str(path)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_cli_ok(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("stage: pt\n")
    assert _cli(tmp_path).main([str(path)]) == 0
    assert capsys.readouterr().out == "ok\n"
