"""The vLLM engine: what runs without a GPU (the one-line errors, the pure mappings of config and
sampling settings to vLLM's arguments, and the streaming, abort and adapter logic against a fake
``AsyncLLM``), and, marked ``gpu``, the real thing on SmolLM2-135M-Instruct.

The GPU tests need CUDA and the vllm extra (``uv sync --no-dev --package ft-serve --extra vllm
--group test``); the default run deselects them (``-m 'not gpu'``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import types

import pytest

from ft_core import BadInputError, ConfigError
from ft_models.generation import SamplingParams
from ft_serve.config import load_serve_config
from ft_serve.engines import GenerateRequest, QueueFullError, UnknownModelError, build_engine, collect
from ft_serve.engines.vllm_engine import (
    LORA_RANKS,
    NO_CUDA,
    NO_VLLM,
    VLLMEngine,
    _Choices,
    _known_args,
    _VllmApi,
    engine_args,
    structured_output_kwargs,
    to_vllm_sampling_kwargs,
)


def vcfg(*overrides: str):
    return load_serve_config(None, ["model_name_or_path=smollm2-135m-instruct", "infer_backend=vllm", *overrides])


# ------------------------------------------------------------------------------------------ load errors
def test_registry_builds_the_vllm_engine_without_importing_vllm():
    engine = build_engine(vcfg())
    assert isinstance(engine, VLLMEngine) and engine.name == "vllm"
    assert "vllm" not in sys.modules


def test_no_cuda_is_one_config_line_naming_the_fix(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setitem(sys.modules, "vllm", None)  # were vllm imported first, the message would be NO_VLLM
    with pytest.raises(ConfigError) as err:
        VLLMEngine(vcfg()).load()
    message = str(err.value)
    assert message == NO_CUDA
    assert "\n" not in message and "CUDA" in message and "infer_backend: huggingface" in message


def test_missing_vllm_is_one_config_line_naming_the_extra(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ModuleNotFoundError
    with pytest.raises(ConfigError) as err:
        VLLMEngine(vcfg()).load()
    assert str(err.value) == NO_VLLM
    assert "pip install 'ft-serve[vllm]'" in str(err.value)


# ------------------------------------------------------------------------------------------ sampling
def test_sampling_kwargs_map_every_field():
    params = SamplingParams(max_tokens=33, min_tokens=3, temperature=0.7, top_p=0.9, top_k=40, min_p=0.05,
                            repetition_penalty=1.3, presence_penalty=0.4, frequency_penalty=-0.6,
                            stop=["\n\n", "END"], stop_token_ids=[7, 2], seed=11, logprobs=3,
                            skip_special_tokens=False)
    kw = to_vllm_sampling_kwargs(params, 4, [2, 5])
    assert kw == {
        "n": 4, "max_tokens": 33, "min_tokens": 3, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
        "repetition_penalty": 1.3, "presence_penalty": 0.4, "frequency_penalty": -0.6,
        "stop": ["\n\n", "END"], "stop_token_ids": [2, 5, 7], "ignore_eos": False, "seed": 11, "logprobs": 3,
        "skip_special_tokens": False,
    }


def test_sampling_kwargs_defaults_greedy_and_top_k_off():
    kw = to_vllm_sampling_kwargs(SamplingParams(temperature=0.0), 1, [2])
    assert kw["temperature"] == 0.0 and kw["top_k"] == 0 and kw["top_p"] == 1.0 and kw["min_p"] == 0.0
    assert kw["logprobs"] is None and kw["seed"] is None and kw["stop"] == [] and kw["stop_token_ids"] == [2]
    assert kw["repetition_penalty"] == 1.0 and kw["presence_penalty"] == 0.0 and kw["frequency_penalty"] == 0.0
    # ft's -1 and 0 both mean off; an old vLLM that wants -1 for off gets -1
    assert to_vllm_sampling_kwargs(SamplingParams(top_k=-1), top_k_off=0)["top_k"] == 0
    assert to_vllm_sampling_kwargs(SamplingParams(top_k=0), top_k_off=-1)["top_k"] == -1
    assert to_vllm_sampling_kwargs(SamplingParams(top_k=5), top_k_off=-1)["top_k"] == 5


def test_sampling_kwargs_logprobs_zero_and_ignore_eos():
    kw = to_vllm_sampling_kwargs(SamplingParams(logprobs=0, ignore_eos=True, stop_token_ids=[9]), 1, [2])
    assert kw["logprobs"] == 0  # the chosen token's log-probability only, as in ft
    # ft's core then ignores the template's stop ids (eos among them) but still stops at the request's own
    assert kw["ignore_eos"] is True and kw["stop_token_ids"] == [9]
    assert to_vllm_sampling_kwargs(SamplingParams(ignore_eos=True), 1, [2])["stop_token_ids"] == []


def test_penalties_are_not_conflated():
    kw = to_vllm_sampling_kwargs(SamplingParams(repetition_penalty=1.2))
    assert (kw["repetition_penalty"], kw["presence_penalty"], kw["frequency_penalty"]) == (1.2, 0.0, 0.0)
    kw = to_vllm_sampling_kwargs(SamplingParams(presence_penalty=0.5))
    assert (kw["repetition_penalty"], kw["presence_penalty"], kw["frequency_penalty"]) == (1.0, 0.5, 0.0)
    kw = to_vllm_sampling_kwargs(SamplingParams(frequency_penalty=0.5))
    assert (kw["repetition_penalty"], kw["presence_penalty"], kw["frequency_penalty"]) == (1.0, 0.0, 0.5)


class _Params:
    def __init__(self, **kw):
        self.kw = kw


def test_structured_outputs_new_and_old_names():
    new = types.SimpleNamespace(StructuredOutputsParams=_Params)
    old = types.SimpleNamespace(GuidedDecodingParams=_Params)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    got = structured_output_kwargs(fmt, new)
    assert list(got) == ["structured_outputs"] and got["structured_outputs"].kw == {"json": schema}
    got = structured_output_kwargs({"type": "json_object"}, old)
    assert list(got) == ["guided_decoding"] and got["guided_decoding"].kw == {"json_object": True}
    assert structured_output_kwargs(None, new) == {} and structured_output_kwargs({"type": "text"}, new) == {}
    with pytest.raises(BadInputError):
        structured_output_kwargs({"type": "yaml"}, new)
    with pytest.raises(BadInputError):
        structured_output_kwargs({"type": "json_object"}, types.SimpleNamespace())


# ------------------------------------------------------------------------------------------ engine args
def test_engine_args_defaults():
    args = engine_args(vcfg(), 1, {}, model_path="/models/smollm2")
    assert args == {
        "model": "/models/smollm2", "trust_remote_code": False, "dtype": "auto", "max_model_len": 4096,
        "tensor_parallel_size": 1, "gpu_memory_utilization": 0.7, "enforce_eager": False,
        "disable_log_stats": True, "enable_log_requests": False,
    }


def test_engine_args_map_serve_keys():
    cfg = vcfg("infer_dtype=bfloat16", "vllm_maxlen=2048", "vllm_gpu_util=0.5", "vllm_enforce_eager=true",
               "trust_remote_code=true", "max_batch_size=8")
    args = engine_args(cfg, 4, {}, num_heads=8)
    assert args["model"] == "smollm2-135m-instruct"
    assert (args["dtype"], args["max_model_len"], args["gpu_memory_utilization"]) == ("bfloat16", 2048, 0.5)
    assert args["enforce_eager"] is True and args["trust_remote_code"] is True
    assert args["tensor_parallel_size"] == 4 and args["max_num_seqs"] == 8
    assert "enable_lora" not in args


def test_max_model_len_wins_over_vllm_maxlen_and_is_capped():
    assert engine_args(vcfg("max_model_len=1024", "vllm_maxlen=8192"), 1, {})["max_model_len"] == 1024
    assert engine_args(vcfg("vllm_maxlen=8192"), 1, {}, model_limit=2048)["max_model_len"] == 2048
    assert engine_args(vcfg("vllm_maxlen=1000"), 1, {}, model_limit=2048)["max_model_len"] == 1000


def test_tensor_parallel_uses_the_visible_gpus_the_heads_allow():
    assert engine_args(vcfg(), 8, {}, num_heads=32)["tensor_parallel_size"] == 8
    assert engine_args(vcfg(), 3, {}, num_heads=9)["tensor_parallel_size"] == 3
    assert engine_args(vcfg(), 4, {}, num_heads=9)["tensor_parallel_size"] == 3  # 4 does not split 9 heads
    assert engine_args(vcfg(), 8, {}, num_heads=7)["tensor_parallel_size"] == 7
    assert engine_args(vcfg(), 2, {})["tensor_parallel_size"] == 2
    assert engine_args(vcfg(), 0, {})["tensor_parallel_size"] == 1


def test_lora_settings_fit_every_adapter():
    adapters = {"sql": "/a/sql", "math": "/a/math", "chat": "/a/chat"}
    args = engine_args(vcfg(), 1, adapters)
    assert args["enable_lora"] is True and args["max_loras"] == 3 and args["max_lora_rank"] == 32
    assert engine_args(vcfg(), 1, adapters, lora_rank=64)["max_lora_rank"] == 64  # raised to the adapters' rank
    assert engine_args(vcfg("vllm_max_lora_rank=24"), 1, adapters)["max_lora_rank"] == 32  # rounded up to vLLM's
    assert engine_args(vcfg("vllm_max_lora_rank=8"), 1, adapters, lora_rank=4)["max_lora_rank"] == 8
    assert engine_args(vcfg(), 1, adapters, lora_rank=4096)["max_lora_rank"] == LORA_RANKS[-1]


def test_vllm_config_wins():
    cfg = vcfg("adapter_name_or_path=a", 'vllm_config={"max-lora-rank": 16, "tensor_parallel_size": 1, '
               '"max_model_len": 512, "enable_prefix_caching": false}')
    args = engine_args(cfg, 4, {"a": "/a"}, lora_rank=64)
    assert args["max_lora_rank"] == 16 and args["tensor_parallel_size"] == 1 and args["max_model_len"] == 512
    assert args["enable_prefix_caching"] is False and "max-lora-rank" not in args


def test_unknown_vllm_config_key_is_a_config_error_and_ft_extras_are_dropped():
    names = frozenset({"model", "dtype", "max_model_len"})
    assert _known_args({"model": "m", "enable_log_requests": False}, [], names) == {"model": "m"}
    with pytest.raises(ConfigError, match="max_modle_len is not a vLLM engine arg"):
        _known_args({"model": "m", "max_modle_len": 3}, ["max_modle_len"], names)


# ------------------------------------------------------------------------------------------ streaming (fake vLLM)
class _Logprob:
    def __init__(self, logprob, rank, decoded_token=None):
        self.logprob, self.rank, self.decoded_token = logprob, rank, decoded_token


def _out(index, text, ids, finish=None, logprobs=None):
    return types.SimpleNamespace(index=index, text=text, token_ids=ids, finish_reason=finish, logprobs=logprobs)


def _ro(*outputs, finished=False):
    return types.SimpleNamespace(outputs=list(outputs), finished=finished)


def test_choices_from_delta_outputs():
    ch = _Choices(2, 5, cumulative=False, decode=str, top_logprobs=None)
    d = ch.update(_ro(_out(0, "Hel", [1, 2])))
    assert [(x.index, x.text, x.token_ids, x.finish_reason, x.completion_tokens) for x in d] == \
        [(0, "Hel", [1, 2], None, 2)]
    d = ch.update(_ro(_out(1, "A", [9]), _out(0, "lo", [3], "stop")))
    assert [(x.index, x.text, x.token_ids, x.finish_reason, x.completion_tokens, x.prompt_tokens) for x in d] == \
        [(1, "A", [9], None, 1, 5), (0, "lo", [3], "stop", 3, 5)]
    assert ch.update(_ro(_out(0, "x", [4]))) == []  # a finished choice stays finished
    d = ch.update(_ro(_out(1, "", [], "length"), finished=True))
    assert [(x.index, x.finish_reason, x.completion_tokens) for x in d] == [(1, "length", 1)]
    assert ch.close() == []


def test_choices_from_cumulative_outputs_and_repetition_is_stop():
    ch = _Choices(1, 2, cumulative=True, decode=str, top_logprobs=None)
    assert [(x.text, x.token_ids) for x in ch.update(_ro(_out(0, "Hel", [1, 2])))] == [("Hel", [1, 2])]
    assert ch.update(_ro(_out(0, "Hel", [1, 2]))) == []  # nothing new
    d = ch.update(_ro(_out(0, "Hello", [1, 2, 3], "repetition"), finished=True))
    assert [(x.text, x.token_ids, x.finish_reason, x.completion_tokens) for x in d] == [("lo", [3], "stop", 3)]


def test_choices_logprobs_and_abort_on_close():
    ch = _Choices(2, 1, cumulative=False, decode=lambda t: f"<{t}>", top_logprobs=2)
    pos = {5: _Logprob(-0.5, 2, "b"), 4: _Logprob(-0.1, 1, "a"), 8: _Logprob(-3.0, 3)}
    (d,) = ch.update(_ro(_out(0, "b", [5], logprobs=[pos])))
    (lp,) = d.logprobs
    assert (lp.token, lp.logprob, lp.top) == ("b", -0.5, [("a", -0.1), ("b", -0.5)])
    ch0 = _Choices(1, 1, cumulative=False, decode=lambda t: f"<{t}>", top_logprobs=0)
    (d,) = ch0.update(_ro(_out(0, "c", [8], logprobs=[{8: _Logprob(-3.0, 3)}])))
    assert (d.logprobs[0].token, d.logprobs[0].top) == ("<8>", [])  # undecoded token: the tokenizer's text
    assert [(x.index, x.finish_reason) for x in ch.close()] == [(0, "abort"), (1, "abort")]


class FakeLLM:
    """Just enough of ``AsyncLLM``: delta outputs of 'tok{i}' pieces, abort and shutdown recorded."""

    def __init__(self, steps=3, forever=False, fail=None):
        self.steps, self.forever, self.fail = steps, forever, fail
        self.calls, self.aborted, self.shut = [], [], False
        self.model_config = types.SimpleNamespace(max_model_len=256)

    async def generate(self, prompt, params, request_id, *, lora_request=None):
        self.calls.append((prompt, params, request_id, lora_request))
        if self.fail is not None:
            raise self.fail
        n = params.kw["n"]
        step = 0
        while self.forever or step < self.steps:
            await asyncio.sleep(0.001)
            last = not self.forever and step == self.steps - 1
            yield _ro(*(_out(i, f"c{i}t{step} ", [100 + step], "length" if last else None) for i in range(n)),
                      finished=last)
            step += 1

    async def abort(self, request_id):
        self.aborted.append(request_id)

    def shutdown(self):
        self.shut = True


class FakeLoRA:
    def __init__(self, name, id_, path):
        self.lora_name, self.lora_int_id, self.lora_path = name, id_, path


@contextlib.contextmanager
def fake_engine(llm, *overrides, adapters=()):
    engine = VLLMEngine(vcfg(*overrides))
    engine.tokenizer = types.SimpleNamespace(decode=lambda ids: "".join(f"<{i}>" for i in ids))
    engine.stop_token_ids = [2]
    engine.adapters = {a: f"/saves/{a}" for a in adapters}
    engine.lora_requests = {a: FakeLoRA(a, i + 1, p) for i, (a, p) in enumerate(engine.adapters.items())}
    engine._api = _VllmApi(engine_cls=None, engine_args_cls=None, sampling_params_cls=_Params,
                           sampling_module=types.SimpleNamespace(StructuredOutputsParams=_Params),
                           lora_request_cls=FakeLoRA, delta_kind="DELTA")
    engine._start(lambda: llm)
    engine.max_model_len = llm.model_config.max_model_len
    engine.ready = True
    try:
        yield engine
    finally:
        engine.shutdown()


def test_stream_generates_n_choices_with_the_adapter_asked_for():
    llm = FakeLLM(steps=3)
    with fake_engine(llm, adapters=("sql", "math")) as engine:
        req = GenerateRequest("r1", [1, 2, 3], SamplingParams(max_tokens=3, temperature=0.0), n=2, adapter="math",
                              response_format={"type": "json_object"})
        outs = asyncio.run(collect(engine.stream(req), 2))
        assert [o.text for o in outs] == ["c0t0 c0t1 c0t2 ", "c1t0 c1t1 c1t2 "]
        assert [o.token_ids for o in outs] == [[100, 101, 102]] * 2
        assert [(o.finish_reason, o.prompt_tokens, o.completion_tokens) for o in outs] == [("length", 3, 3)] * 2
        prompt, params, request_id, lora = llm.calls[0]
        assert prompt == {"prompt_token_ids": [1, 2, 3]} and request_id.startswith("r1-")
        assert (lora.lora_name, lora.lora_int_id, lora.lora_path) == ("math", 2, "/saves/math")
        assert params.kw["n"] == 2 and params.kw["stop_token_ids"] == [2] and params.kw["output_kind"] == "DELTA"
        assert params.kw["structured_outputs"].kw == {"json_object": True}
        # a second event loop works too: vLLM lives on the engine's own loop
        asyncio.run(collect(engine.stream(GenerateRequest("r2", [1], SamplingParams(max_tokens=3))), 1))
        assert llm.calls[1][3] is None and llm.calls[1][2] != request_id
        assert engine.stats().generated_tokens == 9 and engine.stats().running == engine.stats().waiting == 0
        assert llm.aborted == []  # finished requests are not aborted
    assert llm.shut


def test_unknown_adapter_and_queue_and_readiness():
    with fake_engine(FakeLLM(), "max_queue=0", adapters=("sql",)) as engine:
        async def first(req):
            async for d in engine.stream(req):
                return d

        with pytest.raises(UnknownModelError):
            asyncio.run(first(GenerateRequest("r", [1], adapter="nope")))
        with pytest.raises(QueueFullError):
            asyncio.run(first(GenerateRequest("r", [1])))
    engine = VLLMEngine(vcfg())
    with pytest.raises(Exception, match="still loading"):
        asyncio.run(collect(engine.stream(GenerateRequest("r", [1])), 1))


def test_disconnect_aborts_the_vllm_request():
    llm = FakeLLM(forever=True)
    with fake_engine(llm) as engine:
        async def consume_two():
            got = []
            async with contextlib.aclosing(engine.stream(GenerateRequest("gone", [1], SamplingParams(max_tokens=99)))) \
                    as stream:
                async for d in stream:
                    got.append(d)
                    if len(got) == 2:
                        break
            return got

        assert len(asyncio.run(consume_two())) == 2
        deadline = time.time() + 5
        while not llm.aborted and time.time() < deadline:
            time.sleep(0.01)
        assert llm.aborted and llm.aborted[0].startswith("gone-")
        deadline = time.time() + 5
        while engine.stats().running and time.time() < deadline:
            time.sleep(0.01)
        assert engine.stats().running == 0 and engine.stats().waiting == 0


def test_vllm_refusals_become_bad_input():
    with fake_engine(FakeLLM(fail=ValueError("The decoder prompt is too long\nmore"))) as engine:
        with pytest.raises(BadInputError, match="^The decoder prompt is too long$"):
            asyncio.run(collect(engine.stream(GenerateRequest("r", [1])), 1))
        assert engine.stats().waiting == 0 and engine.stats().running == 0


# ------------------------------------------------------------------------------------------ load (fake vLLM)
def _fake_vllm(monkeypatch, llm):
    """A ``vllm`` package with the names the engine imports; AsyncEngineArgs lacks enable_log_requests."""
    import dataclasses

    @dataclasses.dataclass
    class AsyncEngineArgs:
        model: str = ""
        trust_remote_code: bool = False
        dtype: str = "auto"
        max_model_len: int | None = None
        tensor_parallel_size: int = 1
        gpu_memory_utilization: float = 0.9
        enforce_eager: bool = False
        disable_log_stats: bool = False
        enable_lora: bool = False
        max_loras: int = 1
        max_lora_rank: int = 16
        enable_prefix_caching: bool | None = None

    class AsyncLLM:
        created: list = []

        @classmethod
        def from_engine_args(cls, args):
            cls.created.append(args)
            llm.model_config.max_model_len = args.max_model_len
            return llm

    class FakeSamplingParams(_Params):
        top_k = 0

    mods = {name: types.ModuleType(name) for name in (
        "vllm", "vllm.sampling_params", "vllm.engine", "vllm.engine.arg_utils", "vllm.lora", "vllm.lora.request",
        "vllm.v1", "vllm.v1.engine", "vllm.v1.engine.async_llm", "vllm.exceptions")}
    mods["vllm"].sampling_params = mods["vllm.sampling_params"]
    mods["vllm.sampling_params"].SamplingParams = FakeSamplingParams
    mods["vllm.sampling_params"].StructuredOutputsParams = _Params
    mods["vllm.sampling_params"].RequestOutputKind = types.SimpleNamespace(DELTA="DELTA")
    mods["vllm.engine.arg_utils"].AsyncEngineArgs = AsyncEngineArgs
    mods["vllm.lora.request"].LoRARequest = FakeLoRA
    mods["vllm.v1.engine.async_llm"].AsyncLLM = AsyncLLM
    mods["vllm.exceptions"].VLLMClientError = type("VLLMClientError", (Exception,), {})
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return AsyncLLM


def test_load_builds_engine_args_adapters_and_streams(monkeypatch, tiny_llama_path, tmp_path):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)  # tiny has 4 heads: tensor parallel 2
    llm = FakeLLM(steps=2)
    created = _fake_vllm(monkeypatch, llm).created
    adapters = []
    for name, rank in (("sql", 8), ("math", 64)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "adapter_config.json").write_text(json.dumps({"r": rank, "peft_type": "LORA"}))
        adapters.append(f"{name}={tmp_path / name}")
    cfg = load_serve_config(None, [f"model_name_or_path={tiny_llama_path}", "template=smollm2", "infer_backend=vllm",
                                   "served_model_name=tiny", f"adapter_name_or_path={','.join(adapters)}",
                                   "temperature=0.3", "do_sample=true", 'vllm_config={"enable_prefix_caching": false}'])
    engine = VLLMEngine(cfg)
    engine.load()
    try:
        (args,) = created
        assert args.model == str(tiny_llama_path) and args.tensor_parallel_size == 2
        assert args.max_model_len == 2048  # vllm_maxlen 4096, capped at the model's 2048 positions
        assert (args.enable_lora, args.max_loras, args.max_lora_rank) == (True, 2, 64)
        assert args.enable_prefix_caching is False and args.disable_log_stats is True
        assert engine.max_model_len == 2048 and engine.ready
        assert engine.model_names() == ["tiny", "tiny:sql", "tiny:math"]
        assert [(r.lora_name, r.lora_int_id, r.lora_path) for r in engine.lora_requests.values()] == \
            [("sql", 1, str(tmp_path / "sql")), ("math", 2, str(tmp_path / "math"))]
        assert engine.defaults["temperature"] == 0.3
        assert engine.tokenizer.eos_token_id in engine.stop_token_ids
        (out,) = asyncio.run(collect(engine.stream(GenerateRequest("x", [1, 2], adapter="sql")), 1))
        assert out.text == "c0t0 c0t1 " and llm.calls[0][3].lora_name == "sql"
        assert llm.calls[0][1].kw["stop_token_ids"] == engine.stop_token_ids
    finally:
        engine.shutdown()
    assert llm.shut


def test_load_refuses_an_unknown_vllm_config_key(monkeypatch, tiny_llama_path):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    _fake_vllm(monkeypatch, FakeLLM())
    cfg = load_serve_config(None, [f"model_name_or_path={tiny_llama_path}", "template=smollm2", "infer_backend=vllm",
                                   'vllm_config={"max_num_seq": 4}'])
    with pytest.raises(ConfigError, match="vllm_config: max_num_seq is not a vLLM engine arg"):
        VLLMEngine(cfg).load()


# ------------------------------------------------------------------------------------------ GPU
def _needs_vllm():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    pytest.importorskip("vllm")


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


def _make_adapter(base, out, seed):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False))
    with torch.no_grad():  # a visible but modest change of the outputs
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.mul_(0.5)
    peft.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def gpu_engines(tmp_path_factory):
    _needs_vllm()
    from ft_models import resolve_model_path
    from ft_serve.engines.transformers_engine import TransformersEngine

    base = resolve_model_path("smollm2-135m-instruct")
    root = tmp_path_factory.mktemp("adapters")
    a = _make_adapter(base, root / "alpha", 1)
    b = _make_adapter(base, root / "beta", 2)
    common = ["model_name_or_path=smollm2-135m-instruct", "infer_dtype=float32", "max_model_len=1024",
              f"adapter_name_or_path=alpha={a},beta={b}"]
    vllm_engine = VLLMEngine(load_serve_config(None, [*common, "infer_backend=vllm", "vllm_gpu_util=0.35",
                                                      "vllm_enforce_eager=true"]))
    vllm_engine.load()
    hf_engine = TransformersEngine(load_serve_config(None, common))
    hf_engine.load()
    yield vllm_engine, hf_engine
    vllm_engine.shutdown()
    hf_engine.shutdown()


def _prompt(engine, text):
    from ft_serve.prompts import chat_prompt_ids

    return chat_prompt_ids(engine.template, engine.tokenizer, [{"role": "user", "content": text}])


@pytest.mark.gpu
def test_gpu_greedy_stream_matches_transformers(gpu_engines):
    vllm_engine, hf_engine = gpu_engines
    ids = _prompt(vllm_engine, "What is the capital of France?")
    assert ids == _prompt(hf_engine, "What is the capital of France?")  # same template, same tokens
    params = SamplingParams(max_tokens=24, temperature=0.0)

    async def stream_pieces():
        return [d async for d in vllm_engine.stream(GenerateRequest("g", ids, params))]

    pieces = asyncio.run(stream_pieces())
    assert len(pieces) > 1 and pieces[-1].finish_reason in ("stop", "length")
    text = "".join(p.text for p in pieces)
    (ref,) = asyncio.run(hf_engine.generate(GenerateRequest("h", ids, params)))
    assert [t for p in pieces for t in p.token_ids] == ref.token_ids
    assert text == ref.text
    assert pieces[-1].completion_tokens == len(ref.token_ids) and pieces[-1].prompt_tokens == len(ids)


@pytest.mark.gpu
def test_gpu_two_adapters_per_request(gpu_engines):
    vllm_engine, hf_engine = gpu_engines
    assert vllm_engine.model_names() == ["smollm2-135m-instruct", "smollm2-135m-instruct:alpha",
                                         "smollm2-135m-instruct:beta"]
    ids = _prompt(vllm_engine, "Name three colours.")
    params = SamplingParams(max_tokens=12, temperature=0.0)

    async def all_at_once(engine):  # base and both adapters in one batch
        outs = await asyncio.gather(*(engine.generate(GenerateRequest(f"a{i}", ids, params, adapter=a))
                                      for i, a in enumerate((None, "alpha", "beta"))))
        return [o[0].token_ids for o in outs]

    got = asyncio.run(all_at_once(vllm_engine))
    ref = asyncio.run(all_at_once(hf_engine))
    assert got[1] != got[0] and got[2] != got[0] and got[1] != got[2]
    for g, r in zip(got, ref):
        assert g[:6] == r[:6]


@pytest.mark.gpu
def test_gpu_json_schema_response_parses(gpu_engines):
    vllm_engine, _ = gpu_engines
    ids = _prompt(vllm_engine, "Give me a person as JSON with a name and an age.")
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}
    (out,) = asyncio.run(vllm_engine.generate(GenerateRequest("j", ids, SamplingParams(max_tokens=96,
                                                                                      temperature=0.0),
                                                              response_format=fmt)))
    value = json.loads(out.text)
    assert set(value) == {"name", "age"} and isinstance(value["age"], int)
    (out,) = asyncio.run(vllm_engine.generate(GenerateRequest("o", ids, SamplingParams(max_tokens=96),
                                                              response_format={"type": "json_object"})))
    assert isinstance(json.loads(out.text), dict)


@pytest.mark.gpu
def test_gpu_disconnect_aborts(gpu_engines):
    vllm_engine, _ = gpu_engines
    ids = _prompt(vllm_engine, "Count to a thousand.")

    async def two_pieces():
        async with contextlib.aclosing(vllm_engine.stream(GenerateRequest(
                "d", ids, SamplingParams(max_tokens=900, ignore_eos=True)))) as stream:
            n = 0
            async for _ in stream:
                n += 1
                if n == 2:
                    return

    asyncio.run(two_pieces())
    deadline = time.time() + 10
    while vllm_engine._engine.get_num_unfinished_requests() and time.time() < deadline:
        time.sleep(0.05)
    assert vllm_engine._engine.get_num_unfinished_requests() == 0
    assert vllm_engine.stats().running == 0
