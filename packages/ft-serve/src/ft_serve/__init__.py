"""ft-serve: Inference engines, chat CLI and an OpenAI-compatible API for the ft toolkit."""

__version__ = "0.1.0"

__all__ = ["__version__"]
