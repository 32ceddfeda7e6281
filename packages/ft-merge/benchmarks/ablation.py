"""Ablation of ft-merge's open questions on a tiny model with two real fine-tunes (CPU, minutes).

Two fine-tunes of ft-testing's tiny Llama (real SmolLM2 tokenizer) are trained for a few dozen
AdamW steps on two different tasks (arithmetic sentences, word translations); each is then merged
at density 0.2 under one option at a time and scored by per-task retention
(L_base − L_merged)/(L_base − L_ft) on each task's held-out rows. Prints one JSON line.

Questions (spec §12): ``hessian_source`` finetuned vs base, ``selection`` tensor vs row vs block128,
``saliency`` obs vs wanda vs seed, ``sparsegpt_update`` off vs on, DARE sum vs mean.

Usage:
    uv run python packages/ft-merge/benchmarks/ablation.py [--steps 40] [--out /tmp/ft_merge_ablation]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

TASK_A = [f"The sum of {a} and {b} is {a + b}." for a in range(20) for b in range(10)]
TASK_B = [f"Translate '{w}' to French: {f}." for w, f in
          [("cat", "chat"), ("dog", "chien"), ("house", "maison"), ("water", "eau"), ("bread", "pain"),
           ("apple", "pomme"), ("car", "voiture"), ("book", "livre"), ("tree", "arbre"), ("sun", "soleil"),
           ("moon", "lune"), ("sea", "mer"), ("city", "ville"), ("milk", "lait"), ("cheese", "fromage")]] * 12


def finetune(base: Path, out: Path, texts: list[str], steps: int, seed: int) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    tok.pad_token = tok.pad_token or tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(seed)
    train = texts[: int(len(texts) * 0.8)]
    for _ in range(steps):
        idx = torch.randint(0, len(train), (16,), generator=g).tolist()
        enc = tok([train[i] for i in idx], return_tensors="pt", padding=True)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        model(**enc, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(out)
    tok.save_pretrained(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--out", default="/tmp/ft_merge_ablation")
    ap.add_argument("--density", type=float, default=0.2)
    ap.add_argument("--reuse", action="store_true", help="keep OUT's fine-tunes and caches from a previous run")
    ap.add_argument("--only", default="", help="run only the cases whose label contains this text")
    args = ap.parse_args()
    from ft_merge import Merger
    from ft_testing.models import tiny_llama_dir

    root = Path(args.out)
    reuse = args.reuse and (root / "ft_b" / "config.json").is_file()
    if not reuse:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    base = tiny_llama_dir()
    data = []
    for name, texts in (("a", TASK_A), ("b", TASK_B)):
        p = root / f"task_{name}.jsonl"
        p.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
        data.append(str(p))
    t0 = time.perf_counter()
    if not reuse:
        finetune(base, root / "ft_a", TASK_A, args.steps, 1)
        finetune(base, root / "ft_b", TASK_B, args.steps, 2)
    train_s = time.perf_counter() - t0
    common = dict(output_dir="", cache_dir=str(root / "cache"), num_calibration_samples=16,
                  calibration_seq_length=64, density=args.density, eval="none", per_task_eval=True,
                  per_task_rows=40)
    runs = {
        "task_arithmetic": ({"methods": ["task_arithmetic"]}),
        "ties": ({"methods": ["ties"]}),
        "dare_linear (sum, seed)": ({"methods": ["dare_linear"]}),
        "dare_linear (mean)": ({"methods": ["dare_linear"], "normalize": True}),
        "regmean": ({"methods": ["regmean"]}),
        "ties_sparsegpt obs/tensor/finetuned (default)": ({"methods": ["ties_sparsegpt"]}),
        "ties_sparsegpt selection=row": ({"methods": ["ties_sparsegpt"], "selection": "row"}),
        "ties_sparsegpt selection=block128": ({"methods": ["ties_sparsegpt"], "selection": "block128"}),
        "ties_sparsegpt saliency=wanda": ({"methods": ["ties_sparsegpt"], "saliency": "wanda"}),
        "ties_sparsegpt saliency=seed": ({"methods": ["ties_sparsegpt"], "saliency": "seed"}),
        "ties_sparsegpt hessian_source=base": ({"methods": ["ties_sparsegpt"], "hessian_source": "base",
                                                 "cache_dir": str(root / "cache_base")}),
        "ties_sparsegpt sparsegpt_update": ({"methods": ["ties_sparsegpt"], "sparsegpt_update": True,
                                              "cache_dir": str(root / "cache_full")}),
    }
    out: dict[str, object] = {"bench": "ft-merge ablation, tiny Llama, 2 fine-tunes", "steps": args.steps,
                              "density": args.density, "train_s": round(train_s, 1)}
    table = {}
    for i, (label, opts) in enumerate(runs.items()):
        if args.only not in label:
            continue
        shutil.rmtree(root / f"run{i}", ignore_errors=True)
        kw = {**common, **opts, "output_dir": str(root / f"run{i}")}
        m = Merger(str(base), [str(root / "ft_a"), str(root / "ft_b")], data, **kw)
        res = next(iter(m.run().values()))
        ret = {t: round(v["retention"], 3) for t, v in res["per_task"].items()}
        table[label] = {**ret, "mean": round(sum(ret.values()) / len(ret), 3)}
        out["reference_losses"] = m.manifest.get("per_task_reference")
    out["retention"] = table
    print(json.dumps(out))


if __name__ == "__main__":
    main()
