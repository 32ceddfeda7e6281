"""The model and adapter options, with LLaMA-Factory's key names, as pydantic models.

``ModelArgs`` says what to load and how (LLaMA-Factory's ``ModelArguments``, minus export,
inference-engine and multimodal keys, which belong to ft-train and ft-serve). ``FinetuningArgs``
says what to train (the adapter part of LLaMA-Factory's ``FinetuningArguments``; the stage and the
preference-loss keys belong to ft-train). Both forbid unknown keys, so they compose into a larger
flat config by inheritance::

    class TrainConfig(ModelArgs, FinetuningArgs, DataArgs, ...): ...

Comma-separated strings become lists (``lora_target: q_proj,v_proj``), as in LLaMA-Factory.
LLaMA-Factory keys ft does not implement are accepted at their default and refused with a
one-line ``ConfigError`` otherwise (see ``UNSUPPORTED_KEYS``).

Example:
    >>> args = ModelArgs(model_name_or_path="smollm2-135m-instruct", flash_attn="sdpa")
    >>> FinetuningArgs(finetuning_type="lora", lora_target="q_proj,v_proj").lora_target
    ['q_proj', 'v_proj']
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ft_core import ConfigError

# LLaMA-Factory keys ft does not implement: default value (accepted silently) and why not.
UNSUPPORTED_KEYS: dict[str, tuple[Any, str]] = {
    "use_unsloth": (False, "Unsloth is not supported"),
    "use_unsloth_gc": (False, "Unsloth gradient checkpointing is not supported"),
    "shift_attn": (False, "LongLoRA shift-short attention is not supported"),
    "mixture_of_depths": (None, "mixture-of-depths conversion is not supported"),
    "use_v1_kernels": (False, "LLaMA-Factory v1 kernels are not supported"),
    "use_kt": (False, "KTransformers is not supported"),
    "use_llama_pro": (False, "LLaMA-Pro block expansion is not supported"),
    "use_galore": (False, "GaLore is not supported"),
    "use_apollo": (False, "APOLLO is not supported"),
    "use_badam": (False, "BAdam is not supported"),
    "use_adam_mini": (False, "Adam-mini is not supported"),
    "use_muon": (False, "Muon is not supported"),
    "new_special_tokens_config": (None, "token descriptions for embedding init are not supported; use add_special_tokens"),
    "init_special_tokens": ("noise_init", "only the default init of new token embeddings is supported"),
    "freeze_vision_tower": (True, "multimodal models are not supported"),
    "freeze_multi_modal_projector": (True, "multimodal models are not supported"),
    "freeze_language_model": (False, "multimodal models are not supported"),
    "hf_hub_token": (None, "pass the token through the HF_TOKEN environment variable"),
    "ms_hub_token": (None, "ModelScope is not supported"),
    "om_hub_token": (None, "Modelers is not supported"),
    "offload_folder": ("offload", "disk offload is not supported"),
    "quantization_device_map": (None, "use device_map through ft-serve for 4-bit inference"),
}


def _split(value: Any) -> Any:
    """LLaMA-Factory's list convention: ``"a,b"`` → ``["a", "b"]``."""
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
        return [item for item in items if item]
    return value


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in [k for k in data if k in UNSUPPORTED_KEYS and k not in cls.model_fields]:
            default, why = UNSUPPORTED_KEYS[key]
            value = data.pop(key)
            if value not in (default, None, False, "", []):
                # ConfigError, not ValueError: pydantic lets it through unchanged, so the line stays short.
                raise ConfigError(f"{key}={value!r}: a LLaMA-Factory option ft does not implement ({why}); remove it")
        return data


class ModelArgs(_Args):
    """What model to load and how (LLaMA-Factory ``ModelArguments`` keys)."""

    model_name_or_path: str
    adapter_name_or_path: list[str] | None = None
    adapter_folder: str | None = None
    cache_dir: str | None = None
    model_revision: str = "main"
    use_fast_tokenizer: bool = True
    resize_vocab: bool = False
    split_special_tokens: bool = False
    add_tokens: list[str] | None = None
    add_special_tokens: list[str] | None = None
    low_cpu_mem_usage: bool = True
    rope_scaling: Literal["linear", "dynamic", "yarn", "llama3"] | None = None
    flash_attn: Literal["auto", "disabled", "sdpa", "eager", "fa2", "fa3"] = "auto"
    enable_liger_kernel: bool = False
    moe_aux_loss_coef: float | None = None
    disable_gradient_checkpointing: bool = False
    use_reentrant_gc: bool = True
    upcast_layernorm: bool = False
    upcast_lmhead_output: bool = False
    train_from_scratch: bool = False
    use_kv_cache: bool = True
    use_cache: bool | None = None
    infer_dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    # Derived by ft-train from bf16/fp16 (LLaMA-Factory derives it too); None → infer_dtype.
    compute_dtype: Literal["auto", "float16", "bfloat16", "float32"] | None = None
    # Derived by ft-train from cutoff_len; used for RoPE scaling.
    model_max_length: int | None = None
    print_param_status: bool = False
    trust_remote_code: bool = False
    quantization_method: Literal["bnb", "bitsandbytes", "gptq", "awq", "aqlm", "quanto", "eetq", "hqq", "mxfp4", "fp8"] = "bnb"
    quantization_bit: int | None = None
    quantization_type: Literal["nf4", "fp4"] = "nf4"
    double_quantization: bool = True

    @field_validator("adapter_name_or_path", "add_tokens", "add_special_tokens", mode="before")
    @classmethod
    def _model_lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("quantization_bit")
    @classmethod
    def _bits(cls, value: int | None) -> int | None:
        if value is not None and value not in (4, 8):
            raise ValueError("quantization_bit must be 4 or 8 (bitsandbytes)")
        return value

    @model_validator(mode="after")
    def _derive(self) -> ModelArgs:
        if (self.add_tokens or self.add_special_tokens) and not self.resize_vocab:
            # New tokens need new embedding rows (LLaMA-Factory turns this on too).
            object.__setattr__(self, "resize_vocab", True)
        return self

    @property
    def adapters(self) -> list[str]:
        """``adapter_name_or_path`` joined with ``adapter_folder`` when given."""
        import os

        names = self.adapter_name_or_path or []
        return [os.path.join(self.adapter_folder, n) if self.adapter_folder else n for n in names]


class FinetuningArgs(_Args):
    """What to train (the adapter part of LLaMA-Factory ``FinetuningArguments``)."""

    finetuning_type: Literal["lora", "freeze", "full"] = "lora"
    pure_bf16: bool = False
    freeze_trainable_layers: int = 2
    freeze_trainable_modules: list[str] = ["all"]
    freeze_extra_modules: list[str] | None = None
    lora_rank: int = 8
    lora_alpha: float | None = None
    lora_dropout: float = 0.0
    lora_target: list[str] = ["all"]
    additional_target: list[str] | None = None
    loraplus_lr_ratio: float | None = None
    loraplus_lr_embedding: float = 1e-6
    use_rslora: bool = False
    use_dora: bool = False
    pissa_init: bool = False
    pissa_iter: int = 16
    pissa_convert: bool = False
    create_new_adapter: bool = False

    @field_validator("freeze_trainable_modules", "freeze_extra_modules", "lora_target", "additional_target",
                     mode="before")
    @classmethod
    def _finetuning_lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("finetuning_type", mode="before")
    @classmethod
    def _oft(cls, value: Any) -> Any:
        if value == "oft":
            raise ValueError("finetuning_type=oft is not supported by ft; use lora, freeze or full")
        return value

    @field_validator("lora_rank")
    @classmethod
    def _rank(cls, value: int) -> int:
        if value < 1:
            raise ValueError("lora_rank must be at least 1")
        return value

    @field_validator("lora_dropout")
    @classmethod
    def _dropout(cls, value: float) -> float:
        if not 0.0 <= value < 1.0:
            raise ValueError("lora_dropout must be in [0, 1)")
        return value

    @field_validator("freeze_trainable_layers")
    @classmethod
    def _layers(cls, value: int) -> int:
        if value == 0:
            raise ValueError("freeze_trainable_layers must be non-zero (>0: last n layers, <0: first n layers)")
        return value

    @property
    def alpha(self) -> float:
        """``lora_alpha``, defaulting to twice the rank as LLaMA-Factory does."""
        return self.lora_alpha if self.lora_alpha is not None else 2.0 * self.lora_rank


def check_args(model_args: ModelArgs, finetuning_args: FinetuningArgs, is_trainable: bool = True) -> None:
    """Cross-argument rules of LLaMA-Factory for models and adapters; each failure is one ``ConfigError``.

    Pure (no I/O), so ft-train can call it while validating a whole training config.

    Example:
        >>> check_args(ModelArgs(model_name_or_path="m", quantization_bit=4), FinetuningArgs(finetuning_type="full"))
        ConfigError: quantization_bit=4 needs finetuning_type: lora (got full)
    """
    ft = finetuning_args.finetuning_type
    if ft != "lora":
        for key in ("use_dora", "use_rslora", "pissa_init"):
            if getattr(finetuning_args, key):
                raise ConfigError(f"{key}: true needs finetuning_type: lora (got {ft})")
        if finetuning_args.loraplus_lr_ratio is not None:
            raise ConfigError(f"loraplus_lr_ratio needs finetuning_type: lora (got {ft})")
        if model_args.adapter_name_or_path:
            raise ConfigError(f"adapter_name_or_path needs finetuning_type: lora (got {ft}); "
                              "merge the adapter first (ft-models merge-lora) and train the merged model")
    if model_args.quantization_bit is not None:
        if model_args.quantization_method not in ("bnb", "bitsandbytes"):
            raise ConfigError(f"quantization_method={model_args.quantization_method} is not supported on the fly; "
                              "use quantization_method: bnb")
        if ft != "lora":
            raise ConfigError(f"quantization_bit={model_args.quantization_bit} needs finetuning_type: lora (got {ft})")
        if model_args.resize_vocab:
            raise ConfigError("quantization_bit cannot be combined with resize_vocab (or add_tokens); "
                              "train the new embeddings without quantization")
        if finetuning_args.pissa_init and is_trainable:
            raise ConfigError("pissa_init cannot be combined with quantization_bit; "
                              "initialise PiSSA on the unquantised model first")
        if model_args.adapter_name_or_path and len(model_args.adapter_name_or_path) > 1:
            raise ConfigError("a quantized model takes a single adapter in adapter_name_or_path; "
                              "merge the others into the unquantised base first")
    if finetuning_args.loraplus_lr_ratio is not None and finetuning_args.loraplus_lr_ratio <= 0:
        raise ConfigError(f"loraplus_lr_ratio must be positive (got {finetuning_args.loraplus_lr_ratio})")
    if finetuning_args.pissa_init and finetuning_args.use_dora:
        raise ConfigError("pissa_init and use_dora cannot be combined; choose one")
