"""Command line of ft-train: ``ft-train train|export|quickstart`` and the same verbs as ``ft train`` etc.

Example:
    $ ft train docs/examples/lora_sft.yaml learning_rate=5e-5
    $ ft export docs/examples/merge_lora.yaml
    $ ft quickstart
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ft_core import Arg, Command, Group

from . import __version__

_OVERRIDES = Arg("overrides", nargs="*", metavar="KEY=VALUE",
                 help="override config keys, e.g. learning_rate=5e-5 max_steps=10")


def _train(args: argparse.Namespace) -> int:
    from .config import load_train_config
    from .launch import launch, should_launch

    cfg = load_train_config(args.config, args.overrides)  # bad input exits 2 before any process starts
    if should_launch():
        return launch([args.config, *args.overrides])
    from .workflow import run_train

    run_train(cfg)
    return 0


def _export(args: argparse.Namespace) -> int:
    from .config import load_export_config
    from .export import run_export

    path = run_export(load_export_config(args.config, args.overrides))
    print(f"merged model written to {path}")
    return 0


def _quickstart(args: argparse.Namespace) -> int:
    from .quickstart import run_quickstart

    return run_quickstart(args.config, args.overrides, heldout=args.heldout or None)


train_command = Command(
    "train", "Train a model (stages pt, sft) from a LLaMA-Factory-style YAML config.", _train,
    arguments=[Arg("config", help="YAML or JSON run config"), _OVERRIDES],
    example="ft train docs/examples/lora_sft.yaml max_steps=20",
    description="Train a model from a YAML config whose keys are LLaMA-Factory's. With NPROC_PER_NODE>1 or "
                "FORCE_TORCHRUN=1 the run relaunches itself through torchrun.")
export_command = Command(
    "export", "Merge an adapter into its base and save a sharded Hugging Face model directory.", _export,
    arguments=[Arg("config", help="YAML or JSON export config (model_name_or_path, adapter_name_or_path, "
                                  "export_dir, ...)"), _OVERRIDES],
    example="ft export docs/examples/merge_lora.yaml export_size=1")
quickstart_command = Command(
    "quickstart", "LoRA-tune the built-in SmolLM2-135M-Instruct on a verifiable task and show accuracy "
                  "before and after (CPU, a few minutes).", _quickstart,
    arguments=[Arg("--config", default="docs/examples/quickstart.yaml", help="quickstart YAML"),
               Arg("--heldout", type=int, default=100, help="held-out problems to score (0: all; default 100, "
                                                              "the arithmetic ones)"), _OVERRIDES],
    example="ft quickstart")

cli = Group("ft-train", "Training stages (pt, sft), checkpoints and resume, evaluation and export.",
            commands=[train_command, export_command, quickstart_command], version=__version__,
            example="ft-train train docs/examples/quickstart.yaml")


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))


if __name__ == "__main__":  # torchrun workers run `python -m ft_train.cli train ...`
    main()
