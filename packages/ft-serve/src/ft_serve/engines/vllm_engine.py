"""The vLLM engine: ft's engine interface on vLLM's ``AsyncLLM``, for CUDA GPUs.

What ``load`` does (LLaMA-Factory's vLLM engine, with its quirks fixed):

* the model is ``ft_models.resolve_model_path``'s local directory (aliases and GGUF files
  become Hugging Face directories first); the tokenizer and template are prepared by
  ft-templates exactly as the transformers engine prepares them, and prompts reach vLLM as
  token ids, so both engines see the same prompt;
* engine args come from ``engine_args`` (a pure function): ``infer_dtype``, ``max_model_len``
  (else ``vllm_maxlen``, capped at the model's context), ``vllm_gpu_util``,
  ``vllm_enforce_eager``, a tensor-parallel size that the visible GPUs and the attention heads
  allow, LoRA settings that fit every adapter (``max_loras`` = the adapters, ``max_lora_rank``
  raised to their largest rank), then ``vllm_config`` over all of these (the user wins);
* every adapter of ``adapter_name_or_path`` is served at once: a request names one
  (``base:adapter``) and gets its own ``LoRARequest`` with a stable id.

Requests go through ``to_vllm_sampling_kwargs`` (a pure function, field by field) and stream
back as ft ``ChoiceDelta`` pieces. vLLM runs on an event loop of its own, in a thread, so the
engine serves callers on any event loop (the API server's, ``ChatModel``'s private one, a test's
``asyncio.run``); a consumer that stops iterating aborts its vLLM request.

vLLM is the optional extra ``ft-serve[vllm]``; it is imported in ``load``, after the CUDA check,
so this module imports (and its pure functions run) where vLLM is absent.

Example:
    >>> engine = VLLMEngine(load_serve_config(None, ["model_name_or_path=smollm2-135m-instruct",
    ...                                              "infer_backend=vllm"]))
    >>> engine.load()          # needs a CUDA GPU and the vllm extra
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ft_core import BadInputError, ConfigError, get_logger
from ft_models.generation import SamplingParams

from ..config import adapter_names
from .base import (
    ChoiceDelta,
    Engine,
    EngineNotReady,
    EngineStats,
    GenerateRequest,
    QueueFullError,
    TokenLogprob,
    UnknownModelError,
)
from .loading import prepare_serving_template

log = get_logger("ft.serve.engine")

__all__ = ["LORA_RANKS", "VLLMEngine", "cuda_device_count", "engine_args", "structured_output_kwargs",
           "to_vllm_sampling_kwargs"]

NO_CUDA = "infer_backend: vllm needs a CUDA GPU (none visible); use infer_backend: huggingface on CPU"
NO_VLLM = "infer_backend: vllm needs the vllm extra: pip install 'ft-serve[vllm]'"

# vLLM accepts only these max_lora_rank values (vllm.config.lora.MaxLoRARanks, 0.19 and 0.30);
# the installed version's own list is read in load() when it has one.
LORA_RANKS: tuple[int, ...] = (1, 8, 16, 32, 64, 128, 256, 320, 512)

_FINISH = {"stop": "stop", "length": "length", "abort": "abort", "error": "error", "repetition": "stop"}


# ---------------------------------------------------------------------------------------------- pure parts
def cuda_device_count() -> int:
    """Visible CUDA devices; ConfigError (one line) when there are none. Imports torch, not vLLM."""
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(NO_CUDA)
    return max(1, torch.cuda.device_count())


def _tensor_parallel(n_gpus: int, num_heads: int | None) -> int:
    """The most GPUs (at most ``n_gpus``) that split ``num_heads`` attention heads evenly."""
    n = max(1, n_gpus)
    if not num_heads:
        return n
    return next(tp for tp in range(n, 0, -1) if num_heads % tp == 0)


def _lora_rank(wanted: int, allowed: Iterable[int]) -> int:
    """The smallest rank vLLM accepts that holds ``wanted`` (the largest accepted one if none does)."""
    allowed = sorted(allowed)
    return next((r for r in allowed if r >= wanted), allowed[-1])


def engine_args(cfg: Any, n_gpus: int, adapters: Mapping[str, str], *, model_path: str | None = None,
                num_heads: int | None = None, model_limit: int | None = None, lora_rank: int | None = None,
                lora_ranks: Iterable[int] = LORA_RANKS) -> dict[str, Any]:
    """vLLM engine args (``AsyncEngineArgs`` keywords) for a ``ServeConfig``; needs no vLLM.

    ``n_gpus``: visible CUDA devices (the tensor-parallel size, lowered to a divisor of
    ``num_heads`` when given). ``adapters``: served name -> local path; any turns LoRA on with
    ``max_loras`` = their number and ``max_lora_rank`` = ``vllm_max_lora_rank`` raised to
    ``lora_rank`` (the adapters' largest rank), rounded up to a rank vLLM accepts.
    ``model_limit``: the model's context length, which ``max_model_len`` (else ``vllm_maxlen``)
    is capped at. ``cfg.vllm_config`` is merged last (``-`` in its keys read as ``_``), so the
    user wins over every value here. ``max_batch_size`` becomes ``max_num_seqs`` only when the
    config sets it (vLLM's own default batches far more).

    Example:
        >>> engine_args(cfg, 2, {"sql": "/saves/sql"})["tensor_parallel_size"]
        2
    """
    want = cfg.max_model_len or cfg.vllm_maxlen
    args: dict[str, Any] = {
        "model": model_path or cfg.model_name_or_path,
        "trust_remote_code": cfg.trust_remote_code,
        "dtype": cfg.infer_dtype,
        "max_model_len": min(want, model_limit) if model_limit else want,
        "tensor_parallel_size": _tensor_parallel(n_gpus, num_heads),
        "gpu_memory_utilization": cfg.vllm_gpu_util,
        "enforce_eager": cfg.vllm_enforce_eager,
        "disable_log_stats": True,
        "enable_log_requests": False,
    }
    if "max_batch_size" in cfg.model_fields_set:
        args["max_num_seqs"] = cfg.max_batch_size
    if adapters:
        args["enable_lora"] = True
        args["max_loras"] = len(adapters)
        args["max_lora_rank"] = _lora_rank(max(cfg.vllm_max_lora_rank, lora_rank or 0), lora_ranks)
    user = cfg.vllm_config if isinstance(cfg.vllm_config, dict) else {}
    args.update({str(k).replace("-", "_"): v for k, v in user.items()})
    return args


def to_vllm_sampling_kwargs(params: SamplingParams, n: int = 1, stop_ids: Iterable[int] = (), *,
                            top_k_off: int = 0) -> dict[str, Any]:
    """``vllm.SamplingParams`` keywords for ft ``SamplingParams``, field by field; needs no vLLM.

    ``stop_ids`` (the template's stop ids) come before the request's own ``stop_token_ids``.
    ``ignore_eos`` drops the template's stop ids and keeps the request's, as ft's generation core
    does (vLLM alone would still stop at every ``stop_token_ids``). ``top_k`` 0 or -1 (off)
    becomes ``top_k_off``, the value the installed vLLM takes for off (0 since 0.8, -1 before).
    The repetition penalty (multiplicative) and the presence/frequency penalties (additive) stay
    separate fields.

    Example:
        >>> to_vllm_sampling_kwargs(SamplingParams(max_tokens=8, temperature=0.0), 2, [2])["stop_token_ids"]
        [2]
    """
    own = list(params.stop_token_ids)
    stop_token_ids = list(dict.fromkeys(own if params.ignore_eos else [*stop_ids, *own]))
    return {
        "n": n,
        "max_tokens": params.max_tokens,
        "min_tokens": params.min_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k if params.top_k > 0 else top_k_off,
        "min_p": params.min_p,
        "repetition_penalty": params.repetition_penalty,
        "presence_penalty": params.presence_penalty,
        "frequency_penalty": params.frequency_penalty,
        "stop": list(params.stop),
        "stop_token_ids": stop_token_ids,
        "ignore_eos": params.ignore_eos,
        "seed": params.seed,
        "logprobs": params.logprobs,
        "skip_special_tokens": params.skip_special_tokens,
    }


def structured_output_kwargs(response_format: dict[str, Any] | None, sampling_module: Any) -> dict[str, Any]:
    """The ``vllm.SamplingParams`` keyword that enforces ``response_format`` ({} for plain text).

    Feature detection on ``sampling_module`` (``vllm.sampling_params``): newer vLLM (0.19.1 and
    0.30.0 checked) has ``StructuredOutputsParams`` (keyword ``structured_outputs``), older
    ``GuidedDecodingParams`` (keyword ``guided_decoding``); both take ``json=schema`` or
    ``json_object=True``.
    """
    from ..constrained import schema_of

    schema = schema_of(response_format)
    if schema is None:
        return {}
    fields: dict[str, Any] = {"json_object": True} if schema == "" else {"json": json.loads(schema)}
    if hasattr(sampling_module, "StructuredOutputsParams"):
        return {"structured_outputs": sampling_module.StructuredOutputsParams(**fields)}
    if hasattr(sampling_module, "GuidedDecodingParams"):
        return {"guided_decoding": sampling_module.GuidedDecodingParams(**fields)}
    raise BadInputError("response_format: this vLLM has no structured outputs; upgrade vllm or drop response_format")


def _one_line(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)  # pydantic's ValidationError: its first message, not the banner
    if callable(errors):
        with contextlib.suppress(Exception):
            first = errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            return f"{loc}: {first['msg']}" if loc else str(first["msg"])
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _context_limit(text_config: Any) -> int | None:
    """The model's context length, None when RoPE scaling makes vLLM derive a longer one."""
    limit = getattr(text_config, "max_position_embeddings", None)
    for key in ("rope_scaling", "rope_parameters"):
        rope = getattr(text_config, key, None)
        if isinstance(rope, dict) and rope.get("rope_type", rope.get("type", "default")) not in (None, "default"):
            return None
    return limit


def _adapter_rank(path: str | Path) -> int:
    """The largest LoRA rank in an adapter's ``adapter_config.json`` (``r`` and ``rank_pattern``)."""
    try:
        config = json.loads((Path(path) / "adapter_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"adapter {path}: no readable adapter_config.json ({exc}); only LoRA adapters are served") \
            from exc
    return max([int(config.get("r") or 0), *(int(v) for v in (config.get("rank_pattern") or {}).values())])


# ---------------------------------------------------------------------------------------------- vLLM's API
@dataclasses.dataclass
class _VllmApi:
    """The parts of the installed vLLM the engine uses, found by feature detection."""

    engine_cls: Any                      # AsyncLLM (v1) or AsyncLLMEngine
    engine_args_cls: Any                 # AsyncEngineArgs
    sampling_params_cls: Any             # vllm.SamplingParams
    sampling_module: Any                 # vllm.sampling_params (structured outputs)
    lora_request_cls: Any                # vllm.lora.request.LoRARequest
    delta_kind: Any = None               # RequestOutputKind.DELTA, None: outputs are cumulative
    top_k_off: int = 0
    client_errors: tuple[type[BaseException], ...] = (ValueError,)
    lora_ranks: tuple[int, ...] = LORA_RANKS
    engine_arg_names: frozenset[str] = frozenset()


def _import_vllm() -> _VllmApi:
    try:
        import vllm  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "vllm":
            raise ConfigError(NO_VLLM) from exc
        raise ConfigError(f"infer_backend: vllm: importing vllm failed ({_one_line(exc)}); "
                          "reinstall the extra: pip install 'ft-serve[vllm]'") from exc
    except ImportError as exc:
        raise ConfigError(f"infer_backend: vllm: importing vllm failed ({_one_line(exc)}); "
                          "reinstall the extra: pip install 'ft-serve[vllm]'") from exc
    from vllm import sampling_params as sampling_module
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.lora.request import LoRARequest

    try:
        from vllm.v1.engine.async_llm import AsyncLLM as engine_cls
    except ImportError:  # before the v1 engine was the default
        from vllm.engine.async_llm_engine import AsyncLLMEngine as engine_cls

    kind = getattr(sampling_module, "RequestOutputKind", None)
    client: list[type[BaseException]] = [ValueError]
    with contextlib.suppress(ImportError):
        from vllm.exceptions import VLLMClientError  # 0.2x: validation errors are not ValueErrors

        client.append(VLLMClientError)
    ranks = LORA_RANKS
    with contextlib.suppress(Exception):
        import typing

        from vllm.config.lora import MaxLoRARanks

        ranks = tuple(int(r) for r in typing.get_args(MaxLoRARanks)) or LORA_RANKS
    default_top_k = sampling_module.SamplingParams().top_k
    return _VllmApi(
        engine_cls=engine_cls, engine_args_cls=AsyncEngineArgs, sampling_params_cls=sampling_module.SamplingParams,
        sampling_module=sampling_module, lora_request_cls=LoRARequest,
        delta_kind=getattr(kind, "DELTA", None) if kind is not None else None,
        top_k_off=default_top_k if default_top_k <= 0 else 0, client_errors=tuple(client), lora_ranks=ranks,
        engine_arg_names=frozenset(f.name for f in dataclasses.fields(AsyncEngineArgs)))


def _known_args(args: dict[str, Any], user_keys: Iterable[str], names: frozenset[str]) -> dict[str, Any]:
    """``args`` the installed vLLM takes: ft's own extras are dropped, a user's unknown key is an error."""
    if not names:
        return args
    unknown = sorted(k for k in user_keys if k not in names)
    if unknown:
        what = "is not a vLLM engine arg" if len(unknown) == 1 else "are not vLLM engine args"
        raise ConfigError(f"vllm_config: {', '.join(unknown)} {what} (see `vllm serve --help`)")
    return {k: v for k, v in args.items() if k in names}


# ---------------------------------------------------------------------------------------------- streaming
class _Choices:
    """Turns vLLM ``RequestOutput`` (delta or cumulative) into ft ``ChoiceDelta`` pieces per choice."""

    def __init__(self, n: int, prompt_tokens: int, cumulative: bool, decode: Callable[[int], str],
                 top_logprobs: int | None) -> None:
        self.n, self.prompt_tokens, self.cumulative, self.decode = n, prompt_tokens, cumulative, decode
        self.top_logprobs = top_logprobs
        self.text_len = [0] * n
        self.tokens = [0] * n
        self.done = [False] * n

    def update(self, output: Any) -> list[ChoiceDelta]:
        deltas = []
        for c in output.outputs:
            i = c.index
            if i >= self.n or self.done[i]:
                continue
            text, ids, lps = c.text or "", list(c.token_ids or ()), c.logprobs
            if self.cumulative:
                text, ids = text[self.text_len[i]:], ids[self.tokens[i]:]
                lps = None if lps is None else lps[self.tokens[i]:]
            self.text_len[i] += len(text)
            self.tokens[i] += len(ids)
            finish = None if c.finish_reason is None else _FINISH.get(str(c.finish_reason), "stop")
            self.done[i] = finish is not None
            if not text and not ids and finish is None:
                continue
            deltas.append(ChoiceDelta(i, text, ids, self._logprobs(ids, lps), finish, self.prompt_tokens,
                                      self.tokens[i]))
        return deltas

    def close(self, reason: str = "abort") -> list[ChoiceDelta]:
        """A last piece for every choice that never finished."""
        out = [ChoiceDelta(i, "", finish_reason=reason, prompt_tokens=self.prompt_tokens,
                           completion_tokens=self.tokens[i]) for i in range(self.n) if not self.done[i]]
        self.done = [True] * self.n
        return out

    def _logprobs(self, ids: list[int], positions: Any) -> list[TokenLogprob] | None:
        if self.top_logprobs is None or positions is None:
            return None
        out = []
        for tok, pos in zip(ids, positions):
            pos = pos or {}
            chosen = pos.get(tok)
            top = sorted(((t, lp) for t, lp in pos.items() if lp.rank is not None and lp.rank <= self.top_logprobs),
                         key=lambda item: item[1].rank)
            out.append(TokenLogprob(self._text(tok, chosen), float(chosen.logprob) if chosen else float("nan"),
                                    [(self._text(t, lp), float(lp.logprob)) for t, lp in top]))
        return out

    def _text(self, token_id: int, logprob: Any) -> str:
        text = getattr(logprob, "decoded_token", None)
        return text if text is not None else self.decode(token_id)


_END = object()


class VLLMEngine(Engine):
    """Batched generation with vLLM on the visible CUDA GPUs (tensor parallel across them)."""

    name = "vllm"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.max_queue = config.max_queue
        self.defaults: dict[str, Any] = {}
        self.stop_token_ids: list[int] = []
        self.lora_requests: dict[str, Any] = {}
        self._api: _VllmApi | None = None
        self._engine: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._waiting = 0
        self._running = 0
        self._generated = 0

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        cfg = self.config
        n_gpus = cuda_device_count()  # before importing vLLM: a CPU machine gets one line, not a traceback
        api = _import_vllm()
        from ft_models import load_config, resolve_model_path

        t0 = time.perf_counter()
        if cfg.quantization_bit is not None:
            raise ConfigError("quantization_bit is not supported with infer_backend: vllm; serve a quantized "
                              "checkpoint (AWQ/GPTQ/FP8) or set vllm_config: {quantization: bitsandbytes}")
        path = resolve_model_path(cfg.model_name_or_path, revision=cfg.model_revision, cache_dir=cfg.cache_dir)
        hf_config = load_config(str(path), trust_remote_code=cfg.trust_remote_code)
        if any(a.endswith("ForSequenceClassification") for a in (getattr(hf_config, "architectures", None) or [])):
            raise ConfigError("infer_backend: vllm does not serve reward models; use infer_backend: huggingface")
        text_config = hf_config.get_text_config() if hasattr(hf_config, "get_text_config") else hf_config
        self.tokenizer = self._load_tokenizer(cfg, path)
        self.template = prepare_serving_template(cfg, self.tokenizer)
        self.stop_token_ids = self.template.get_stop_token_ids(self.tokenizer)
        self.defaults = self._sampling_defaults(cfg, path)
        self.adapters = adapter_names(cfg.adapter_name_or_path or [])
        local = {name: str(resolve_model_path(p)) for name, p in self.adapters.items()}
        rank = max((_adapter_rank(p) for p in local.values()), default=None)
        args = engine_args(cfg, n_gpus, local, model_path=str(path),
                           num_heads=getattr(text_config, "num_attention_heads", None),
                           model_limit=_context_limit(text_config), lora_rank=rank, lora_ranks=api.lora_ranks)
        user_keys = [str(k).replace("-", "_") for k in cfg.vllm_config] if isinstance(cfg.vllm_config, dict) else []
        args = _known_args(args, user_keys, api.engine_arg_names)
        log.info("starting vLLM for %s (%s)", cfg.model_name_or_path,
                 ", ".join(f"{k}={v}" for k, v in args.items() if k != "model"))

        def create() -> Any:
            try:
                return api.engine_cls.from_engine_args(api.engine_args_cls(**args))
            except (TypeError, ValueError) as exc:  # bad engine args, too long a context, no room for the KV cache
                raise ConfigError(f"vllm: {_one_line(exc)}") from exc

        self._api = api
        self._start(create)
        model_config = getattr(self._engine, "model_config", None)
        self.max_model_len = int(getattr(model_config, "max_model_len", None) or args["max_model_len"])
        self.lora_requests = {name: api.lora_request_cls(name, i + 1, p) for i, (name, p) in enumerate(local.items())}
        self.ready = True
        log.info("loaded %s with vLLM in %.1fs (tensor_parallel_size %s, template %s%s)", cfg.model_name_or_path,
                 time.perf_counter() - t0, args.get("tensor_parallel_size"), self.template.name,
                 f", adapters {', '.join(self.adapters)}" if self.adapters else "")

    @staticmethod
    def _load_tokenizer(cfg: Any, path: Path) -> Any:
        from ft_models import ModelArgs, tokenizer_from_args

        fields = {k: getattr(cfg, k) for k in ModelArgs.model_fields if k in cfg.model_fields_set}
        fields.update(model_name_or_path=str(path), adapter_name_or_path=None, adapter_folder=None)
        return tokenizer_from_args(ModelArgs(**fields))

    @staticmethod
    def _sampling_defaults(cfg: Any, path: Path) -> dict[str, Any]:
        from transformers import GenerationConfig

        try:
            generation_config = GenerationConfig.from_pretrained(str(path))
        except (OSError, ValueError):
            generation_config = None
        return cfg.sampling_defaults(generation_config)

    def _start(self, create: Callable[[], Any]) -> None:
        """Run vLLM's event loop in a thread and build the engine on it (its output task lives there)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="ft-serve-vllm", daemon=True)
        self._thread.start()
        ready.wait()

        async def build() -> Any:
            return create()

        try:
            self._engine = asyncio.run_coroutine_threadsafe(build(), loop).result()
        except BaseException:
            self._stop_loop()
            raise

    def _stop_loop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._thread = None

    def shutdown(self) -> None:
        engine, self._engine = self._engine, None
        self.ready = False
        if engine is not None and self._loop is not None and self._loop.is_running():
            async def stop() -> None:
                engine.shutdown()

            try:
                asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=120)
            except Exception:
                log.exception("vLLM shutdown failed")
        self._stop_loop()

    def stats(self) -> EngineStats:
        """Requests decoding (first token out) and waiting (none yet), as this engine counts them."""
        with self._lock:
            return EngineStats(running=self._running, waiting=self._waiting, generated_tokens=self._generated)

    # ------------------------------------------------------------------ requests
    def _lora_request(self, adapter: str | None) -> Any:
        if adapter is None:
            return None
        if adapter not in self.lora_requests:
            raise UnknownModelError(f"The model `{self.model_id}:{adapter}` does not exist. "
                                    f"Served: {', '.join(self.model_names())}")
        return self.lora_requests[adapter]

    def sampling_params(self, request: GenerateRequest) -> Any:
        """The ``vllm.SamplingParams`` of a request (BadInputError where vLLM refuses a value)."""
        api = self._api
        kwargs = to_vllm_sampling_kwargs(request.params, request.n, self.stop_token_ids, top_k_off=api.top_k_off)
        kwargs.update(structured_output_kwargs(request.response_format, api.sampling_module))
        if api.delta_kind is not None:
            kwargs["output_kind"] = api.delta_kind
        try:
            return api.sampling_params_cls(**kwargs)
        except api.client_errors as exc:
            raise BadInputError(f"invalid sampling parameters: {_one_line(exc)}") from exc

    def _translate(self, exc: BaseException) -> BaseException:
        """vLLM's errors as ft's: a refused request is BadInputError, a full queue QueueFullError."""
        names = {c.__name__ for c in type(exc).__mro__}
        if names & {"QueueOverflowError", "MaxQueuedTokensError"}:
            return QueueFullError(f"The server is busy: {_one_line(exc)}")
        if self._api is not None and isinstance(exc, self._api.client_errors):
            return BadInputError(_one_line(exc))
        return exc

    async def stream(self, request: GenerateRequest) -> AsyncIterator[ChoiceDelta]:
        if not self.ready or self._loop is None:
            raise EngineNotReady("The model is still loading; retry in a moment.")
        self.check_length(len(request.prompt_ids), request.params.max_tokens)
        lora = self._lora_request(request.adapter)
        params = self.sampling_params(request)
        if self._waiting >= self.max_queue:
            raise QueueFullError(f"The server is busy: {self._waiting} requests are waiting "
                                 f"(max_queue={self.max_queue}). Retry later.")
        request_id = f"{request.request_id}-{next(self._ids)}"  # unique in vLLM even if a caller reuses ids
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def put(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody to tell
                loop.call_soon_threadsafe(queue.put_nowait, item)

        future = asyncio.run_coroutine_threadsafe(self._produce(request_id, request, params, lora, put), self._loop)
        finished = 0
        try:
            while finished < request.n:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                if item.finish_reason is not None:
                    finished += 1
                yield item
        finally:
            if not future.done():  # the consumer went away: cancel the producer; it aborts the vLLM request
                future.cancel()

    async def _produce(self, request_id: str, request: GenerateRequest, params: Any, lora: Any,
                       put: Callable[[Any], None]) -> None:
        """On vLLM's loop: feed one request and pass its pieces to the caller; abort it if cut short."""
        choices = _Choices(request.n, len(request.prompt_ids), cumulative=self._api.delta_kind is None,
                           decode=lambda t: self.tokenizer.decode([t]), top_logprobs=request.params.logprobs)
        # counted here, not in stream(): a producer cancelled before its first step runs no finally
        with self._lock:
            self._waiting += 1
        state = "waiting"
        finished = False
        try:
            prompt = {"prompt_token_ids": list(request.prompt_ids)}
            async for output in self._engine.generate(prompt, params, request_id, lora_request=lora):
                if state == "waiting":
                    with self._lock:
                        self._waiting -= 1
                        self._running += 1
                    state = "running"
                deltas = choices.update(output)
                with self._lock:
                    self._generated += sum(len(d.token_ids) for d in deltas)
                for d in deltas:
                    put(d)
            finished = True  # vLLM's stream ended: the request is over there
            for d in choices.close("abort"):  # choices vLLM ended without a finish reason
                put(d)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            put(self._translate(exc))
        finally:
            with self._lock:
                if state == "waiting":
                    self._waiting -= 1
                else:
                    self._running -= 1
            if not finished:
                with contextlib.suppress(Exception):
                    await self._engine.abort(request_id)
            put(_END)
