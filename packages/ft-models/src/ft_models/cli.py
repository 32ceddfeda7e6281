"""Command line of ft-models: ``ft-models <verb> ...`` and ``ft models <verb> ...``.

Verbs: ``info MODEL [key=value ...]``, ``import-gguf FILE OUT``, ``merge-lora BASE ADAPTER OUT``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from ft_core import Arg, Command, Group, validate_config
from ft_core.config import parse_overrides

from . import __version__
from .args import FinetuningArgs


def _info(args: argparse.Namespace) -> None:
    from .info import model_info

    finetuning = None
    if args.overrides:
        finetuning = validate_config(FinetuningArgs, parse_overrides(args.overrides), "command line")
    info = model_info(args.model, finetuning, trust_remote_code=args.trust_remote_code)
    if args.json:
        print(json.dumps(info))
        return
    width = max(len(k) for k in info)
    for key, value in info.items():
        if key in ("params", "trainable_params"):
            value = f"{value:,}"
        elif isinstance(value, list):
            value = ", ".join(value)
        print(f"{key:<{width}}  {value}")


def _import_gguf(args: argparse.Namespace) -> None:
    from .gguf_import import import_gguf

    out = import_gguf(args.file, args.out, overwrite=args.overwrite)
    print(f"wrote {out}")


def _merge_lora(args: argparse.Namespace) -> None:
    from .merge import merge_lora

    out = merge_lora(args.base, args.adapter, args.out, dtype=args.dtype, max_shard_size=args.max_shard_size,
                     overwrite=args.overwrite)
    print(f"wrote {out}")


_OVERWRITE = Arg("--overwrite", action="store_true", help="replace a non-empty OUT")

cli = Group(
    "ft-models",
    "Model and tokenizer loading (hub, local, GGUF, built-in aliases), adapters and LoRA merging for the ft toolkit.",
    version=__version__,
    commands=[
        Command(
            "info", "Show a model's architecture, size, dtype and layers; with adapter options, what would train.",
            _info,
            arguments=[
                Arg("model", help="alias (smollm2-135m-instruct), local directory, .gguf file or hub id"),
                Arg("overrides", nargs="*", metavar="key=value",
                    help="adapter options with LLaMA-Factory keys (finetuning_type, lora_target, lora_rank, freeze_*...)"),
                Arg("--json", action="store_true", help="print one JSON object"),
                Arg("--trust-remote-code", action="store_true", help="allow the model's own code (hub models)"),
            ],
            example="ft-models info smollm2-135m-instruct finetuning_type=lora lora_target=all lora_rank=8",
        ),
        Command(
            "import-gguf", "Convert a GGUF file into a plain fp32 Hugging Face directory (trainable).",
            _import_gguf,
            arguments=[Arg("file", help="the .gguf file"), Arg("out", help="output directory"), _OVERWRITE],
            example="ft-models import-gguf SmolLM2-135M-Instruct.Q4_1.gguf models/smollm2",
        ),
        Command(
            "merge-lora", "Merge a LoRA adapter into its (unquantised) base model and save the result.",
            _merge_lora,
            arguments=[
                Arg("base", help="base model: alias, directory, .gguf file or hub id"),
                Arg("adapter", help="adapter directory (adapter_config.json)"),
                Arg("out", help="output directory"),
                Arg("--dtype", default="auto", help="auto (keep the base's dtype), bfloat16, float16 or float32"),
                Arg("--max-shard-size", default="5GB", help="largest safetensors shard, e.g. 500MB"),
                _OVERWRITE,
            ],
            example="ft-models merge-lora smollm2-135m-instruct runs/sft/adapter runs/sft/merged",
        ),
    ],
)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
