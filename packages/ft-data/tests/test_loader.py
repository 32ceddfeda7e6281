"""get_dataset end to end: file types, formats, mixing, splits, sampling, cache, streaming, demo data."""

from __future__ import annotations

import json

import pytest

from ft_core import ConfigError
from ft_data import DataArgs, get_dataset
from ft_data.mixing import mix, resample, split
from ft_testing.data import write_dataset

ROWS = [{"instruction": f"Calculate {i} + 1.", "input": "", "output": str(i + 1)} for i in range(10)]


@pytest.mark.parametrize("file_name", ["d.json", "d.jsonl", "d.csv", "d.parquet"])
def test_file_types_give_the_same_rows(tmp_path, smol, args_for, file_name):
    template, tok = smol
    write_dataset(tmp_path / "ref", "d", ROWS)
    write_dataset(tmp_path / "x", "d", ROWS, file_name=file_name)
    ref = get_dataset(args_for(tmp_path / "ref", "d"), stage="sft", template=template, tokenizer=tok).train_dataset
    got = get_dataset(args_for(tmp_path / "x", "d"), stage="sft", template=template, tokenizer=tok).train_dataset
    assert got["input_ids"] == ref["input_ids"] and got["labels"] == ref["labels"]


def test_arrow_file_folder_and_text(tmp_path, smol, args_for):
    import datasets

    template, tok = smol
    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "saved"))
    arrow = next((tmp_path / "saved").glob("*.arrow"))
    (tmp_path / "folder").mkdir()
    for i in range(2):
        (tmp_path / "folder" / f"part{i}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[i * 5:(i + 1) * 5]))
    (tmp_path / "t.txt").write_text("first line of text\n\nsecond line\n")
    (tmp_path / "dataset_info.json").write_text(json.dumps({
        "arrow": {"file_name": str(arrow.relative_to(tmp_path))}, "folder": {"file_name": "folder"},
        "text": {"file_name": "t.txt", "columns": {"prompt": "text"}}}))
    for name in ("arrow", "folder"):
        ds = get_dataset(args_for(tmp_path, name), stage="sft", template=template, tokenizer=tok).train_dataset
        assert ds.num_rows == 10
    pt = get_dataset(args_for(tmp_path, "text", cutoff_len=1024), stage="pt", template=template, tokenizer=tok)
    assert tok.decode(pt.train_dataset[0]["input_ids"]) == (
        f"first line of text{tok.eos_token}second line{tok.eos_token}")


def test_openai_format_with_tools(tmp_path, smol, args_for):
    template, tok = smol
    tools = [{"type": "function", "function": {"name": "add", "description": "add", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}}}}}]
    write_dataset(tmp_path, "oa", [{"messages": [
        {"role": "system", "content": "Use tools."}, {"role": "user", "content": "1+1?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}]},
        {"role": "tool", "content": "2"}, {"role": "tool", "content": "ok"},
        {"role": "assistant", "content": "2"}], "tools": tools}],
        formatting="openai", columns={"messages": "messages", "tools": "tools"})
    from ft_data.inspect import align_rows

    aligned = align_rows("oa", str(tmp_path), "sft").rows[0]
    assert aligned["system"] == "Use tools."
    assert [m["role"] for m in aligned["messages"]] == ["user", "function", "observation", "assistant"]
    assert json.loads(aligned["messages"][1]["content"]) == [{"name": "add", "arguments": {"a": 1}}]
    assert aligned["messages"][2]["content"] == "2\n</tool_response>\n<tool_response>\nok"
    ds = get_dataset(args_for(tmp_path, "oa"), stage="sft", template=template, tokenizer=tok).train_dataset
    text = tok.decode(ds[0]["input_ids"])
    assert "Tool Name: add" in text and 'Action: add\nAction Input: {"a": 1}' in text


def test_mix_split_and_sampling(tmp_path, smol, args_for):
    template, tok = smol
    write_dataset(tmp_path, "a", ROWS)
    write_dataset(tmp_path, "b", ROWS[:4], num_samples=7)
    m = get_dataset(args_for(tmp_path, "a,b", val_size=0.2), stage="sft", template=template, tokenizer=tok)
    assert m.train_dataset.num_rows + m.eval_dataset.num_rows == 17 and m.eval_dataset.num_rows == 3
    m = get_dataset(args_for(tmp_path, "a,b", max_samples=2), stage="sft", template=template, tokenizer=tok)
    assert m.train_dataset.num_rows == 4
    m = get_dataset(args_for(tmp_path, "a", eval_dataset="b", eval_on_each_dataset=True), stage="sft",
                    template=template, tokenizer=tok)
    assert set(m.eval_dataset) == {"b"} and m.eval_dataset["b"].num_rows == 7


def test_mix_strategies():
    import numpy as np

    rng = np.random.default_rng(0)
    assert mix([2, 1], "concat", None, rng) == [(0, 0), (0, 1), (1, 0)]
    under = mix([5, 2], "interleave_under", [0.5, 0.5], rng)
    assert sum(d == 1 for d, _ in under) == 2 and under[-1][0] == 1
    once = mix([5, 2], "interleave_once", None, rng)
    assert sorted(once) == [(0, i) for i in range(5)] + [(1, 0), (1, 1)]
    over = mix([5, 2], "interleave_over", [0.5, 0.5], rng)
    assert {i for d, i in over if d == 0} == set(range(5)) and {i for d, i in over if d == 1} == {0, 1}
    assert len(resample(3, 5, rng)) == 5 and sorted(resample(5, 5, rng)) == list(range(5))
    train, val = split(10, 0.3, rng)
    assert len(val) == 3 and sorted(train + val) == list(range(10))
    with pytest.raises(ConfigError):
        split(3, 3, rng)


def test_cache_hits_and_invalidation(tmp_path, smol, args_for):
    template, tok = smol
    path = write_dataset(tmp_path, "d", ROWS)
    first = get_dataset(args_for(tmp_path, "d"), stage="sft", template=template, tokenizer=tok)
    again = get_dataset(args_for(tmp_path, "d"), stage="sft", template=template, tokenizer=tok)
    assert not first.from_cache and again.from_cache and again.cache_path == first.cache_path
    assert again.train_dataset["input_ids"] == first.train_dataset["input_ids"]
    changed = [
        get_dataset(args_for(tmp_path, "d", cutoff_len=8), stage="sft", template=template, tokenizer=tok),
        get_dataset(args_for(tmp_path, "d"), stage="sft", template=template.with_options(default_system="X"),
                    tokenizer=tok),
        get_dataset(args_for(tmp_path, "d", train_on_prompt=True), stage="sft", template=template, tokenizer=tok),
    ]
    path.write_text(json.dumps(ROWS[:5]))
    changed.append(get_dataset(args_for(tmp_path, "d"), stage="sft", template=template, tokenizer=tok))
    assert all(not m.from_cache for m in changed)
    assert len({m.cache_path for m in [first, *changed]}) == 5
    assert changed[-1].train_dataset.num_rows == 5


def test_streaming(tmp_path, smol, args_for):
    template, tok = smol
    write_dataset(tmp_path, "d", ROWS)
    m = get_dataset(args_for(tmp_path, "d", streaming=True, val_size=2, preprocessing_batch_size=3), stage="sft",
                    template=template, tokenizer=tok)
    train, evaluation = list(m.train_dataset), list(m.eval_dataset)
    assert len(train) == 8 and len(evaluation) == 2
    plain = get_dataset(args_for(tmp_path, "d"), stage="sft", template=template, tokenizer=tok).train_dataset
    assert sorted(map(tuple, [r["input_ids"] for r in train + evaluation])) == sorted(map(tuple, plain["input_ids"]))


def test_demo_datasets_all_stages(demo_data, smol, args_for):
    template, tok = smol
    for stage, name, rows in [("sft", "identity,rg_alpaca,rg_sharegpt,tool_calls,rg_heldout", 24 + 250 + 75 + 60 + 140),
                              ("dpo", "rg_dpo", 120), ("kto", "rg_kto", 120)]:
        m = get_dataset(args_for(demo_data, name), stage=stage, template=template, tokenizer=tok)
        assert m.train_dataset.num_rows == rows and all(r.bad == 0 for r in m.reports)
    pt = get_dataset(args_for(demo_data, "pt_public_domain", cutoff_len=64), stage="pt", template=template,
                     tokenizer=tok).train_dataset
    assert all(len(x) == 64 for x in pt["input_ids"][:-1]) and 0 < len(pt["input_ids"][-1]) <= 64


def test_args_lists_and_checks():
    args = DataArgs(dataset="a, b", interleave_probs="0.3,0.7", mix_strategy="interleave_under")
    assert args.dataset == ["a", "b"] and args.interleave_probs == [0.3, 0.7]
    assert DataArgs().packing_for("pt") and not DataArgs().packing_for("sft") and DataArgs(neat_packing=True).packing_for("sft")
    for bad in [dict(mask_history=True, train_on_prompt=True), dict(val_size=0.1, eval_dataset="x"),
                dict(dataset="a", interleave_probs="1,2"), dict(streaming=True, val_size=0.5)]:
        with pytest.raises(ValueError):
            DataArgs(**bad)


def test_tokenized_path_saves_then_loads(tmp_path, smol, args_for):
    from ft_core import DataError

    template, tok = smol
    write_dataset(tmp_path, "d", ROWS)
    target = tmp_path / "tokenized"
    first = get_dataset(args_for(tmp_path, "d", tokenized_path=str(target), val_size=2), stage="sft",
                        template=template, tokenizer=tok)
    again = get_dataset(args_for(tmp_path, "nothing-else-matters", tokenized_path=str(target)), stage="sft",
                        template=template, tokenizer=tok)
    assert again.from_cache and again.train_dataset["input_ids"] == first.train_dataset["input_ids"]
    assert again.eval_dataset.num_rows == 2
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    with pytest.raises(DataError, match="not a dataset saved by ft-data"):
        get_dataset(args_for(tmp_path, "d", tokenized_path=str(tmp_path / "other")), stage="sft",
                    template=template, tokenizer=tok)
