"""The CLI runner: groups, --help examples, --version, exit codes for each error kind."""

from __future__ import annotations

import pytest

from ft_core import Arg, BadInputError, Command, FtError, Group


def _group(calls: list) -> Group:
    def ok(args):
        calls.append(args.name)

    def bad(args):
        raise BadInputError("data.json: row 3: empty content; fill it or drop the row")

    def fail(args):
        raise FtError("merge produced NaN")

    def crash(args):
        raise RuntimeError("boom")

    sub = Group("inner", "Inner group.", commands=[Command("deep", "Deep verb.", ok, [Arg("name")])])
    return Group("demo", "Demo tool.", version="1.2.3", example="demo ok bob", commands=[
        Command("ok", "Works.", ok, [Arg("name")], example="demo ok bob"),
        Command("bad", "Bad input.", bad), Command("fail", "Fails.", fail), Command("crash", "Crashes.", crash),
        sub,
    ])


def test_dispatch_and_nested_group():
    calls: list = []
    cli = _group(calls)
    assert cli.main(["ok", "bob"]) == 0
    assert cli.main(["inner", "deep", "alice"]) == 0
    assert calls == ["bob", "alice"]


@pytest.mark.parametrize(("verb", "code", "needle"), [
    ("bad", 2, "error: data.json: row 3: empty content"),
    ("fail", 1, "error: merge produced NaN"),
    ("crash", 1, "error: RuntimeError: boom (run with --debug for the traceback)"),
])
def test_exit_codes(capsys, monkeypatch, verb, code, needle):
    monkeypatch.delenv("FT_DEBUG", raising=False)
    assert _group([]).main([verb]) == code
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_debug_flag_shows_traceback(capsys):
    assert _group([]).main(["bad", "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_help_shows_example_and_version(capsys):
    cli = _group([])
    assert cli.main(["ok", "--help"]) == 0
    out = capsys.readouterr().out
    assert "example:" in out and "demo ok bob" in out
    assert cli.main(["--version"]) == 0
    assert "demo 1.2.3" in capsys.readouterr().out


def test_bad_arguments_exit_2(capsys):
    assert _group([]).main(["ok"]) == 2  # missing positional
    assert _group([]).main(["nosuchverb"]) == 2
    assert _group([]).main([]) == 2  # no verb: help and exit 2


def test_flag_overrides_read_key_value_pairs_in_llamafactory_style(capsys):
    from ft_core import Arg, Command, Group, flags_to_overrides

    assert flags_to_overrides(["--dataset", "router_test", "--cutoff_len=2048", "--flag", "--debug", "a=1"],
                              keep=["--debug"]) == ["dataset=router_test", "cutoff_len=2048", "flag=true",
                                                     "--debug", "a=1"]
    seen = {}

    def handler(args):
        seen["config"], seen["overrides"] = args.config, list(args.overrides)
        return 0

    cmd = Command("infer", "Infer.", handler, flag_overrides=True,
                  arguments=[Arg("config", nargs="?", default=None), Arg("overrides", nargs="*")])
    group = Group("demo", "Demo.", commands=[cmd])
    argv = ["infer", "--model_name_or_path", "m", "--top_k", "-1", "temperature=0.5"]
    assert group.main(argv) == 0
    assert [seen["config"], *seen["overrides"]] == ["model_name_or_path=m", "top_k=-1", "temperature=0.5"]
    assert cmd.main(argv[1:]) == 0  # the command alone parses the same way
    assert [seen["config"], *seen["overrides"]] == ["model_name_or_path=m", "top_k=-1", "temperature=0.5"]
    plain = Command("plain", "Plain.", handler, arguments=[Arg("overrides", nargs="*")])
    assert Group("demo", "Demo.", commands=[plain]).main(["plain", "--model_name_or_path", "m"]) == 2
