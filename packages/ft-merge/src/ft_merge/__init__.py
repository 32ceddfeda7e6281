"""ft-merge: model merging (task arithmetic, TIES, DARE, SparseGPT-guided TIES, RegMean, SLERP,
breadcrumbs, DELLA) in one streaming pass, with calibration, evaluation and a comparison report.

Example:
    >>> from ft_merge import Merger
    >>> Merger("base", ["ft_math", "ft_code"], ["math.jsonl", "code.jsonl"]).merge_all_methods()
"""

__version__ = "0.1.0"

from . import ops
from .api import LLaMAMerger, Merger
from .config import SEED_METHODS, MergeConfig, ModelEntry, from_mergekit
from .evaluate import evaluate_model, perplexity_quick, perplexity_standard, retention
from .methods import ALIASES, METHODS, Method, MethodParams, TensorJob, get_method, register
from .plan import MergePlan, preflight

__all__ = [
    "ALIASES", "METHODS", "SEED_METHODS", "LLaMAMerger", "MergeConfig", "MergePlan", "Merger", "Method",
    "MethodParams", "ModelEntry", "TensorJob", "__version__", "evaluate_model", "from_mergekit", "get_method",
    "ops", "perplexity_quick", "perplexity_standard", "preflight", "register", "retention",
]
