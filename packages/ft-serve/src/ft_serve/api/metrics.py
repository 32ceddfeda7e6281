"""Prometheus metrics of the API (``GET /metrics``), on their own registry per app.

Requests by endpoint and status, requests running and waiting in the engine, prompt and
completion tokens (``rate()`` gives tokens/s), completion tokens/s of the last minute as a
gauge, and a latency histogram.

Example:
    >>> metrics = ApiMetrics()
    >>> metrics.observe("/v1/chat/completions", 200, latency_s=0.8, prompt_tokens=20, completion_tokens=64)
"""

from __future__ import annotations

import collections
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["ApiMetrics"]

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)


class ApiMetrics:
    """The counters one app updates; ``render()`` is the Prometheus text exposition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("ft_requests", "HTTP requests by endpoint and status", ["endpoint", "status"], registry=r)
        self.latency = Histogram("ft_request_latency_seconds", "Request latency (seconds)", ["endpoint"],
                                 buckets=_LATENCY_BUCKETS, registry=r)
        self.prompt_tokens = Counter("ft_prompt_tokens", "Prompt tokens processed", registry=r)
        self.completion_tokens = Counter("ft_completion_tokens", "Completion tokens generated", registry=r)
        self.running = Gauge("ft_requests_running", "Requests decoding in the engine", registry=r)
        self.waiting = Gauge("ft_requests_waiting", "Requests waiting for a batch slot (queue depth)", registry=r)
        self.tokens_per_s = Gauge("ft_completion_tokens_per_second", "Completion tokens/s over the last 60 s",
                                  registry=r)
        self._recent: collections.deque[tuple[float, int]] = collections.deque()

    def observe(self, endpoint: str, status: int, latency_s: float, prompt_tokens: int = 0,
                completion_tokens: int = 0) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(latency_s)
        if prompt_tokens:
            self.prompt_tokens.inc(prompt_tokens)
        if completion_tokens:
            self.completion_tokens.inc(completion_tokens)
            self._recent.append((time.monotonic(), completion_tokens))

    def render(self, running: int, waiting: int) -> bytes:
        now = time.monotonic()
        while self._recent and now - self._recent[0][0] > 60:
            self._recent.popleft()
        self.running.set(running)
        self.waiting.set(waiting)
        self.tokens_per_s.set(sum(n for _, n in self._recent) / 60.0)
        return generate_latest(self.registry)
