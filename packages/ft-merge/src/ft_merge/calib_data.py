"""Calibration and evaluation text: dataset specs to texts, texts to token windows.

A spec is a local ``.jsonl``/``.json``/``.txt``/``.parquet``/``.csv`` file or a hub dataset
``name[:config][@split]``. The text of a row is the first of ``text, content, conversation,
messages, prompt`` (the seed's order), then alpaca ``instruction/input/output`` joined, then
sharegpt ``conversations``, then the first string or list column. Message lists go through the
tokenizer's chat template when it has one, else ``role: content`` lines.

Example:
    >>> texts = load_texts("docs/examples/data/alpaca_demo.json", limit=64)
    >>> ids, mask = pack_windows(tokenizer, texts, num_samples=8, seq_len=128)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ft_core import DataError

TEXT_FIELDS = ("text", "content", "conversation", "messages", "prompt")


class DatasetUnavailable(DataError):
    """The dataset cannot be obtained (not found, offline, empty): the only case a fallback applies to."""


def _rows_local(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return [{"text": line} for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if suffix == ".jsonl":
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
        return rows
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc.msg})") from exc
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [])
        return list(data)
    import datasets

    return list(datasets.load_dataset(suffix.lstrip("."), data_files=str(path), split="train"))


def _rows_hub(spec: str, split: str) -> list[dict[str, Any]]:
    import datasets

    name, _, split_part = spec.partition("@")
    name, _, config = name.partition(":")
    try:
        ds = datasets.load_dataset(name, config or None, split=split_part or split)
    except (FileNotFoundError, ConnectionError) as exc:
        raise DatasetUnavailable(f"dataset {spec}: unavailable ({type(exc).__name__}: {str(exc)[:120]})") from exc
    except Exception as exc:
        # datasets raises its own DatasetNotFoundError / offline errors; anything else is a real bug.
        if type(exc).__name__ in ("DatasetNotFoundError", "OfflineModeIsEnabled", "LocalEntryNotFoundError"):
            raise DatasetUnavailable(f"dataset {spec}: unavailable ({type(exc).__name__})") from exc
        raise
    return list(ds)


def load_rows(spec: str, split: str = "train") -> list[dict[str, Any]]:
    """All rows of a dataset spec (local file or hub dataset)."""
    path = Path(spec).expanduser()
    if path.is_file():
        rows = _rows_local(path)
    elif path.suffix.lower() in (".jsonl", ".json", ".txt", ".parquet", ".csv"):
        raise DatasetUnavailable(f"dataset {spec}: file not found")
    else:
        rows = _rows_hub(spec, split)
    if not rows:
        raise DatasetUnavailable(f"dataset {spec}: no rows")
    return rows


def _messages_text(value: list[Any], tokenizer: Any) -> str:
    msgs = [{"role": m.get("role") or {"human": "user", "gpt": "assistant"}.get(m.get("from", ""), m.get("from", "user")),
             "content": str(m.get("content", m.get("value", "")))} for m in value if isinstance(m, dict)]
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        try:
            return tokenizer.apply_chat_template(msgs, tokenize=False)
        except Exception:  # a template that rejects these roles: plain lines are good enough here
            pass
    return "\n".join(f"{m['role']}: {m['content']}" for m in msgs)


def row_text(row: dict[str, Any], text_field: str | None = None, tokenizer: Any = None) -> str:
    """The text of one row (see the module docstring for the field order)."""
    if text_field:
        if text_field not in row:
            raise DataError(f"text_field {text_field!r} not in row (columns: {', '.join(row)})")
        value: Any = row[text_field]
    else:
        value = next((row[k] for k in TEXT_FIELDS if k in row), None)
        if value is None and "instruction" in row:
            value = "\n".join(str(row.get(k) or "") for k in ("instruction", "input", "output") if row.get(k))
        if value is None and "conversations" in row:
            value = row["conversations"]
        if value is None:
            value = next((v for v in row.values() if isinstance(v, (str, list))), "")
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return _messages_text(value, tokenizer)
        return " ".join(str(v) for v in value)
    return str(value)


def load_texts(spec: str, split: str = "train", text_field: str | None = None, tokenizer: Any = None,
               limit: int | None = None, skip: int = 0) -> list[str]:
    """Texts of rows ``skip .. skip+limit`` of a dataset spec."""
    rows = load_rows(spec, split)
    rows = rows[skip: None if limit is None else skip + limit]
    return [t for t in (row_text(r, text_field, tokenizer) for r in rows) if t.strip()]


def pack_windows(tokenizer: Any, texts: list[str], num_samples: int, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate texts separated by EOS and cut ``num_samples`` windows of ``seq_len`` tokens.

    Too few tokens: the last window is padded and masked (mask False = padding, excluded from H).
    """
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    ids: list[int] = []
    for t in texts:
        ids.extend(tokenizer(t, add_special_tokens=False)["input_ids"])
        ids.append(eos)
        if len(ids) >= num_samples * seq_len:
            break
    n = min(num_samples, max(1, -(-len(ids) // seq_len)))
    out = torch.full((n, seq_len), eos, dtype=torch.long)
    mask = torch.zeros((n, seq_len), dtype=torch.bool)
    for i in range(n):
        chunk = ids[i * seq_len:(i + 1) * seq_len]
        out[i, :len(chunk)] = torch.tensor(chunk, dtype=torch.long)
        mask[i, :len(chunk)] = True
    return out, mask


def dummy_windows(vocab_size: int, num_samples: int, seq_len: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token windows (the seed's fallback; only per-channel activation scale survives)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (num_samples, seq_len), generator=g), torch.ones(num_samples, seq_len, dtype=torch.bool)
