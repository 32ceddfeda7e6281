"""Command line of ft-merge: ``ft-merge run``, ``ft-merge methods``; also ``llama-merge`` (the seed's
``llama_merge.py`` flags, unchanged).

Examples:
    ft-merge run --base_model base --finetuned_models ft1 ft2 --datasets a.jsonl b.jsonl --output_dir out
    ft-merge run merge.yaml output_dir=out          # mergekit-schema YAML
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ft_core import (
    Arg,
    Command,
    ConfigError,
    Group,
    deep_merge,
    parse_overrides,
    read_config_file,
    validate_config,
)

from . import __version__
from .config import MergeConfig, from_mergekit

EXAMPLE = ("ft-merge run --base_model ./base --finetuned_models ./ft_math ./ft_code "
           "--datasets math.jsonl code.jsonl --output_dir ./merged_models --density 0.2")

# Seed flags first (unchanged), then the additions. dest = the MergeConfig key.
FLAGS: list[Arg] = [
    Arg("--base_model", help="base model directory or hub id"),
    Arg("--finetuned_models", nargs="+", help="fine-tuned model directories or LoRA adapters (mixed allowed)"),
    Arg("--datasets", nargs="+", help="one calibration dataset per fine-tuned model (file or hub name)"),
    Arg("--output_dir", help="where ties_magnitude/, dare_random/, ties_sparsegpt/ and the report go"),
    Arg("--cache_dir", help="calibration cache directory (default ./merge_cache)"),
    Arg("--density", type=float, help="fraction of deltas kept, in (0, 1] (default 0.2)"),
    Arg("--num_calibration_samples", type=int, help="calibration windows per model (default 128)"),
    Arg("--device", help="cpu, cuda, cuda:1, auto (default)"),
    Arg("--methods", nargs="+", help="methods to write in one pass (default: the seed's three)"),
    Arg("--weights", nargs="+", type=float, help="per-model weights (default 1.0 each)"),
    Arg("--densities", nargs="+", type=float, help="per-model densities (override --density)"),
    Arg("--lambda", dest="lambda", type=float, help="scale of the merged task vector (default 1.0)"),
    Arg("--normalize", action=argparse.BooleanOptionalAction, default=None, help="divide by the weight sum"),
    Arg("--elect_on", choices=["weighted", "unweighted"]),
    Arg("--dare_rescale", choices=["exact", "l1"]),
    Arg("--seed", type=int),
    Arg("--calibration_seq_length", type=int),
    Arg("--calibration_split"),
    Arg("--text_field"),
    Arg("--calibration_fallback", choices=["dummy", "identity", "error"]),
    Arg("--percdamp", type=float),
    Arg("--saliency", choices=["obs", "seed", "wanda"]),
    Arg("--selection", choices=["tensor", "row", "block128"]),
    Arg("--sparsegpt_update", action="store_true", default=None),
    Arg("--hessian_source", choices=["finetuned", "base"]),
    Arg("--merge_scope", choices=["all", "linear"]),
    Arg("--vocab", choices=["base", "error"]),
    Arg("--dtype", choices=["float32", "float16", "bfloat16"]),
    Arg("--out_shard_size", help="bytes per output shard, e.g. 5GB, 500MB"),
    Arg("--allow_missing", action="store_true", default=None),
    Arg("--eval", choices=["quick", "standard", "none"]),
    Arg("--eval_dataset"),
    Arg("--eval_num_samples", type=int),
    Arg("--eval_seq_len", type=int),
    Arg("--per_task_eval", action="store_true", default=None),
    Arg("--per_task_rows", type=int, help="held-out rows per task for retention (default 32)"),
    Arg("--overwrite_output_dir", action="store_true", default=None),
    Arg("--threads", type=int, help="torch CPU threads"),
]
_DEST = {"finetuned_models", "datasets", "weights", "densities"}


def build_config(args: argparse.Namespace) -> MergeConfig:
    """MergeConfig from an optional YAML file (mergekit schema or native), key=value pairs and flags."""
    data: dict[str, Any] = {}
    rest = list(args.args or [])
    if rest and "=" not in rest[0]:
        data = from_mergekit(read_config_file(rest.pop(0)))
    data = deep_merge(data, from_mergekit(parse_overrides(rest)))
    flags = {k: v for k, v in vars(args).items() if v is not None and not k.startswith("_") and k not in ("args", "debug")}
    models = flags.pop("finetuned_models", None)
    datasets = flags.pop("datasets", None)
    weights = flags.pop("weights", None)
    densities = flags.pop("densities", None)
    if models is not None:
        if datasets is not None and len(datasets) != len(models):
            raise ConfigError(f"--datasets: {len(datasets)} dataset(s) for {len(models)} fine-tuned models; "
                              "give one calibration dataset per model")
        for name, seq in (("--weights", weights), ("--densities", densities)):
            if seq is not None and len(seq) != len(models):
                raise ConfigError(f"{name}: {len(seq)} value(s) for {len(models)} fine-tuned models")
        data["models"] = [{"model": m, **({"calibration": datasets[i]} if datasets else {}),
                           **({"weight": weights[i]} if weights else {}),
                           **({"density": densities[i]} if densities else {})} for i, m in enumerate(models)]
    elif datasets is not None:
        entries = data.get("models") or []
        if len(datasets) != len(entries):
            raise ConfigError(f"--datasets: {len(datasets)} dataset(s) for {len(entries)} models")
        for e, d in zip(entries, datasets, strict=True):
            e["calibration"] = d
    data.update(flags)
    if "base_model" not in data:
        raise ConfigError("base_model: missing (give --base_model or base_model: in the YAML file)")
    return validate_config(MergeConfig, data, "command line")


def _run(args: argparse.Namespace) -> int:
    from .api import Merger

    Merger(config=build_config(args)).run()
    return 0


def _methods(args: argparse.Namespace) -> int:
    from .methods import ALIASES, METHODS

    for name, m in METHODS.items():
        alias = [a for a, t in ALIASES.items() if t == name]
        extra = f" (alias: {', '.join(alias)})" if alias else ""
        print(f"{name:<16} {m.summary}{extra}" + (f" [calibration: {m.needs}]" if m.needs != "none" else ""))
    return 0


run_cmd = Command("run", "Merge fine-tunes with one or more methods in one streaming pass, then evaluate.", _run,
                  arguments=[Arg("args", nargs="*", help="optional merge.yaml, then key=value overrides"), *FLAGS],
                  example=EXAMPLE)
methods_cmd = Command("methods", "List the merge methods.", _methods, example="ft-merge methods")

cli = Group("ft-merge", "Model merging (task arithmetic, TIES, DARE, SparseGPT-guided TIES, ...) in one "
            "streaming pass, with evaluation.", version=__version__, commands=[run_cmd, methods_cmd])


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))


def llama_merge(argv: Sequence[str] | None = None) -> None:
    """``llama-merge``: the seed script's command line (``llama_merge.py --base_model ...``)."""
    raise SystemExit(run_cmd.main(argv, prog="llama-merge"))
