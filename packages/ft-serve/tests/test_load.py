"""Load on the real SmolLM2-135M behind ``ft api``: 64 concurrent clients x 8 requests all succeed,
none lost or duplicated; a queue smaller than the load answers 429 and the server recovers.

Latency percentiles are printed for the record, never asserted (timings are not tests).
"""

from __future__ import annotations

import collections
import statistics
import threading
import time

import openai
import pytest

from ft_serve.config import load_serve_config
from ft_serve.engines.transformers_engine import TransformersEngine

CLIENTS, PER_CLIENT = 64, 8


@pytest.fixture(scope="module")
def smol(smollm2_path, serve):
    cfg = load_serve_config(None, ["model_name_or_path=smollm2-135m-instruct", "template=smollm2",
                                   "max_batch_size=32", "max_queue=256"])
    engine = TransformersEngine(cfg)
    engine.load()
    with serve(cfg, engine) as url:
        yield engine, openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=600)
    engine.shutdown()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@pytest.mark.slow
def test_64_clients_x_8_requests(smol):
    engine, client = smol
    got: dict[int, list[str]] = collections.defaultdict(list)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(c: int) -> None:
        for r in range(PER_CLIENT):
            t0 = time.perf_counter()
            try:
                reply = client.chat.completions.create(
                    model="smollm2-135m-instruct", max_tokens=6, temperature=0.8,
                    messages=[{"role": "user", "content": f"Client {c} request {r}: say hello."}])
            except Exception as exc:  # counted and reported below
                with lock:
                    errors.append(repr(exc)[:200])
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)
                got[c].append(reply.id)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ids = [i for c in got for i in got[c]]
    print(f"\nload: {len(ids)} ok in {wall:.1f}s, latency p50 {statistics.median(latencies):.2f}s "
          f"p95 {_percentile(latencies, 0.95):.2f}s, errors {len(errors)}")
    assert errors == []
    assert len(ids) == CLIENTS * PER_CLIENT and len(set(ids)) == len(ids)  # none lost, none duplicated
    assert all(len(got[c]) == PER_CLIENT for c in range(CLIENTS))
    assert engine.stats().running == 0 and engine.stats().waiting == 0


@pytest.mark.slow
def test_small_queue_answers_429_then_recovers(smol):
    engine, shared = smol
    # A fresh connection pool: keep-alive connections the previous test left idle may be closed by
    # the server (uvicorn's 5 s keep-alive) just as a thread picks one up, and with max_retries=0
    # that race would read as a lost request.
    client = openai.OpenAI(base_url=str(shared.base_url), api_key="x", max_retries=0, timeout=600)
    engine.max_queue = 4
    statuses: list[int] = []
    others: list[str] = []  # anything but a reply or a 429, kept so a failure says what it was
    lock = threading.Lock()

    def one() -> None:
        try:
            client.chat.completions.create(model="smollm2-135m-instruct", max_tokens=16, temperature=0.8,
                                           messages=[{"role": "user", "content": "Count to ten."}],
                                           extra_body={"ignore_eos": True})
            code = 200
        except openai.RateLimitError:
            code = 429
        except Exception as exc:  # reported by the assertion below
            with lock:
                others.append(repr(exc)[:300])
            return
        with lock:
            statuses.append(code)

    try:
        threads = [threading.Thread(target=one) for _ in range(64)]  # 32 decode, 4 wait, the rest are refused
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert others == []
        assert statuses.count(429) > 0 and statuses.count(200) >= 32
        assert statuses.count(200) + statuses.count(429) == 64
        for _ in range(3):  # recovered: the queue is empty again
            assert client.chat.completions.create(model="smollm2-135m-instruct", max_tokens=2,
                                                  messages=[{"role": "user", "content": "hi"}]).choices
    finally:
        engine.max_queue = 256
        client.close()
