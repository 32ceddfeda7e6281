"""Batch inference over datasets (``ft infer``): LLaMA-Factory's vllm_infer.py on ft's engines, resumable,
data-parallel with Ray.

Example:
    >>> from ft_serve.infer import load_infer_config, run_infer
    >>> run_infer(load_infer_config("infer.yaml")).save_path
    PosixPath('generated_predictions.jsonl')
"""

from .config import InferConfig, load_infer_config
from .output import PredictionWriter, count_complete_rows, read_predictions
from .run import InferResult, InferRows, build_rows, run_infer, similarity_metrics

__all__ = ["InferConfig", "InferResult", "InferRows", "PredictionWriter", "build_rows", "count_complete_rows",
           "load_infer_config", "read_predictions", "run_infer", "similarity_metrics"]
