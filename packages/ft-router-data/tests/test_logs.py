"""Reading logs: CSV record blocks (quoted multi-line fields), streamed vs scanned reading."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest

from ft_router_data import build_sft, logs
from ft_router_data.logs import LogSource, csv_record_blocks


def _tricky_csv(path, rows=200):
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["task_name", "query", "response"])
        for i in range(rows):
            writer.writerow([f"t{i}", f'line one\nline "two" {i}\n\n', 'a ""quoted"" é' * (i % 5) + "\r\n,end"])
            if i % 37 == 0:
                fh.write("\n")  # a blank line, skipped like pandas does
    return path


@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_record_blocks_never_split_a_record(tmp_path, block):
    path = _tricky_csv(tmp_path / "t.csv")
    blocks = list(csv_record_blocks(path, block_bytes=block))
    assert b"".join(blocks) == path.read_bytes()
    for chunk in blocks:
        assert chunk.count(b'"') % 2 == 0 and (chunk.endswith(b"\n") or chunk is blocks[-1])
    whole = pl.read_csv(path, infer_schema=False)
    header = blocks[0].split(b"\n", 1)[0] + b"\n"
    parts = [pl.read_csv(io.BytesIO(header + (c if i else c.split(b"\n", 1)[1])), infer_schema=False)
             for i, c in enumerate(blocks) if (c if i else c.split(b"\n", 1)[1]).strip()]
    got = pl.concat(parts).filter(~pl.all_horizontal(pl.all().is_null()))
    assert got.equals(whole.filter(~pl.all_horizontal(pl.all().is_null())))


def test_streamed_equals_scanned(tmp_path, monkeypatch):
    path = _tricky_csv(tmp_path / "t.csv")
    monkeypatch.setattr(logs, "BLOCK_BYTES", 300)
    source = LogSource(path)
    scanned = source.collect(["task_name", "query", "response"])
    streamed = source.collect(["task_name", "query", "response"], streamed=True)
    assert scanned.height == 200 and streamed.equals(scanned)
    fetched = source.fetch(pl.Series([0, 5, 199], dtype=pl.UInt32), ["response"])
    assert fetched.get_column("response").to_list() == scanned.filter(pl.col("_raw").is_in([0, 5, 199])).get_column(
        "response").to_list()


def test_low_memory_build_with_small_blocks(routing_log_csv, tmp_path, monkeypatch):
    expected = build_sft(routing_log_csv, tmp_path / "a", setting="judge", k=3).path.read_bytes()
    monkeypatch.setattr(logs, "BLOCK_BYTES", 10_000)  # many blocks
    for legacy in (False, True):
        got = build_sft(routing_log_csv, tmp_path / f"b{legacy}", setting="judge", k=3, low_memory=True,
                        legacy_blocks=legacy).path.read_bytes()
        if not legacy:
            assert got == expected
    assert got == build_sft(routing_log_csv, tmp_path / "c", setting="judge", k=3, legacy_blocks=True).path.read_bytes()


def test_generated_log_formats_agree(tmp_path):
    from ft_testing.routing_logs import write_routing_log

    outputs = set()
    for fmt in ("csv", "jsonl", "parquet"):
        path = write_routing_log(tmp_path / f"log.{fmt}", n_queries=14, seed=5)
        outputs.add(build_sft(path, tmp_path / fmt, setting="hybrid", k=2).path.read_bytes())
    assert len(outputs) == 1
