"""The malformed-data corpus: every kind of bad row is counted by reason with its file and row;
every bad file or registry entry is one clear error line (exit 2), never a traceback."""

from __future__ import annotations

import json

import pytest

from ft_core import ConfigError, DataError
from ft_data import get_dataset
from ft_data import report as R
from ft_data.cli import cli
from ft_data.inspect import validate_dataset
from ft_testing.data import write_dataset

GOOD_A = {"instruction": "2+2?", "input": "", "output": "4"}
CONV = [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]

# (kind, row, expected reason) for alpaca rows (jsonl so that broken lines are possible)
ALPACA_BAD = [
    ("missing prompt column", {"input": "", "output": "4"}, R.MISSING_COLUMN),
    ("prompt not a string", {"instruction": 42, "output": "4"}, R.NOT_A_STRING),
    ("empty prompt", {"instruction": "  ", "input": "", "output": "4"}, R.EMPTY_CONTENT),
    ("empty response", {"instruction": "q", "output": ""}, R.EMPTY_CONTENT),
    ("no response", {"instruction": "q"}, R.NO_RESPONSE),
    ("response not a string", {"instruction": "q", "output": ["4"]}, R.NOT_A_STRING),
    ("history not a list", {"instruction": "q", "output": "a", "history": "x"}, R.BAD_MESSAGE),
    ("history pair of three", {"instruction": "q", "output": "a", "history": [["a", "b", "c"]]}, R.BAD_MESSAGE),
    ("tools not JSON", {"instruction": "q", "output": "a", "tools": "[{oops"}, R.BAD_TOOLS),
    ("tools JSON scalar", {"instruction": "q", "output": "a", "tools": "7"}, R.BAD_TOOLS),
    ("system not a string", {"instruction": "q", "output": "a", "system": ["s"]}, R.NOT_A_STRING),
    ("unparseable JSON line", '{"instruction": "q", "output": ', R.BAD_JSON),
    ("row is not an object", "[1, 2, 3]", R.NOT_AN_OBJECT),
]

SHAREGPT_BAD = [
    ("messages not a list", {"conversations": "hi"}, R.BAD_MESSAGE),
    ("message not an object", {"conversations": ["hi", "hello"]}, R.BAD_MESSAGE),
    ("message lacks content", {"conversations": [{"from": "human"}, {"from": "gpt", "value": "x"}]}, R.BAD_MESSAGE),
    ("unknown role", {"conversations": [{"from": "bob", "value": "hi"}, {"from": "gpt", "value": "x"}]}, R.UNKNOWN_ROLE),
    ("assistant first", {"conversations": CONV[::-1]}, R.WRONG_ROLE_ORDER),
    ("two user turns", {"conversations": [CONV[0], CONV[0]]}, R.WRONG_ROLE_ORDER),
    ("ends with the user", {"conversations": [*CONV, CONV[0]]}, R.WRONG_COUNT),
    ("no messages", {"conversations": []}, R.WRONG_COUNT),
    ("content is null", {"conversations": [{"from": "human", "value": None}, CONV[1]]}, R.NOT_A_STRING),
    ("empty content", {"conversations": [{"from": "human", "value": ""}, CONV[1]]}, R.EMPTY_CONTENT),
    ("system in the middle", {"conversations": [*CONV, {"from": "system", "value": "s"}, *CONV]}, R.WRONG_ROLE_ORDER),
    ("tool call not JSON", {"conversations": [CONV[0], {"from": "function_call", "value": "call(x)"},
                                              {"from": "observation", "value": "1"}, CONV[1]]}, R.BAD_JSON),
]


def _kinds():
    return len(ALPACA_BAD) + len(SHAREGPT_BAD)


def test_corpus_has_at_least_20_kinds():
    assert _kinds() + len(FILE_ERRORS) >= 20 and _kinds() >= 20


@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt"])
def test_bad_rows_are_counted_by_reason_with_file_and_row(tmp_path, fmt):
    cases = ALPACA_BAD if fmt == "alpaca" else SHAREGPT_BAD
    good = GOOD_A if fmt == "alpaca" else {"conversations": CONV}
    rows = [good] + [row for _, row, _ in cases] + [good]
    extra = ({"columns": {"prompt": "instruction", "query": "input", "response": "output", "history": "history",
                          "system": "system", "tools": "tools"}} if fmt == "alpaca" else {"formatting": "sharegpt"})
    path = write_dataset(tmp_path, "mixed", rows, file_name="mixed.jsonl", **extra)
    report = validate_dataset("mixed", str(tmp_path), stage="sft")
    expected = {}
    for _, _, reason in cases:
        expected[reason] = expected.get(reason, 0) + 1
    assert dict(report.counts) == expected
    assert report.total == len(rows) and report.good == 2
    # examples name the file and the line (the first bad row is on line 2)
    assert all(e.file == str(path) for e in report.examples)
    assert any(e.row == 2 and e.reason == cases[0][2] for e in report.examples)


def test_ranking_and_kto_rows(tmp_path):
    write_dataset(tmp_path, "pairs", [
        {"instruction": "q", "chosen": "a", "rejected": "b"},
        {"instruction": "q", "chosen": "a"},
        {"instruction": "q", "chosen": "", "rejected": "b"},
    ], ranking=True, columns={"prompt": "instruction", "chosen": "chosen", "rejected": "rejected"})
    report = validate_dataset("pairs", str(tmp_path), stage="dpo")
    assert dict(report.counts) == {R.MISSING_COLUMN: 1, R.EMPTY_CONTENT: 1}
    write_dataset(tmp_path, "sg_pairs", [
        {"conversations": [CONV[0]], "chosen": {"from": "gpt", "value": "a"}, "rejected": {"from": "gpt", "value": "b"}},
        {"conversations": [CONV[0]], "chosen": {"from": "human", "value": "a"}, "rejected": {"from": "gpt", "value": "b"}},
    ], formatting="sharegpt", ranking=True, columns={"messages": "conversations", "chosen": "chosen", "rejected": "rejected"})
    report = validate_dataset("sg_pairs", str(tmp_path), stage="dpo")
    assert dict(report.counts) == {R.BAD_RANKING: 1}
    write_dataset(tmp_path, "kto", [
        {"instruction": "q", "output": "a", "tag": True},
        {"instruction": "q", "output": "a", "tag": "yes"},
    ], columns={"prompt": "instruction", "response": "output", "kto_tag": "tag"})
    report = validate_dataset("kto", str(tmp_path), stage="kto")
    assert dict(report.counts) == {R.BAD_TAG: 1}


def test_openai_bad_tool_call(tmp_path):
    write_dataset(tmp_path, "oa", [
        {"messages": [{"role": "user", "content": "x"},
                      {"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": "{}"}}]},
                      {"role": "tool", "content": "1"}, {"role": "assistant", "content": "done"}]},
        {"messages": [{"role": "user", "content": "x"},
                      {"role": "assistant", "content": None,
                       "tool_calls": [{"function": {"name": "f", "arguments": "{bad"}}]},
                      {"role": "tool", "content": "1"}, {"role": "assistant", "content": "done"}]},
    ], formatting="openai", columns={"messages": "messages"})
    report = validate_dataset("oa", str(tmp_path), stage="sft")
    assert dict(report.counts) == {R.BAD_MESSAGE: 1, R.BAD_JSON: 1}


def test_on_bad_row_error_stops_at_the_first(tmp_path, smol, args_for):
    template, tok = smol
    write_dataset(tmp_path, "d", [GOOD_A, {"instruction": "q", "output": ""}], file_name="d.jsonl")
    with pytest.raises(DataError, match=r"empty content: .*d\.jsonl row 2"):
        get_dataset(args_for(tmp_path, "d", on_bad_row="error"), stage="sft", template=template, tokenizer=tok)
    module = get_dataset(args_for(tmp_path, "d"), stage="sft", template=template, tokenizer=tok)
    assert module.train_dataset.num_rows == 1
    assert module.reports[0].counts == {R.EMPTY_CONTENT: 1}


def _write(tmp_path, name, text, info=None):
    (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    entry = info or {"file_name": name}
    (tmp_path / "dataset_info.json").write_text(json.dumps({"d": entry}))


FILE_ERRORS = [
    ("missing file", lambda p: (p / "dataset_info.json").write_text('{"d": {"file_name": "nope.json"}}'), "not found"),
    ("truncated JSON", lambda p: _write(p, "d.json", '[{"instruction": "q"'), "not valid JSON"),
    ("JSON object instead of rows", lambda p: _write(p, "d.json", '{"rows": [{"instruction": "q"}]}'),
     "under key 'rows'"),
    ("empty file", lambda p: _write(p, "d.json", ""), "empty"),
    ("not UTF-8", lambda p: _write(p, "d.jsonl", b'{"instruction": "\xff\xfe"}\n'), "not UTF-8"),
    ("unsupported type", lambda p: _write(p, "d.xml", "<rows/>"), "unsupported type"),
    ("mixed folder", lambda p: (_write(p, "x/a.json", "[]", {"file_name": "x"}), _write(p, "x/b.csv", "a\n1",
                                                                                       {"file_name": "x"})),
     "mixes file types"),
    ("column nowhere", lambda p: _write(p, "d.json", json.dumps([{"question": "q", "output": "a"}])),
     "column 'instruction' (columns.prompt) not found"),
    ("all rows bad", lambda p: _write(p, "d.json", json.dumps([{"instruction": "", "output": "a"}] * 3)),
     "no valid row left: all 3 rows are bad (empty content: 3)"),
    ("unknown formatting", lambda p: _write(p, "d.json", "[]", {"file_name": "d.json", "formatting": "xml"}),
     "formatting"),
    ("unknown entry key", lambda p: _write(p, "d.json", "[]", {"file_name": "d.json", "colums": {}}), "colums"),
    ("undefined dataset", lambda p: (p / "dataset_info.json").write_text('{"other": {"file_name": "o.json"}}'),
     "undefined dataset 'd'"),
    ("registry not JSON", lambda p: (p / "dataset_info.json").write_text("{oops"), "not valid JSON"),
    ("parquet not parquet", lambda p: _write(p, "d.parquet", "not parquet"), "cannot read as parquet"),
    ("hub id while offline", lambda p: (p / "dataset_info.json").write_text('{"d": {"hf_hub_url": "nobody/nothing"}}'),
     "cannot load 'nobody/nothing' from the hub"),
    ("dataset script", lambda p: (p / "dataset_info.json").write_text('{"d": {"script_url": "my_script"}}'),
     "dataset scripts are not supported"),
]


@pytest.mark.parametrize("kind,setup,message", FILE_ERRORS, ids=[k for k, _, _ in FILE_ERRORS])
def test_bad_files_are_one_line_errors(tmp_path, capsys, kind, setup, message):
    (tmp_path / "x").mkdir()
    setup(tmp_path)
    code = cli.main(["validate", "d", "--dataset-dir", str(tmp_path), "--stage", "sft"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert message in err


def test_ranking_dataset_for_sft_names_the_dataset(tmp_path):
    write_dataset(tmp_path, "pairs", [{"instruction": "q", "chosen": "a", "rejected": "b"}], ranking=True)
    with pytest.raises(DataError, match="dataset 'pairs' cannot be used for stage 'sft'"):
        validate_dataset("pairs", str(tmp_path), stage="sft")


def test_unknown_format_in_code_names_dataset_and_key(tmp_path):
    from ft_data import DatasetEntry, get_converter

    entry = DatasetEntry(file_name="x.json")
    object.__setattr__(entry, "formatting", "xml")
    with pytest.raises(ConfigError, match="dataset 'mine': unknown formatting 'xml'"):
        get_converter(entry, "mine")
