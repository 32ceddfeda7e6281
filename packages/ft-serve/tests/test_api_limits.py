"""Auth, limits and load states of ``ft api``: 401, 413 (context and body), 429 and recovery,
503 while loading, a disconnecting client freeing its rows at once."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest

from ft_serve.engines.transformers_engine import TransformersEngine

USER = [{"role": "user", "content": "Hello there"}]


def _client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def test_api_key(tiny_engine, serve):
    with serve(tiny_engine.config, tiny_engine, api_key="s3cret") as url:
        with pytest.raises(openai.AuthenticationError) as info:
            _client(url, "wrong").models.list()
        assert info.value.body["type"] == "authentication_error"
        assert httpx.get(f"{url}/v1/models").status_code == 401  # no header at all
        assert [m.id for m in _client(url, "s3cret").models.list().data] == ["tiny"]
        assert httpx.get(f"{url}/health").status_code == 200  # probes stay open


def test_prompt_longer_than_the_context_is_413(make_config, serve):
    engine = TransformersEngine(make_config("max_model_len=32"))
    engine.load()
    try:
        with serve(engine.config, engine) as url:
            with pytest.raises(openai.APIStatusError) as info:
                _client(url).chat.completions.create(model="tiny", messages=[{"role": "user", "content": "word " * 50}])
            assert info.value.status_code == 413
            assert "maximum context length is 32" in info.value.body["message"]
            # a request that fits but asks for more tokens than remain gets what remains
            reply = _client(url).completions.create(model="tiny", prompt="hi", max_tokens=500, temperature=1.0, seed=1,
                                                    extra_body={"ignore_eos": True})
            assert reply.usage.prompt_tokens + reply.usage.completion_tokens == 32
    finally:
        engine.shutdown()


def test_body_over_the_limit_is_413(make_config, serve):
    engine = TransformersEngine(make_config("max_body_bytes=2048"))
    engine.tokenizer = object()  # never reached: the middleware answers first
    with serve(engine.config, engine) as url:
        r = httpx.post(f"{url}/v1/chat/completions", json={"model": "tiny", "messages": [
            {"role": "user", "content": "x" * 5000}]})
        assert r.status_code == 413 and "max_body_bytes" in r.json()["error"]["message"]
        # chunked upload without Content-Length is counted too
        r = httpx.post(f"{url}/v1/chat/completions", content=iter([b"{" + b" " * 3000 + b"}"]),
                       headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_full_queue_is_429_and_recovers(make_config, serve):
    engine = TransformersEngine(make_config("max_batch_size=1", "max_queue=1"))
    engine.load()
    try:
        with serve(engine.config, engine) as url:
            client = _client(url)
            long = {"model": "tiny", "messages": USER, "max_tokens": 400, "temperature": 1.0,
                    "extra_body": {"ignore_eos": True}}
            results: list = []

            def run() -> None:
                results.append(client.chat.completions.create(**long).choices[0].finish_reason)

            threads = [threading.Thread(target=run) for _ in range(2)]  # one decoding, one waiting
            for t in threads:
                t.start()
                time.sleep(0.3)
            deadline = time.time() + 30
            while engine.stats().waiting < 1 and time.time() < deadline:
                time.sleep(0.05)
            with pytest.raises(openai.RateLimitError) as info:
                client.chat.completions.create(model="tiny", messages=USER, max_tokens=2)
            assert "max_queue=1" in info.value.body["message"]
            assert info.value.response.headers.get("retry-after") == "1"
            for t in threads:
                t.join()
            assert results == ["length", "length"]
            ok = client.chat.completions.create(model="tiny", messages=USER, max_tokens=2)  # recovered
            assert ok.choices[0].finish_reason in ("length", "stop")
    finally:
        engine.shutdown()


class _SlowLoading(TransformersEngine):
    """The real engine, whose load waits until the test lets it go."""

    release = threading.Event()

    def load(self) -> None:
        self.release.wait(60)
        super().load()


def test_503_while_loading(make_config, serve):
    engine = _SlowLoading(make_config())
    from ft_serve.api import create_app  # noqa: F401  (serve uses it; load=True starts the loader)

    with serve(engine.config, engine) as url:
        r = httpx.post(f"{url}/v1/chat/completions", json={"model": "tiny", "messages": USER})
        assert r.status_code == 503 and r.json()["error"]["type"] == "service_unavailable"
        assert httpx.get(f"{url}/health").status_code == 503
        _SlowLoading.release.set()
        deadline = time.time() + 60
        while httpx.get(f"{url}/health").status_code != 200:
            assert time.time() < deadline
            time.sleep(0.1)
        assert _client(url).chat.completions.create(model="tiny", messages=USER, max_tokens=2).choices
    engine.shutdown()


@pytest.mark.parametrize("stream", [True, False])
def test_disconnect_frees_the_rows(tiny_engine, tiny_server, stream):
    body = {"model": "tiny", "messages": USER, "max_tokens": 1500, "temperature": 1.0, "ignore_eos": True,
            "stream": stream}
    if stream:
        with httpx.stream("POST", f"{tiny_server}/v1/chat/completions", json=body, timeout=60) as r:
            lines = r.iter_lines()
            for _ in range(6):
                next(lines)
            assert tiny_engine.stats().running == 1
    else:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{tiny_server}/v1/chat/completions", json=body, timeout=1.0)
    deadline = time.time() + 10
    while tiny_engine.stats().running or tiny_engine.batch.active:
        assert time.time() < deadline, "the disconnected request kept decoding"
        time.sleep(0.05)
    generated = tiny_engine.stats().generated_tokens
    time.sleep(0.3)
    assert tiny_engine.stats().generated_tokens == generated
