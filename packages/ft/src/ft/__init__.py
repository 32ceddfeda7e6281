"""ft: fine-tune, merge, convert and serve large language models.

The umbrella package: the ``ft`` command mounts every installed ft library's CLI (entry-point
group ``ft.commands``) and adds ``ft version`` and ``ft env``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
