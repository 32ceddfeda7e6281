"""``FtLM``: lm-evaluation-harness's model interface on an ft serve engine, registered as ``"ft"``.

* ``generate_until``: every request goes to the engine at once, so its continuous batching decodes
  them together (``max_batch_size`` rows); greedy unless the task samples; ``until`` strings are
  the engine's stop strings (the text ends before them), and the template's stop ids end a reply.
* ``loglikelihood`` / ``loglikelihood_rolling``: forwards on the engine's torch model, many rows
  per forward (left-padded, only the continuation's logits computed), so a multiple-choice task
  costs a few batched forwards, not one per choice.
* Adapters: the engine's base with LoRA adapters attached unmerged serves them all; ``adapter``
  picks the one this LM evaluates (the base itself when empty), for generation (the request's
  adapter) and for log-likelihoods alike (peft's per-row ``adapter_names``, or its adapters
  disabled for the base).
* Chat: with ``apply_chat_template`` the harness's messages become prompt ids through the same
  ft-templates template training used; those exact ids are what the model sees (the text the
  harness gets back is only a key for them).

Raw prompts are tokenized without special tokens, as the harness's own ``hf`` model does
(``add_bos_token=true`` adds the tokenizer's BOS).

Example:
    >>> import lm_eval, ft_serve.evaluation          # importing registers "ft"
    >>> lm_eval.simple_evaluate(model="ft", model_args={"model_name_or_path": "smollm2-135m-instruct",
    ...                         "template": "smollm2"}, tasks=["rg_gsm_symbolic"], limit=20,
    ...                         apply_chat_template=True, task_manager=TaskManager(include_path=...))
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import Sequence
from typing import Any

from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model

from ft_core import BadInputError, ConfigError, FtError, ProgressCounter, UnsupportedError, get_logger

log = get_logger("ft.serve.eval")

__all__ = ["FtLM"]

# Generation keys of lm-eval tasks that mean "the default" here and are dropped.
_NEUTRAL_GEN_KEYS = {"use_cache": None, "num_beams": 1, "num_return_sequences": 1, "early_stopping": None}
_SAMPLING_KEYS = ("top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty",
                  "min_tokens", "seed")
# Logits kept in one log-likelihood forward (rows x continuation tokens x vocabulary), in floats:
# 2**26 floats is 256 MiB of fp32 logits, whatever the vocabulary.
_LOGIT_BUDGET = 1 << 26
_TOKEN_BUDGET = 16384  # input tokens in one log-likelihood forward


def _run_sync(coro: Any) -> Any:
    """Run a coroutine to the end from sync code, also where an event loop already runs (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@register_model("ft")
class FtLM(TemplateLM):
    """An lm-eval ``LM`` on ft's serve engine.

    Give either a loaded ``engine`` (an ``ft_serve.engines.Engine``; from Python) or the
    ``ServeConfig`` keys to build one (``model_name_or_path`` or the harness's ``pretrained``,
    ``adapter_name_or_path``, ``template``, ``infer_backend``, ``max_batch_size``, ...). ``adapter``
    names the served adapter to evaluate: empty for the base; by default the only adapter loaded,
    else the base. ``batch_size``: log-likelihood rows per forward (``auto``: 32); the harness's
    ``max_batch_size`` sets the engine's rows decoding together when this LM builds the engine;
    ``device`` is recorded only (the engine places the model: CUDA when present, else CPU).
    """

    def __init__(self, engine: Any = None, adapter: str | None = None, batch_size: int | str | None = None,
                 max_batch_size: int | None = None, max_gen_toks: int = 256, add_bos_token: bool = False,
                 seed: int = 1234, device: str | None = None, pretrained: str | None = None,
                 **serve_keys: Any) -> None:
        super().__init__()
        self._owns_engine = engine is None
        if engine is None:
            engine = self._build_engine(pretrained, max_batch_size, serve_keys)
        elif serve_keys or pretrained:
            raise ConfigError(f"FtLM: give either an engine or model keys, not both ({', '.join(serve_keys)})")
        if not engine.ready:
            engine.load()
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self.template = engine.template
        if adapter is None:
            adapter = next(iter(engine.adapters)) if len(engine.adapters) == 1 else ""
        try:
            self.adapter: str | None = engine.resolve_model(adapter or None)
        except FtError as exc:
            raise ConfigError(f"adapter {adapter!r}: not served; served: {', '.join(engine.model_names())}") from exc
        self.batch_size = 32 if batch_size in (None, "auto") or str(batch_size).startswith("auto") else int(batch_size)
        if self.batch_size < 1:
            raise ConfigError("batch_size must be at least 1")
        self.max_gen_toks = int(max_gen_toks)
        self.add_bos_token = bool(add_bos_token)
        self.seed = int(seed)
        self._device = device
        # rendered chat prompt text -> the template's ids for it (the harness passes text around)
        self._rendered: dict[str, list[int]] = {}
        self._warned: set[str] = set()

    @staticmethod
    def _build_engine(pretrained: str | None, max_batch_size: int | None, keys: dict[str, Any]) -> Any:
        from ft_core import validate_config

        from ..config import ServeConfig
        from ..engines import build_engine

        keys = dict(keys)
        if pretrained is not None:
            keys.setdefault("model_name_or_path", pretrained)
        if max_batch_size is not None:
            keys.setdefault("max_batch_size", max_batch_size)
        keys.setdefault("max_queue", 1 << 20)  # all requests are queued at once
        keys.setdefault("log_requests", False)
        if "model_name_or_path" not in keys:
            raise ConfigError("model_args: give model_name_or_path (or pretrained)")
        engine = build_engine(validate_config(ServeConfig, keys, "model_args"))
        engine.load()
        return engine

    # ------------------------------------------------------------------ what the harness asks
    @property
    def eot_token_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def prefix_token_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        return bos if bos is not None else self.eot_token_id

    @property
    def max_length(self) -> int:
        return self.engine.max_model_len

    @property
    def tokenizer_name(self) -> str:
        return f"{self.tokenizer.name_or_path}".replace("/", "__") + f"-{self.template.name}"

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return f"ft-templates:{self.template.name}"

    def get_model_info(self) -> dict[str, Any]:
        return {"ft_model": self.engine.config.model_name_or_path, "ft_adapter": self.adapter,
                "ft_adapter_path": self.engine.adapters.get(self.adapter) if self.adapter else None,
                "ft_template": self.template.name, "ft_backend": self.engine.name}

    def close(self) -> None:
        """Stop the engine if this LM built it."""
        if self._owns_engine:
            self.engine.shutdown()

    # ------------------------------------------------------------------ tokens
    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        ids = self._rendered.get(string)
        if ids is not None:
            return list(ids)
        special = self.add_bos_token if add_special_tokens is None else add_special_tokens
        return self.tokenizer.encode(string, add_special_tokens=special)

    def tok_decode(self, tokens: Sequence[int]) -> str:
        return self.tokenizer.decode(list(tokens))

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        ids = self._rendered.get(context)
        if ids is None:
            return super()._encode_pair(context, continuation)
        # a chat prompt: its exact ids, then the continuation on its own (the harness drops the
        # target delimiter after a chat prompt)
        return list(ids), self.tokenizer.encode(continuation, add_special_tokens=False)

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The harness's messages as the template's prompt; a final assistant message (the task's
        ``gen_prefix``) is continued when ``add_generation_prompt`` is false."""
        from ..prompts import chat_prompt_ids

        messages = list(chat_history)
        prefix = ""
        if not add_generation_prompt and messages and messages[-1].get("role") == "assistant":
            prefix = messages.pop()["content"] or ""
        ids = chat_prompt_ids(self.template, self.tokenizer, messages)
        if prefix:
            ids = ids + self.tokenizer.encode(prefix, add_special_tokens=False)
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        self._rendered[text] = ids
        return text

    # ------------------------------------------------------------------ generation
    def _sampling(self, gen_kwargs: dict[str, Any], prompt_len: int, index: int) -> Any:
        from ft_models.generation import SamplingParams

        kwargs = dict(gen_kwargs or {})
        until = kwargs.pop("until", None) or []
        until = [until] if isinstance(until, str) else list(until)
        max_gen = self._max_gen(kwargs)
        kwargs.pop("max_gen_toks", None)
        kwargs.pop("max_new_tokens", None)
        do_sample = kwargs.pop("do_sample", None)
        temperature = float(kwargs.pop("temperature", 1.0 if do_sample else 0.0))
        if do_sample is False:
            temperature = 0.0
        fields: dict[str, Any] = {k: kwargs.pop(k) for k in _SAMPLING_KEYS if k in kwargs}
        if temperature > 0 and fields.get("seed") is None:
            fields["seed"] = self.seed + index  # reproducible sampling, independent of the batch
        if int(kwargs.get("num_beams", 1) or 1) > 1:
            raise UnsupportedError("generation_kwargs.num_beams > 1: ft's engines decode greedily or sample "
                                   "(no beam search); remove num_beams")
        for key in list(kwargs):
            if key in _NEUTRAL_GEN_KEYS:
                kwargs.pop(key)
        for key in kwargs:
            if key not in self._warned:
                self._warned.add(key)
                log.warning("generation_kwargs.%s is not supported by ft's engines; ignored", key)
        max_tokens = max(1, min(max_gen, self.max_length - prompt_len))
        return SamplingParams(max_tokens=max_tokens, temperature=temperature, stop=until, **fields)

    def _max_gen(self, gen_kwargs: dict[str, Any] | None) -> int:
        kwargs = gen_kwargs or {}
        return int(kwargs.get("max_gen_toks") or kwargs.get("max_new_tokens") or self.max_gen_toks)

    def _prompt(self, context: str, max_gen: int) -> list[int]:
        ids = self.tok_encode(context)
        room = max(1, self.max_length - max_gen)
        return ids[-room:]  # keep the end of a too-long prompt, as the harness's hf model does

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        from ..engines import GenerateRequest

        if not requests:
            return []
        reqs = []
        for i, req in enumerate(requests):
            context, gen_kwargs = req.args
            ids = self._prompt(context, self._max_gen(gen_kwargs))
            reqs.append(GenerateRequest(f"eval-{uuid.uuid4().hex[:12]}-{i}", ids, self._sampling(gen_kwargs, len(ids), i),
                                        adapter=self.adapter))
        window = getattr(self.engine, "max_queue", 256) + getattr(self.engine, "max_batch_size", 32)

        async def run_all(bar: ProgressCounter) -> list[str]:
            gate = asyncio.Semaphore(max(1, window))

            async def one(request: Any) -> str:
                async with gate:
                    out = (await self.engine.generate(request))[0]
                if out.finish_reason in ("error", "abort"):
                    raise FtError(f"generation failed ({out.finish_reason}) for request {request.request_id}")
                bar.advance(1, tokens=out.completion_tokens)
                return out.text

            return list(await asyncio.gather(*(one(r) for r in reqs)))

        with ProgressCounter(len(reqs), "generating", unit="requests") as bar:
            texts = _run_sync(run_all(bar))
        for req, text in zip(requests, texts, strict=True):
            self.cache_hook.add_partial("generate_until", req.args, text)
        return texts

    # ------------------------------------------------------------------ log-likelihoods
    def _torch_model(self) -> Any:
        model = getattr(self.engine, "model", None)
        if model is None or not getattr(self.engine, "can_generate", True):
            raise UnsupportedError(f"log-likelihood tasks need the model's logits: use infer_backend=huggingface "
                                   f"(the {self.engine.name} engine only generates in ft eval)")
        return model

    def _batches(self, order: list[int], inputs: list[list[int]], keeps: list[int], vocab: int) -> list[list[int]]:
        batches: list[list[int]] = []
        current: list[int] = []
        width = keep = 0
        for i in order:
            w, k = max(width, len(inputs[i])), max(keep, keeps[i])
            rows = len(current) + 1
            if current and (rows > self.batch_size or rows * k * vocab > _LOGIT_BUDGET or rows * w > _TOKEN_BUDGET):
                batches.append(current)
                current, w, k = [], len(inputs[i]), keeps[i]
            current.append(i)
            width, keep = w, k
        if current:
            batches.append(current)
        return batches

    def _forward_kwargs(self, model: Any, rows: int) -> tuple[Any, dict[str, Any]]:
        """The context to run a forward in, and its extra kwargs, for this LM's adapter."""
        import contextlib

        from ft_models.generation.batch import BASE_ADAPTER

        if not hasattr(model, "peft_config"):
            return contextlib.nullcontext(), {}
        if self.adapter is None:
            return model.disable_adapter(), {}
        if list(model.active_adapters) == [self.adapter]:
            return contextlib.nullcontext(), {}
        assert self.adapter != BASE_ADAPTER
        return contextlib.nullcontext(), {"adapter_names": [self.adapter] * rows}

    def _score(self, pairs: list[tuple[list[int], list[int]]], desc: str) -> list[tuple[float, bool]]:
        """(sum of log-probabilities of each continuation given its context, whether greedy decoding
        gives it), for ``(context_ids, continuation_ids)`` pairs; batched forwards on the model."""
        import torch

        model = self._torch_model()
        device = next(model.parameters()).device
        vocab = model.get_output_embeddings().weight.shape[0]
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        inputs, targets = [], []
        for ctx, cont in pairs:
            if not cont:
                raise BadInputError("a log-likelihood request has an empty continuation; the task's choices or "
                                    "targets must not be empty")
            if len(cont) > self.max_length:
                raise BadInputError(f"a continuation of {len(cont)} tokens is longer than the model's context "
                                    f"({self.max_length}); shorten the task's targets")
            whole = list(ctx) + list(cont)
            inputs.append(whole[:-1][-self.max_length:])
            targets.append(list(cont))
        order = sorted(range(len(pairs)), key=lambda i: -len(inputs[i]))
        results: list[tuple[float, bool] | None] = [None] * len(pairs)
        batches = self._batches(order, inputs, [len(t) for t in targets], vocab)
        with ProgressCounter(len(pairs), desc, unit="rows") as bar, torch.inference_mode():
            for batch in batches:
                width = max(len(inputs[i]) for i in batch)
                keep = max(len(targets[i]) for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    n = len(inputs[i])
                    ids[row, width - n:] = torch.tensor(inputs[i], dtype=torch.long)
                    mask[row, width - n:] = 1
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                scope, extra = self._forward_kwargs(model, len(batch))
                with scope:
                    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                                   position_ids=positions.to(device), use_cache=False, logits_to_keep=keep,
                                   **extra).logits
                logprobs = torch.log_softmax(logits.float(), dim=-1)
                for row, i in enumerate(batch):
                    n = len(targets[i])
                    lp = logprobs[row, keep - n:]
                    target = torch.tensor(targets[i], device=lp.device)
                    total = float(lp.gather(-1, target[:, None]).sum())
                    greedy = bool((lp.argmax(-1) == target).all())
                    results[i] = (total, greedy)
                bar.advance(len(batch), tokens=sum(len(inputs[i]) for i in batch))
        return results  # type: ignore[return-value]

    def _loglikelihood_tokens(self, requests: list[tuple[tuple[str, str], list[int], list[int]]],
                              disable_tqdm: bool = False, **kwargs: Any) -> list[tuple[float, bool]]:
        scores = self._score([(ctx, cont) for _, ctx, cont in requests], "log-likelihoods")
        for (key, _, _), score in zip(requests, scores, strict=True):
            if key is not None:
                self.cache_hook.add_partial("loglikelihood", key, score)
        return scores

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

        pairs: list[tuple[list[int], list[int]]] = []
        owner: list[int] = []
        for n, req in enumerate(requests):
            (string,) = req.args
            windows = get_rolling_token_windows(token_list=self.tok_encode(string), prefix_token=self.prefix_token_id,
                                                max_seq_len=self.max_length, context_len=1)
            for window in map(make_disjoint_window, windows):
                pairs.append(window)
                owner.append(n)
        totals = [0.0] * len(requests)
        for n, (lp, _) in zip(owner, self._score(pairs, "rolling log-likelihoods"), strict=True):
            totals[n] += lp
        for req, total in zip(requests, totals, strict=True):
            self.cache_hook.add_partial("loglikelihood_rolling", req.args, total)
        return totals
