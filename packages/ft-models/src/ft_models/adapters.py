"""Make a loaded model trainable the way ``FinetuningArgs`` says: full, freeze or LoRA (peft).

LoRA covers DoRA (``use_dora``), rsLoRA (``use_rslora``), PiSSA initialisation (``pissa_init``),
extra fully-trained modules (``additional_target``), resuming an adapter and stacking adapters
as LLaMA-Factory does: with several ``adapter_name_or_path`` entries, all but the last are merged
into the base and the last is resumed for training (or a new one is created with
``create_new_adapter``); for inference all are merged. A quantized model takes a single adapter,
loaded unmerged.

Example:
    >>> model = apply_adapter(model, FinetuningArgs(finetuning_type="lora", lora_target="all"))
    >>> model.print_trainable_parameters()
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ft_core import ConfigError, get_logger

from .args import FinetuningArgs
from .quantization import is_quantized

log = get_logger(__name__)

# Linear layers that are never LoRA targets for ``lora_target: all``: output heads (and value heads).
_NEVER_TARGET = ("lm_head", "output_layer", "embed_out", "score", "v_head")


def output_module_names(model: Any) -> set[str]:
    """Short names of the modules holding the input and output embeddings (``embed_tokens``, ``lm_head``)."""
    names: set[str] = set()
    for getter in ("get_input_embeddings", "get_output_embeddings"):
        module = getattr(model, getter, lambda: None)()
        if module is None:
            continue
        for name, candidate in model.named_modules():
            if candidate is module:
                names.add(name.split(".")[-1])
    return names


def linear_module_names(model: Any) -> list[str]:
    """Short names of every ``nn.Linear`` (bitsandbytes layers included) except output heads, sorted."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = set()
    for name, module in model.named_modules():
        short = name.split(".")[-1]
        if isinstance(module, torch.nn.Linear) and module is not head and short not in _NEVER_TARGET:
            names.add(short)
    return sorted(names)


def find_lora_targets(model: Any, lora_target: Sequence[str]) -> list[str]:
    """The module names LoRA wraps: every linear layer for ``all``, else the names given (checked)."""
    available = linear_module_names(model)
    if list(lora_target) == ["all"]:
        return available
    all_modules = {name.split(".")[-1] for name, _ in model.named_modules()}
    unknown = [t for t in lora_target if t not in all_modules]
    if unknown:
        raise ConfigError(f"lora_target {unknown[0]!r} is not a module of {type(model).__name__}; "
                          f"valid: all, {', '.join(available)}")
    return list(lora_target)


def _layer_stack(model: Any) -> tuple[str, int]:
    """Dotted prefix of the decoder layers (``model.layers``) and how many there are."""
    import torch

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) > 0 and name.split(".")[-1] in ("layers", "h", "blocks", "layer"):
            return name, len(module)
    raise ConfigError(f"finetuning_type=freeze: cannot find the decoder layers of {type(model).__name__}; "
                      "use finetuning_type: lora or full")


def freeze_trainable_names(model: Any, args: FinetuningArgs) -> list[str]:
    """Names of the parameters freeze tuning trains: chosen layers × chosen modules + extra modules.

    ``freeze_trainable_layers`` n > 0 picks the last n layers, n < 0 the first |n|.
    ``freeze_trainable_modules`` are module names inside a layer (``mlp``, ``self_attn``, ``all``);
    ``freeze_extra_modules`` are modules outside the layers (``embed_tokens``, ``norm``, ``lm_head``).
    """
    prefix, num_layers = _layer_stack(model)
    n = args.freeze_trainable_layers
    if abs(n) > num_layers:
        raise ConfigError(f"freeze_trainable_layers={n}: the model has only {num_layers} layers")
    layer_ids = range(num_layers - n, num_layers) if n > 0 else range(-n)
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.([^.]+)\.")
    names = [name for name, _ in model.named_parameters()]
    inner = sorted({m.group(2) for name in names if (m := pattern.match(name))})
    modules = list(args.freeze_trainable_modules)
    bad = [m for m in modules if m != "all" and m not in inner]
    if bad:
        raise ConfigError(f"freeze_trainable_modules {bad[0]!r} is not a module of the layers; valid: all, {', '.join(inner)}")
    outer = sorted({name.split(".")[-2] for name in names if not name.startswith(prefix + ".") and "." in name})
    extra = list(args.freeze_extra_modules or [])
    bad = [m for m in extra if m not in outer]
    if bad:
        raise ConfigError(f"freeze_extra_modules {bad[0]!r} is not a module outside the layers; valid: {', '.join(outer)}")
    chosen: list[str] = []
    for name in names:
        m = pattern.match(name)
        if m:
            wanted = int(m.group(1)) in layer_ids and ("all" in modules or m.group(2) in modules)
        else:
            wanted = any(f".{e}." in f".{name}" for e in extra)
        if wanted:
            chosen.append(name)
    return chosen


def is_score_model(model: Any) -> bool:
    """Whether ``model`` is a reward model (a ``*ForSequenceClassification`` with a ``score`` head)."""
    return type(model).__name__.endswith("ForSequenceClassification")


def _set_trainable(model: Any, names: set[str] | None, upcast: bool) -> None:
    """Train exactly ``names`` (``None``: everything); trainable half-precision params go to fp32.

    A reward model's score head is always trained (freeze tuning included): it starts random.
    """
    import torch

    score = is_score_model(model)
    for name, param in model.named_parameters():
        trainable = names is None or name in names or (score and name.split(".")[0] == "score")
        param.requires_grad_(trainable)
        if trainable and upcast and param.dtype in (torch.float16, torch.bfloat16):
            # Adam states and updates in half precision lose small steps; LLaMA-Factory upcasts too.
            param.data = param.data.to(torch.float32)


def _upcast_trainable(model: Any) -> None:
    import torch

    for param in model.parameters():
        if param.requires_grad and param.dtype in (torch.float16, torch.bfloat16):
            param.data = param.data.to(torch.float32)


def _lora_config(model: Any, args: FinetuningArgs, resize_vocab: bool):
    from peft import LoraConfig, TaskType

    modules_to_save = list(args.additional_target) if args.additional_target else None
    if resize_vocab and modules_to_save is None:
        # New token rows must be trained, and they live outside the LoRA-wrapped layers.
        modules_to_save = sorted(output_module_names(model))
    init: Any = True
    if args.pissa_init:
        init = "pissa" if args.pissa_iter == -1 else f"pissa_niter_{args.pissa_iter}"
    # Tied input/output embeddings must stay tied when both are fully trained copies.
    tied = bool(getattr(model.config, "tie_word_embeddings", False)) and bool(
        set(modules_to_save or ()) & output_module_names(model))
    # A reward model's score head is new: it is trained in full beside the adapter (peft's
    # SEQ_CLS task adds it to modules_to_save and saves it with the adapter).
    task = TaskType.SEQ_CLS if is_score_model(model) else TaskType.CAUSAL_LM
    return LoraConfig(
        task_type=task,
        r=args.lora_rank,
        lora_alpha=args.alpha,
        lora_dropout=args.lora_dropout,
        target_modules=find_lora_targets(model, args.lora_target),
        modules_to_save=modules_to_save,
        use_rslora=args.use_rslora,
        use_dora=args.use_dora,
        init_lora_weights=init,
        ensure_weight_tying=tied,
    )


def load_adapters(model: Any, adapters: Sequence[str], *, is_trainable: bool, create_new_adapter: bool = False):
    """Load saved adapters LLaMA-Factory's way; returns the model (a ``PeftModel`` when one stays unmerged).

    Trainable: all but the last are merged and the last is resumed (all merged with
    ``create_new_adapter``). Inference: all merged. Quantized base: exactly one, unmerged.
    """
    from peft import PeftModel

    if not adapters:
        return model
    quantized = is_quantized(model)
    if quantized and len(adapters) > 1:
        raise ConfigError("a quantized model takes a single adapter in adapter_name_or_path; "
                          "merge the others into the unquantised base first")
    if quantized:
        to_merge, to_resume = [], adapters[0]
    elif is_trainable and not create_new_adapter:
        to_merge, to_resume = list(adapters[:-1]), adapters[-1]
    else:
        to_merge, to_resume = list(adapters), None
    for path in to_merge:
        model = _from_pretrained(PeftModel, model, path, is_trainable=False).merge_and_unload()
    if to_merge:
        log.info("merged %d adapter(s) into the base model", len(to_merge))
    if to_resume is not None:
        model = _from_pretrained(PeftModel, model, to_resume, is_trainable=is_trainable)
        log.info("loaded adapter %s (%s)", to_resume, "trainable" if is_trainable else "frozen")
    return model


def _from_pretrained(peft_cls: Any, model: Any, path: str, is_trainable: bool):
    from .resolve import resolve_model_path

    local = resolve_model_path(path)
    if not (local / "adapter_config.json").is_file():
        raise ConfigError(f"adapter_name_or_path {path!r}: no adapter_config.json there (not a peft adapter)")
    return peft_cls.from_pretrained(model, str(local), is_trainable=is_trainable)


def apply_adapter(model: Any, finetuning_args: FinetuningArgs, *, adapters: Sequence[str] = (),
                  is_trainable: bool = True, resize_vocab: bool = False):
    """Apply ``finetuning_args`` to ``model``; returns the model to train (a ``PeftModel`` for LoRA).

    ``adapters`` are saved adapters to merge or resume (``ModelArgs.adapters``). With
    ``is_trainable=False`` only the adapters are applied and every parameter is frozen.

    Example:
        >>> peft_model = apply_adapter(model, FinetuningArgs(lora_rank=16, use_dora=True))
    """
    ft = finetuning_args.finetuning_type
    if adapters and ft != "lora":
        raise ConfigError(f"adapter_name_or_path needs finetuning_type: lora (got {ft})")
    upcast = not finetuning_args.pure_bf16
    if not is_trainable:
        model = load_adapters(model, adapters, is_trainable=False)
        model.requires_grad_(False)
        return model
    if ft == "full":
        _set_trainable(model, None, upcast)
    elif ft == "freeze":
        _set_trainable(model, set(freeze_trainable_names(model, finetuning_args)), upcast)
    else:
        from peft import PeftModel, get_peft_model

        model = load_adapters(model, adapters, is_trainable=True,
                              create_new_adapter=finetuning_args.create_new_adapter)
        if not isinstance(model, PeftModel):
            model = get_peft_model(model, _lora_config(model, finetuning_args, resize_vocab))
        if upcast:
            _upcast_trainable(model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log.info("%s: %d trainable of %d parameters (%.4f%%)", ft, trainable, total, 100 * trainable / max(total, 1))
    return model
