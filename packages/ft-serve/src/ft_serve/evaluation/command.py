"""``ft eval``: the command line of ``run_eval`` (LLaMA-Factory's ``llamafactory-cli eval`` keys too).

Example:
    $ ft eval docs/examples/eval/quickstart.yaml limit=50
    $ ft eval model_name_or_path=smollm2-135m-instruct template=smollm2 task=mmlu_demo_test task_dir=docs/examples/eval
"""

from __future__ import annotations

import argparse

from ft_core import Arg, Command

__all__ = ["eval_command"]


def _eval(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .compare import render_table
    from .config import load_eval_config
    from .run import run_eval

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config and not config.endswith((".yaml", ".yml", ".json")):
        overrides.insert(0, config)  # `ft eval key=value ...` without a file
        config = None
    result = run_eval(load_eval_config(config, overrides))
    console = Console()
    if not console.is_terminal:  # piped or logged: no wrapping at 80 columns
        console = Console(width=max(120, 40 + 22 * len(result.models)))
    console.print(render_table(result.rows, result.models))
    if result.output_dir is not None:
        print(f"results in {result.output_dir} (results.json, results.log, results.png, run.json)")
    return 0


eval_command = Command(
    "eval", "Evaluate models on lm-evaluation-harness tasks and compare them (table, results.json, bar plot).",
    _eval, arguments=[
        Arg("config", nargs="?", default=None,
            help="YAML/JSON eval config (LLaMA-Factory's eval keys accepted); or give every key as KEY=VALUE"),
        Arg("overrides", nargs="*", metavar="KEY=VALUE | --KEY VALUE",
            help="config keys, e.g. tasks=rg_gsm_symbolic limit=50 models=base,saves/quickstart")],
    flag_overrides=True,
    example="ft eval model_name_or_path=smollm2-135m-instruct template=smollm2 "
            "include_path=docs/examples/eval/tasks tasks=rg_gsm_symbolic models=base,saves/quickstart "
            "limit=50 output_dir=saves/eval",
    description="Evaluate on lm-evaluation-harness through ft's serve engine: any harness task (tasks=...), local "
                "task YAMLs (include_path=...), or LLaMA-Factory's MMLU-format folders (task=mmlu_test "
                "task_dir=evaluation n_shot=5 lang=en). models=base,ADAPTER_DIR,MERGED_DIR compares several models "
                "side by side (value ± stderr); output_dir (or save_dir) writes results.json, results.log, "
                "results.png and run.json.")
