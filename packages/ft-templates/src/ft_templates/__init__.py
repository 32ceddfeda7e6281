"""ft-templates: Chat-template registry, tool-call formats, reasoning policy and Jinja export for the ft toolkit."""

__version__ = "0.1.0"

__all__ = ["__version__"]
