"""Command line of ft-moe-convert: ``ft-moe-convert <verb> ...`` and ``ft moe-convert <verb> ...``.

Verbs: ``merge``, ``split``, ``convert --mode merge|split`` and ``verify A B``. The reference
converter's invocation (``-i/--input-path``, ``-o/--output-path``, ``-m/--mode``, no verb) works
unchanged: ``ft-moe-convert --input-path IN --output-path OUT --mode split``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ft_core import Arg, Command, Group

from . import __version__
from .assets import parse_set_config
from .convert import ConversionResult, convert
from .layouts import LAYOUTS, SEPARATE_LAYOUTS, STACKED_LAYOUTS
from .verify import require_identical, verify


def _common(mode: str | None) -> list[Arg]:
    ins = SEPARATE_LAYOUTS if mode == "merge" else STACKED_LAYOUTS if mode == "split" else tuple(LAYOUTS)
    outs = STACKED_LAYOUTS if mode == "merge" else SEPARATE_LAYOUTS if mode == "split" else tuple(LAYOUTS)
    return [
        Arg("-i", "--input-path", required=True, metavar="IN", help="input checkpoint directory"),
        Arg("-o", "--output-path", required=True, metavar="OUT", help="output directory (written atomically)"),
        Arg("--layout-in", default="auto", choices=["auto", *LAYOUTS], metavar="LAYOUT",
            help=f"input expert layout (default: auto-detect among {', '.join(ins)})"),
        Arg("--layout-out", default="auto", choices=["auto", *LAYOUTS], metavar="LAYOUT",
            help=f"output expert layout, one of {', '.join(outs)} (default: merged for merge; for split "
                 "separate-mixtral for Mixtral checkpoints, else separate)"),
        Arg("--key-in", metavar="REGEX", help="regex for input expert keys, with named groups prefix, layer, "
            "proj and (per-expert layouts) expert"),
        Arg("--key-out", metavar="TEMPLATE", help="output key template with {prefix} {layer} {expert} {proj}, "
            "e.g. '{prefix}layers.{layer}.moe.experts.{proj}'"),
        Arg("--merged-key-suffix", default="none", choices=["none", "weight"],
            help="merged layout keys end in '.gate_proj' (none, as VeOmni/dFactory) or '.gate_proj.weight'"),
        Arg("--dtype", choices=["bf16", "fp16", "fp32"], help="cast float tensors on write (default: keep "
            "every dtype byte for byte)"),
        Arg("--max-shard-size", default="5GB", help="largest output shard, e.g. 5GB, 500MB, 2GiB (default 5GB)"),
        Arg("--reference-dir", metavar="DIR", help="copy config, tokenizer, chat template and *.py files from "
            "this directory (the original base model) instead of the input"),
        Arg("--set-config", action="append", metavar="KEY=VALUE", help="set a config.json field in the output "
            "(repeatable), e.g. model_type=llada2_moe"),
        Arg("--overwrite", action="store_true", help="replace a non-empty output directory"),
        Arg("--dry-run", action="store_true", help="print the plan and its invariants; write nothing"),
    ]


def _report(result: ConversionResult, dry_run: bool) -> None:
    plan = result.plan
    print(plan.describe())
    if dry_run:
        inv = plan.invariants()
        ok = inv["output_tensors"] == inv["expected_output_tensors"]
        print(f"invariants tensor count {inv['output_tensors']} == {inv['expected_output_tensors']} "
              f"({'ok' if ok else 'FAILED'}); total bytes {inv['input_bytes']:,} -> {inv['output_bytes']:,}")
        print("dry run: nothing written")
        return
    print(f"wrote {result.output} in {result.seconds:.1f}s ({len(result.files)} shard(s) by "
          f"{result.copy_method}, assets: {', '.join(result.assets) or 'none'})")


def _run(mode: str | None):
    def handler(args: argparse.Namespace) -> None:
        result = convert(
            args.input_path, args.output_path, mode=mode or args.mode, layout_in=args.layout_in,
            layout_out=args.layout_out, key_in=args.key_in, key_out=args.key_out,
            merged_key_suffix=args.merged_key_suffix, dtype=args.dtype, max_shard_size=args.max_shard_size,
            reference_dir=args.reference_dir, overwrite=args.overwrite, dry_run=args.dry_run,
            set_config=parse_set_config(args.set_config))
        _report(result, args.dry_run)

    return handler


def _verify(args: argparse.Namespace) -> None:
    result = verify(args.a, args.b)
    require_identical(result)
    print(result.describe())


cli = Group(
    "ft-moe-convert",
    "Streamed Mixture-of-Experts checkpoint conversion between per-expert, stacked and fused expert layouts.",
    version=__version__, example="ft-moe-convert merge -i Qwen3-30B-A3B -o qwen3-merged",
    commands=[
        Command("merge", "Stack per-expert weights into one tensor per projection (merged or fused-v5).",
                _run("merge"), _common("merge"),
                example="ft-moe-convert merge -i Qwen3-30B-A3B -o qwen3-merged --layout-out fused-v5"),
        Command("split", "Split stacked expert weights back into per-expert tensors.", _run("split"),
                _common("split"),
                example="ft-moe-convert split -i hf_ckpt -o llada2-split --reference-dir LLaDA2.0-mini"),
        Command("convert", "The reference converter's interface: --mode merge|split.", _run(None),
                [*_common(None), Arg("-m", "--mode", default="merge", choices=["merge", "split"],
                                     help="merge (default) or split")],
                example="ft-moe-convert convert --input-path IN --output-path OUT --mode split"),
        Command("verify", "Check that two checkpoints hold the same tensors under the layout mapping.",
                _verify, [Arg("a", help="first checkpoint directory"), Arg("b", help="second checkpoint directory")],
                example="ft-moe-convert verify Qwen3-30B-A3B qwen3-split"),
    ],
)

_TOP_LEVEL = {"-h", "--help", "--version", "--debug"}


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point; flags without a verb mean ``convert`` (the reference's interface)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0].startswith("-") and args[0] not in _TOP_LEVEL:
        args.insert(0, "convert")
    raise SystemExit(cli.main(args))
