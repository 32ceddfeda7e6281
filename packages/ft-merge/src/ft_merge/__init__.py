"""ft-merge: Model merging (task arithmetic, TIES, DARE, SparseGPT-guided TIES, ...) in one streaming pass, with evaluation."""

__version__ = "0.1.0"

__all__ = ["__version__"]
