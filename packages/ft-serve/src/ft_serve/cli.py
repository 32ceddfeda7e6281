"""Command line of ft-serve: ``ft-serve chat|api|webchat|infer|score|eval ...``, also as ``ft chat``, ``ft api``,
``ft webchat``, ``ft infer``, ``ft score``, ``ft eval``.

Example:
    $ ft chat model_name_or_path=smollm2-135m-instruct template=smollm2
    $ API_PORT=8000 ft api docs/examples/inference/smollm2.yaml
    $ ft webchat model_name_or_path=smollm2-135m-instruct template=smollm2
    $ ft infer --model_name_or_path smollm2-135m-instruct --dataset identity --dataset_dir docs/examples/data
    $ ft score generated_predictions.jsonl
    $ ft eval docs/examples/eval/quickstart.yaml limit=50
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ft_core import Arg, Command, Group

from . import __version__
from .evaluation.command import eval_command

_CONFIG = Arg("config", nargs="?", default=None,
              help="YAML/JSON inference config (LLaMA-Factory keys); or give every key as KEY=VALUE")
_OVERRIDES = Arg("overrides", nargs="*", metavar="KEY=VALUE",
                 help="override config keys, e.g. temperature=0.2 adapter_name_or_path=saves/lora")


def _load(args: argparse.Namespace):
    from .config import load_serve_config

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config and not config.endswith((".yaml", ".yml", ".json")):
        overrides.insert(0, config)  # `ft chat key=value ...` without a file
        config = None
    return load_serve_config(config, overrides)


def _chat(args: argparse.Namespace) -> int:
    from .chat_cli import run_chat

    return run_chat(_load(args), system=args.system)


def _api(args: argparse.Namespace) -> int:
    from .api.server import serve

    return serve(_load(args), host=args.host, port=args.port)


def _infer(args: argparse.Namespace) -> int:
    from .infer import load_infer_config, run_infer

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config and not config.endswith((".yaml", ".yml", ".json")):
        overrides.insert(0, config)
        config = None
    result = run_infer(load_infer_config(config, overrides))
    print(f"{result.rows} predictions in {result.save_path}" +
          (f"; metrics in {result.metrics_path}" if result.metrics_path else ""))
    return 0


def _score(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .score import run_score

    result = run_score(Path(args.predictions), metric=args.metric,
                       references=Path(args.references) if args.references else None,
                       output=Path(args.output) if args.output else None,
                       allow_weak_isolation=args.allow_weak_isolation)
    for key, value in result.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


def _webchat(args: argparse.Namespace) -> int:
    from .webchat import run_webchat

    return run_webchat(_load(args), host=args.host, port=args.port)


chat_command = Command(
    "chat", "Chat with a model in the terminal (history, system prompt, streaming; scriptable through stdin).",
    _chat, arguments=[_CONFIG, _OVERRIDES,
                      Arg("--system", default=None, help="system prompt (default: the config's default_system)")],
    example="ft chat model_name_or_path=smollm2-135m-instruct template=smollm2",
    description="Chat with a model in the terminal. 'clear' forgets the history, 'exit' quits. With stdin not a "
                "terminal, every line is a user turn and each reply is printed on its own line.")
api_command = Command(
    "api", "Serve a model behind an OpenAI-compatible API (chat, completions, models, scores, metrics).", _api,
    arguments=[_CONFIG, _OVERRIDES,
               Arg("--host", default=None, help="address to bind (default: API_HOST, else 127.0.0.1)"),
               Arg("--port", type=int, default=None, help="port (default: API_PORT, else 8000)")],
    example="API_PORT=8000 ft api model_name_or_path=smollm2-135m-instruct template=smollm2",
    description="Serve a model behind an OpenAI-compatible API. API_KEY turns on bearer auth; API_HOST/API_PORT "
                "(or --host/--port) choose the address; OpenAPI docs at /docs.")
webchat_command = Command(
    "webchat", "Chat with a model in the browser (gradio page: streaming, system prompt, sampling, adapters).",
    _webchat, arguments=[_CONFIG, _OVERRIDES,
                         Arg("--host", default=None, help="address to bind (default: GRADIO_SERVER_NAME, else 127.0.0.1)"),
                         Arg("--port", type=int, default=None, help="port (default: GRADIO_SERVER_PORT, else 7860)")],
    example="ft webchat model_name_or_path=smollm2-135m-instruct template=smollm2",
    description="Serve a chat page for a model in the browser (needs the web extra: pip install 'ft-serve[web]'). "
                "GRADIO_SERVER_NAME/GRADIO_SERVER_PORT (or --host/--port) choose the address, GRADIO_ROOT_PATH "
                "a path behind a proxy, GRADIO_SHARE=true a public gradio link.")

infer_command = Command(
    "infer", "Generate for every row of a dataset (LLaMA-Factory's vllm_infer.py flags), resumable.", _infer,
    arguments=[_CONFIG, Arg("overrides", nargs="*", metavar="KEY=VALUE | --KEY VALUE",
                            help="config keys, as key=value or as vllm_infer.py's --key value")],
    flag_overrides=True,
    example="ft infer --model_name_or_path smollm2-135m-instruct --template smollm2 --dataset identity "
            "--dataset_dir docs/examples/data --max_new_tokens 64 --matrix_save_name predict_metrics.json",
    description="Batch inference over a dataset from dataset_info.json. Writes generated_predictions.jsonl "
                "({prompt, predict, label} per row, in dataset order), rows appended as they finish; re-running "
                "with the same save_name continues an interrupted run (overwrite=true starts over). "
                "matrix_save_name also writes BLEU-4/ROUGE metrics. infer_backend: auto (vLLM on a GPU, else "
                "transformers); ray_num_workers=N spreads the rows over N engine replicas with Ray Data.")
score_command = Command(
    "score", "Score a predictions file: BLEU-4/ROUGE as eval_bleu_rouge.py, or a task scorer (exact_match, ...).",
    _score, arguments=[
        Arg("predictions", help="a generated_predictions.jsonl ({predict, label} per line)"),
        Arg("--metric", default="bleu_rouge",
            help="bleu_rouge (default), exact_match, rg_verifier, GSM8K, MATH, cem, em_mc or code_eval"),
        Arg("--references", default=None,
            help="JSON/JSONL with one row per prediction holding what the scorer needs (rg_verifier: "
                 "the reasoning-gym entry)"),
        Arg("--output", default=None, help="where the averages go (default: predictions_score.json beside the file)"),
        Arg("--allow-weak-isolation", action="store_true",
            help="code_eval on a machine without an OS sandbox (namespaces, bubblewrap): run the code with "
                 "limits and an audit hook only instead of refusing (docs/ft-core-sandbox.md)")],
    example="ft score saves/generated_predictions.jsonl",
    description="Score predictions. bleu_rouge: character BLEU-4 (smoothing 3) and jieba ROUGE-1/2/L, averaged, "
                "equal to LLaMA-Factory's eval_bleu_rouge.py; task scorers report the mean score in [0, 1].")

cli = Group("ft-serve", "Inference engines, chat CLI and an OpenAI-compatible API for the ft toolkit.",
            commands=[chat_command, api_command, webchat_command, infer_command, score_command, eval_command],
            version=__version__,
            example="ft-serve api model_name_or_path=smollm2-135m-instruct template=smollm2")


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(cli.main(argv))
