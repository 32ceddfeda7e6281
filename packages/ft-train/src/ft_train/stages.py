"""The registry of training stages: name -> what data processor and trainer it uses.

Only built stages are registered (``pt``, ``sft``, ``rm``, ``dpo``, ``kto``); asking for another one
(``ppo``, ...) is a config error naming the available stages, never a stub that pretends to run.

Example:
    >>> sorted(STAGES)
    ['dpo', 'kto', 'pt', 'rm', 'sft']
    >>> get_stage("sft").supports_generation
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ft_core import ConfigError


@dataclass(frozen=True)
class Stage:
    """One training stage.

    ``data_stage`` names the ft-data processor, ``supports_generation`` whether
    ``predict_with_generate`` makes sense (prompt/response rows), ``description`` is for help.
    """

    name: str
    data_stage: str
    supports_generation: bool
    description: str


STAGES: dict[str, Stage] = {}


def register_stage(name: str, data_stage: str, supports_generation: bool, description: str) -> Callable[..., Stage]:
    """Add a stage to :data:`STAGES` (returns it; a decorator form is not needed for data-only entries)."""
    stage = Stage(name, data_stage, supports_generation, description)
    STAGES[name] = stage
    return stage  # type: ignore[return-value]


def get_stage(name: str) -> Stage:
    """The registered stage ``name`` or a one-line ``ConfigError`` listing the available ones."""
    if name not in STAGES:
        raise ConfigError(f"key 'stage': unknown stage {name!r}; available: {', '.join(sorted(STAGES))}")
    return STAGES[name]


register_stage("pt", "pt", False, "continued pre-training: causal LM loss on every token of packed text")
register_stage("sft", "sft", True, "supervised fine-tuning: loss on the responses of prompt/response rows")
register_stage("rm", "rm", False, "reward model: a score head trained on chosen/rejected pairs (TRL's RewardTrainer)")
register_stage("dpo", "dpo", False, "direct preference optimisation on chosen/rejected pairs (TRL's DPOTrainer)")
register_stage("kto", "kto", False, "KTO on answers tagged desirable or not (TRL's KTOTrainer)")
