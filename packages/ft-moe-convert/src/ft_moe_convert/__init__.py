"""ft-moe-convert: Streamed Mixture-of-Experts checkpoint conversion between per-expert, stacked and fused expert layouts."""

__version__ = "0.1.0"

__all__ = ["__version__"]
