"""Per-request sampling settings of the generation core, and where their defaults come from.

``SamplingParams`` holds what one sequence is generated with (vLLM's and OpenAI's names and
meanings). ``GeneratingArgs`` holds LLaMA-Factory's generation keys as they appear in its YAML
files (``do_sample``, ``temperature``, ``max_new_tokens``, ...) and turns them into
``SamplingParams``. ``defaults_from_generation_config`` reads a model's ``generation_config.json``
so a served model samples the way its authors set it up unless the user or the request says
otherwise.

Example:
    >>> p = SamplingParams(max_tokens=32, temperature=0.0, stop=["\\n\\n"])
    >>> p.greedy
    True
    >>> GeneratingArgs(do_sample=False, max_new_tokens=8).sampling_params().max_tokens
    8
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ft_core import ConfigError

__all__ = ["GeneratingArgs", "SamplingParams", "defaults_from_generation_config"]


class SamplingParams(BaseModel):
    """How one sequence is sampled and when it stops.

    ``temperature`` 0 means greedy. ``top_k`` 0 (or -1) and ``top_p`` 1 switch those filters off.
    ``repetition_penalty`` is the multiplicative CTRL penalty over prompt and output tokens (HF's
    meaning); ``presence_penalty``/``frequency_penalty`` are OpenAI's additive penalties over
    output tokens. ``stop`` strings end the text before the string; ``stop_token_ids`` end it at
    the token (the template's stop ids are added by the caller). ``logprobs``: None for none, 0
    for the chosen token's log-probability, k for the k most likely alternatives too.
    ``max_tokens``: most new tokens; ``min_tokens``: stop ids are masked until this many.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int = Field(16, ge=1)
    min_tokens: int = Field(0, ge=0)
    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=-1)
    min_p: float = Field(0.0, ge=0.0, le=1.0)
    repetition_penalty: float = Field(1.0, gt=0.0)
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    seed: int | None = None
    logprobs: int | None = Field(None, ge=0, le=20)
    skip_special_tokens: bool = True

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_list(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        return tuple(v for v in value if v)

    @property
    def greedy(self) -> bool:
        return self.temperature < 1e-5

    @property
    def penalised(self) -> bool:
        return (self.repetition_penalty != 1.0 or self.presence_penalty != 0.0
                or self.frequency_penalty != 0.0)

    @property
    def filtered(self) -> bool:
        return self.top_k > 0 or self.top_p < 1.0 or self.min_p > 0.0

    def replace(self, **changes: Any) -> SamplingParams:
        """A validated copy with ``changes`` applied."""
        return SamplingParams(**{**self.model_dump(), **changes})


_GENERATION_CONFIG_KEYS = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty")


def defaults_from_generation_config(generation_config: Any) -> dict[str, Any]:
    """The sampling defaults a model ships in ``generation_config.json`` (vLLM's ``--generation-config auto``).

    ``do_sample: false`` there means greedy (temperature 0). Keys the config leaves unset are absent.

    Example:
        >>> defaults_from_generation_config(model.generation_config)
        {'temperature': 0.2, 'top_p': 0.9}
    """
    if generation_config is None:
        return {}
    out: dict[str, Any] = {}
    explicit = generation_config.to_diff_dict() if hasattr(generation_config, "to_diff_dict") else {}
    for key in _GENERATION_CONFIG_KEYS:
        if key in explicit and explicit[key] is not None:
            out[key] = explicit[key]
    if explicit.get("do_sample") is False:
        out["temperature"] = 0.0
    return out


class GeneratingArgs(BaseModel):
    """LLaMA-Factory's generation keys (``GeneratingArguments``) with its defaults.

    ``max_new_tokens`` > 0 wins over ``max_length`` (prompt + new tokens). ``num_beams`` > 1 is
    refused: ft's generation core samples or decodes greedily, as vLLM does.
    """

    model_config = ConfigDict(extra="forbid")

    do_sample: bool = True
    temperature: float = 0.95
    top_p: float = 0.7
    top_k: int = 50
    num_beams: int = 1
    max_length: int = 1024
    max_new_tokens: int = 1024
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0
    skip_special_tokens: bool = True

    @field_validator("num_beams")
    @classmethod
    def _no_beams(cls, value: int) -> int:
        if value != 1:
            raise ConfigError(f"num_beams={value}: beam search is not supported by ft's generation core; "
                              "remove num_beams (greedy: do_sample: false)")
        return value

    def sampling_overrides(self, fields: set[str] | None = None) -> dict[str, Any]:
        """The ``SamplingParams`` fields these keys set; ``fields`` limits it to keys a user gave."""
        given = set(type(self).model_fields) if fields is None else fields
        out: dict[str, Any] = {}
        if "do_sample" in given and not self.do_sample:
            out["temperature"] = 0.0
        elif "temperature" in given or fields is None:
            out["temperature"] = self.temperature if self.do_sample else 0.0
        for key in ("top_p", "top_k", "repetition_penalty", "skip_special_tokens"):
            if key in given:
                out[key] = getattr(self, key)
        return out

    def max_tokens(self, prompt_len: int = 0) -> int:
        """New tokens allowed for a prompt of ``prompt_len`` tokens (at least 1)."""
        if self.max_new_tokens > 0:
            return self.max_new_tokens
        return max(1, self.max_length - prompt_len)

    def sampling_params(self, prompt_len: int = 0, **extra: Any) -> SamplingParams:
        """All of these keys as ``SamplingParams`` (as ``predict_with_generate`` uses them).

        Example:
            >>> GeneratingArgs().sampling_params().temperature
            0.95
        """
        return SamplingParams(max_tokens=self.max_tokens(prompt_len), **{**self.sampling_overrides(), **extra})
