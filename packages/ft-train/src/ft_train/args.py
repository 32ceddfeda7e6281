"""The training-side sections of a run config: Trainer arguments and stage options.

The generation section is ``ft_models.generation.GeneratingArgs``, the one definition of
LLaMA-Factory's generation keys that ft-serve reads too.

The keys are LLaMA-Factory's (and, for the Trainer section, Hugging Face
``Seq2SeqTrainingArguments``' own field names), so an existing LLaMA-Factory YAML validates
unchanged. The Trainer section is *generated* from the installed transformers' dataclass, so a
key transformers accepts is accepted here with the same default; keys that transformers 5
dropped but LLaMA-Factory YAMLs still carry (``warmup_ratio``, ``overwrite_output_dir``,
``group_by_length``, ``logging_dir``) are declared by hand and translated in
:func:`ft_train.trainer.build_training_arguments`.

Example:
    >>> TrainingArgs(output_dir="saves/x", learning_rate=1e-4, warmup_ratio=0.1).warmup_ratio
    0.1
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal

import pydantic
from transformers import Seq2SeqTrainingArguments

# Fields of Seq2SeqTrainingArguments a YAML must not set: they are decided by the launcher
# (local_rank) or carry objects no YAML can hold.
_HIDDEN_FIELDS = {"local_rank", "parallelism_config", "generation_config"}

# transformers 5 removed these; LLaMA-Factory examples still use them. Declared here so that they
# validate, translated when the TrainingArguments object is built.
_LEGACY_FIELDS: dict[str, tuple[Any, Any]] = {
    "warmup_ratio": (float, 0.0),
    "overwrite_output_dir": (bool, False),
    "group_by_length": (bool, False),
    "logging_dir": (typing.Optional[str], None),  # noqa: UP045 (pydantic.create_model field tuple)
    "save_safetensors": (bool, True),
    # LLaMA-Factory accepts `true` (the last checkpoint in output_dir) besides a path.
    "resume_from_checkpoint": (typing.Union[bool, str, None], None),
}


def _pydantic_type(annotation: Any) -> Any:
    """The dataclass annotation if pydantic can validate it, else ``Any`` (e.g. GenerationConfig)."""
    try:
        pydantic.TypeAdapter(annotation)
    except (pydantic.PydanticSchemaGenerationError, TypeError, NameError):
        return Any
    return annotation


def _trainer_fields() -> dict[str, Any]:
    hints = typing.get_type_hints(Seq2SeqTrainingArguments)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(Seq2SeqTrainingArguments):
        if not f.init or f.name in _HIDDEN_FIELDS or f.name.startswith("_"):
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = pydantic.Field(default_factory=f.default_factory)  # type: ignore[misc]
        else:
            default = None
        fields[f.name] = (_pydantic_type(hints.get(f.name, Any)), default)
    fields.update(_LEGACY_FIELDS)
    return fields


class _Section(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True,
                                       use_enum_values=True, protected_namespaces=())


TrainingArgs: type[_Section] = pydantic.create_model(  # type: ignore[call-overload]
    "TrainingArgs", __base__=_Section, __doc__="Hugging Face Seq2SeqTrainingArguments keys.", **_trainer_fields())

TRAINER_KEYS: frozenset[str] = frozenset(
    f.name for f in dataclasses.fields(Seq2SeqTrainingArguments) if f.init and f.name not in _HIDDEN_FIELDS)
"""Keys passed through to ``Seq2SeqTrainingArguments`` as they are."""


class StageArgs(_Section):
    """What to train and what to record: LLaMA-Factory's training-only FinetuningArguments keys."""

    stage: str = "sft"
    plot_loss: bool = False
    compute_accuracy: bool = False
    disable_shuffling: bool = False
    early_stopping_steps: int | None = None
    include_effective_tokens_per_second: bool = False


def comma_list(value: Any) -> Any:
    """LLaMA-Factory accepts ``a,b`` for list keys: split and strip; lists pass through."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


ReportTo = Literal["none", "all", "tensorboard", "wandb", "mlflow", "trackio", "swanlab", "comet_ml"]
