"""Export keys of ``ft export`` (LLaMA-Factory's ``export_*`` ModelArguments, plus ``export_dtype``).

Example:
    >>> ExportArgs(export_dir="saves/merged", export_size=1).export_size
    1
"""

from __future__ import annotations

from typing import Literal

import pydantic

from .args import _Section


class ExportArgs(_Section):
    """Where and how ``ft export`` writes the merged model."""

    export_dir: str | None = None
    export_size: int | str = pydantic.Field(default=5, description="shard size: GB as a number, or e.g. '500MB'")
    export_device: Literal["cpu", "auto"] = "cpu"
    export_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    export_legacy_format: bool = False
    export_quantization_bit: int | None = None
    export_quantization_dataset: str | None = None
    export_quantization_nsamples: int = 128
    export_quantization_maxlen: int = 1024
    export_hub_model_id: str | None = None
    ollama_modelfile: bool = True

    @pydantic.field_validator("export_size")
    @classmethod
    def _size(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("export_size must be at least 1 (GB) or a size such as '500MB'")
            return value
        from ft_core import parse_size

        parse_size(value)  # raises ValueError with the expected form
        return value

    def shard_size(self) -> str:
        """``max_shard_size`` for ``save_pretrained``: a number means GB, as in LLaMA-Factory."""
        return f"{self.export_size}GB" if isinstance(self.export_size, int) else str(self.export_size)
