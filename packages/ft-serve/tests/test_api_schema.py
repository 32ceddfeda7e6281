"""Property-based run of schemathesis over ``ft api``'s own OpenAPI schema: whatever it sends,
the server never answers 5xx (bad input is a 4xx in OpenAI's shape).

The context is limited to 64 tokens so that generated requests asking for many tokens stay short.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ft_serve.engines.transformers_engine import TransformersEngine


@pytest.fixture(scope="module")
def api_schema(make_config, serve):
    engine = TransformersEngine(make_config("max_model_len=64", "max_body_bytes=65536"))
    engine.load()
    with serve(engine.config, engine) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")
    engine.shutdown()


def test_no_5xx(api_schema):
    # schemathesis' own pytest decorator (from_fixture) fails on this pytest; the same strategies
    # are driven by hypothesis directly, operation by operation.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/chat/completions", "/v1/completions", "/v1/models"}
    seen: dict[str, set[int]] = {}
    for operation in operations:

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(timeout=60)
            seen.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)
            assert response.status_code < 500, \
                f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
            if response.status_code >= 400 and case.path.startswith("/v1"):
                error = response.json()["error"]
                assert set(error) == {"message", "type", "param", "code"} and error["message"]

        check()
    print(seen)
    assert any(400 in codes for codes in seen.values())  # it did send bad input
