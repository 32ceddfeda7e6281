"""ft-models: Model and tokenizer loading (hub, local, GGUF, built-in aliases), adapters and LoRA merging for the ft toolkit."""

__version__ = "0.1.0"

__all__ = ["__version__"]
