"""The ft-data CLI on the demo datasets."""

from __future__ import annotations

import json

import pytest

from ft_data.cli import cli


def test_list_and_validate(demo_data, capsys):
    assert cli.main(["list", "--dataset-dir", str(demo_data)]) == 0
    out = capsys.readouterr().out
    assert "rg_dpo" in out and "ranking" in out and "pt_public_domain" in out
    assert cli.main(["validate", "rg_kto", "--dataset-dir", str(demo_data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 120 and report["bad"] == 0


def test_preview_marks_trained_spans(demo_data, capsys, tiny_llama_path):
    code = cli.main(["preview", "rg_alpaca", "--dataset-dir", str(demo_data), "--template", "smollm2",
                     "--tokenizer", str(tiny_llama_path), "-n", "2", "--plain"])
    out = capsys.readouterr().out
    assert code == 0 and out.count("--- row") == 2
    assert "<|im_start|>assistant\n[[" in out and "<|im_end|>\n]]" in out


def test_stats_with_plot(demo_data, tmp_path, capsys, tiny_llama_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "h.png"
    assert cli.main(["stats", "rg_sharegpt", "--dataset-dir", str(demo_data), "--plot", str(png)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["rows"] == 75 and stats["unit"] == "characters" and png.stat().st_size > 1000
    assert cli.main(["stats", "identity", "--dataset-dir", str(demo_data), "--template", "smollm2",
                     "--tokenizer", str(tiny_llama_path)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["unit"] == "tokens" and stats["rows"] == 24 and stats["over_cutoff_len"] == 0


def test_bad_tokenizer_is_one_line(demo_data, capsys, tmp_path):
    code = cli.main(["preview", "identity", "--dataset-dir", str(demo_data), "--template", "smollm2",
                     "--tokenizer", str(tmp_path / "nothing")])
    assert code == 2 and "cannot load tokenizer" in capsys.readouterr().err
