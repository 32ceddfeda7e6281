"""Stage processors (``PROCESSORS``: stage name → function) and their shared helpers."""

from . import preference, pretrain, supervised  # noqa: F401  (fill PROCESSORS)
from .base import IGNORE_INDEX, PROCESSORS, Ctx, infer_seqlen, register_processor, to_dataset
from .supervised import encode_pairs, greedy_knapsack

__all__ = ["IGNORE_INDEX", "PROCESSORS", "Ctx", "encode_pairs", "greedy_knapsack", "infer_seqlen",
           "register_processor", "to_dataset"]
