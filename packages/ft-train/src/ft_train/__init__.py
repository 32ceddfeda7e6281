"""ft-train: Training stages (pt, sft, ...), checkpoints and resume, export and evaluation for the ft toolkit."""

__version__ = "0.1.0"

__all__ = ["__version__"]
