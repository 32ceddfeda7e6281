"""ft-router-data: Multi-LLM routing logs to router SFT data, test sets and scores (model-level fusion)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
