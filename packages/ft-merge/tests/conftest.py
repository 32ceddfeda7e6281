"""Tiny models for ft-merge tests: ft-testing's tiny Llama and fine-tunes of it made by a few
optimizer steps on two different text sets; plus a smaller untied Llama with its own byte-level
BPE tokenizer for vocabulary and tied-head cases."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

TASK_A = [f"The sum of {a} and {b} is {a + b}." for a in range(12) for b in range(6)]
TASK_B = [f"Translate '{w}' to French: {f}." for w, f in
          [("cat", "chat"), ("dog", "chien"), ("house", "maison"), ("water", "eau"), ("bread", "pain"),
           ("apple", "pomme"), ("car", "voiture"), ("book", "livre"), ("tree", "arbre"), ("sun", "soleil")] * 6]


DEMO = Path(__file__).resolve().parents[3] / "docs" / "examples" / "data"


def demo_tasks() -> tuple[list[str], list[str]]:
    """Two different tasks: the demo datasets (reasoning-gym arithmetic, identity) when present."""
    import json

    try:
        rows_a = json.loads((DEMO / "rg_alpaca.json").read_text())[:96]
        rows_b = json.loads((DEMO / "identity.json").read_text())
    except (OSError, ValueError):
        return TASK_A, TASK_B

    def text(r: dict) -> str:
        return "\n".join(x for x in (r.get("instruction"), r.get("input"), r.get("output")) if x)
    return [text(r) for r in rows_a], [text(r) for r in rows_b] * 3


def write_jsonl(path: Path, texts: list[str]) -> Path:
    import json

    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def _tokenizer(directory: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<eos>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TASK_A + TASK_B + ["wikitext style text about history and science."] * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")
    fast.save_pretrained(directory)
    return fast


def make_base(directory: Path, seed: int = 0, tie: bool = False) -> Path:
    """A random tiny Llama (hidden 32, 2 layers) saved as safetensors with its tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    directory.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(directory)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=tie, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(directory)
    return directory


def finetune(base: Path, out: Path, texts: list[str], steps: int = 4, lr: float = 3e-3) -> Path:
    """A full fine-tune of ``base``: a few AdamW steps on ``texts`` (whole model)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    torch.manual_seed(1)
    for step in range(steps):
        batch = texts[step * 8 % len(texts):][:8]
        enc = tok(batch, return_tensors="pt", padding=True)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        loss = model(**enc, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(out)
    for f in base.iterdir():
        if f.is_file() and not f.name.endswith(".safetensors") and f.name != "config.json":
            shutil.copy(f, out / f.name)
    return out


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Base, two full fine-tunes on different tasks, their datasets (jsonl) and a held-out text file."""
    from ft_testing.models import tiny_llama_dir

    root = tmp_path_factory.mktemp("tiny")
    base = tiny_llama_dir()  # hidden 64, 2 layers, tied embeddings, the real SmolLM2 tokenizer
    task_a, task_b = demo_tasks()
    data_a = write_jsonl(root / "task_a.jsonl", task_a)
    data_b = write_jsonl(root / "task_b.jsonl", task_b)
    ft_a = finetune(base, root / "ft_a", task_a)
    ft_b = finetune(base, root / "ft_b", task_b)
    evalf = root / "eval.txt"
    evalf.write_text("\n".join(t.replace("\n", " ") for t in task_a[::9] + task_b[::9]) + "\n")
    return {"root": root, "base": base, "ft_a": ft_a, "ft_b": ft_b, "data_a": data_a, "data_b": data_b,
            "eval": evalf}


@pytest.fixture(scope="session")
def base_factory():
    """``make_base(directory, seed=0, tie=False)`` for tests needing another tiny base."""
    return make_base
