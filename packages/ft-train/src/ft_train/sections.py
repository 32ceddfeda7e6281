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
    export_size: int = pydantic.Field(default=5, ge=1, description="shard size in GB")
    export_device: Literal["cpu", "auto"] = "cpu"
    export_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    export_legacy_format: bool = False
    export_quantization_bit: int | None = None
    export_quantization_dataset: str | None = None
    export_quantization_nsamples: int = 128
    export_quantization_maxlen: int = 1024
    export_hub_model_id: str | None = None
    ollama_modelfile: bool = True
