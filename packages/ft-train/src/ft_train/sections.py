"""Model, adapter and export keys of a run config (LLaMA-Factory's ModelArguments/FinetuningArguments).

Example:
    >>> ModelArgs(model_name_or_path="smollm2-135m-instruct").flash_attn
    'auto'
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from .args import _Section, comma_list


class ModelArgs(_Section):
    """Which model to load and how (LLaMA-Factory's ModelArguments keys ft implements)."""

    model_name_or_path: str
    adapter_name_or_path: list[str] | None = None
    adapter_folder: str | None = None
    cache_dir: str | None = None
    use_fast_tokenizer: bool = True
    resize_vocab: bool = False
    split_special_tokens: bool = False
    add_tokens: list[str] | None = None
    add_special_tokens: list[str] | None = None
    model_revision: str = "main"
    low_cpu_mem_usage: bool = True
    rope_scaling: Literal["linear", "dynamic", "yarn", "llama3"] | None = None
    flash_attn: Literal["auto", "disabled", "sdpa", "fa2", "fa3", "eager"] = "auto"
    enable_liger_kernel: bool = False
    disable_gradient_checkpointing: bool = False
    use_reentrant_gc: bool = True
    upcast_layernorm: bool = False
    upcast_lmhead_output: bool = False
    train_from_scratch: bool = False
    infer_backend: Literal["huggingface", "vllm", "sglang"] = "huggingface"
    infer_dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    use_kv_cache: bool = True
    hf_hub_token: str | None = None
    print_param_status: bool = False
    trust_remote_code: bool = False
    quantization_method: str = "bnb"
    quantization_bit: int | None = None
    quantization_type: Literal["nf4", "fp4"] = "nf4"
    double_quantization: bool = True
    quantization_device_map: Literal["auto"] | None = None

    @pydantic.field_validator("adapter_name_or_path", "add_tokens", "add_special_tokens", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return comma_list(value) or None


class FinetuningArgs(_Section):
    """Which parameters train: LoRA (and its variants), freeze or full (LLaMA-Factory's keys)."""

    finetuning_type: Literal["lora", "freeze", "full"] = "lora"
    lora_rank: int = pydantic.Field(default=8, ge=1)
    lora_alpha: float | None = None
    lora_dropout: float = pydantic.Field(default=0.0, ge=0, lt=1)
    lora_target: list[str] = pydantic.Field(default_factory=lambda: ["all"])
    additional_target: list[str] | None = None
    loraplus_lr_ratio: float | None = None
    loraplus_lr_embedding: float = 1e-6
    use_rslora: bool = False
    use_dora: bool = False
    pissa_init: bool = False
    pissa_iter: int = 16
    pissa_convert: bool = False
    create_new_adapter: bool = False
    freeze_trainable_layers: int = 2
    freeze_trainable_modules: list[str] = pydantic.Field(default_factory=lambda: ["all"])
    freeze_extra_modules: list[str] | None = None
    use_llama_pro: bool = False

    @pydantic.field_validator("lora_target", "additional_target", "freeze_trainable_modules",
                              "freeze_extra_modules", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return comma_list(value)


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
