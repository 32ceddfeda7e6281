"""The generation core of ft: batched prefill and decode with a KV cache, per-row sampling and
stop criteria, rows joining and leaving between steps. ft-serve's engine, ft-train's
``predict_with_generate`` and the quickstart all generate through it.

Example:
    >>> from ft_models.generation import SamplingParams, generate
    >>> generate(model, tokenizer, [ids], SamplingParams(max_tokens=8, temperature=0))[0].text
"""

from .batch import BASE_ADAPTER, Constraint, DecodeBatch, Sequence, TokenEvent
from .detokenize import IncrementalText, StopStrings
from .head import chunk_output_head
from .offline import GenerationResult, common_prefix_len, generate
from .params import GeneratingArgs, SamplingParams, defaults_from_generation_config

__all__ = [
    "BASE_ADAPTER", "Constraint", "DecodeBatch", "GeneratingArgs", "GenerationResult", "IncrementalText",
    "SamplingParams", "Sequence", "StopStrings", "TokenEvent", "chunk_output_head", "common_prefix_len", "defaults_from_generation_config",
    "generate",
]
