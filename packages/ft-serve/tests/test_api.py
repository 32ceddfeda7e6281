"""``ft api`` over HTTP with the official openai client: models, chat, streaming, completions,
logprobs, stop strings, errors in OpenAI's shape, metrics and docs (tiny random Llama with the
real SmolLM2 tokenizer, so text is gibberish but every token count is real)."""

from __future__ import annotations

import httpx
import openai
import pytest

from ft_models.generation import SamplingParams, generate
from ft_serve.prompts import chat_prompt_ids

USER = [{"role": "user", "content": "Tell me about lighthouses."}]


def test_models_lists_the_base(client):
    models = client.models.list().data
    assert [m.id for m in models] == ["tiny"]
    assert models[0].object == "model"


def test_chat_equals_the_generation_core(client, tiny_engine):
    reply = client.chat.completions.create(model="tiny", messages=USER, max_tokens=12, temperature=0)
    ids = chat_prompt_ids(tiny_engine.template, tiny_engine.tokenizer, USER)
    expected = generate(tiny_engine.model, tiny_engine.tokenizer, [ids], SamplingParams(max_tokens=12, temperature=0),
                        stop_token_ids=tiny_engine.stop_token_ids)[0]
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == expected.text
    assert choice.finish_reason == expected.finish_reason
    assert reply.usage.prompt_tokens == len(ids)
    assert reply.usage.completion_tokens == len(expected.token_ids)
    assert reply.usage.total_tokens == len(ids) + len(expected.token_ids)
    assert reply.id.startswith("chatcmpl-") and reply.object == "chat.completion"


def test_stream_equals_whole_reply_and_reports_usage(client):
    whole = client.chat.completions.create(model="tiny", messages=USER, max_tokens=16, temperature=0)
    chunks = list(client.chat.completions.create(model="tiny", messages=USER, max_tokens=16, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.completion_tokens == whole.usage.completion_tokens
    assert usage.prompt_tokens == whole.usage.prompt_tokens


def test_n_and_seed(client):
    kwargs = {"model": "tiny", "messages": USER, "max_tokens": 8, "temperature": 1.0, "n": 3, "seed": 7}
    a = client.chat.completions.create(**kwargs)
    b = client.chat.completions.create(**kwargs)
    assert [c.index for c in a.choices] == [0, 1, 2]
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert len({c.message.content for c in a.choices}) > 1  # seeds seed, seed+1, seed+2


def test_stop_string_cuts_the_text(client):
    # seeded sampling: the tiny random model's greedy reply is only newlines
    kwargs = {"model": "tiny", "messages": USER, "max_tokens": 20, "temperature": 1.0, "seed": 3}
    text = client.chat.completions.create(**kwargs).choices[0].message.content
    stop = text[10:14]
    assert stop.strip() and text.index(stop) == 10
    cut = client.chat.completions.create(**kwargs, stop=[stop])
    assert cut.choices[0].message.content == text[:10]
    assert cut.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(**kwargs, stop=stop, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == text[:10]


def test_logprobs(client):
    reply = client.chat.completions.create(model="tiny", messages=USER, max_tokens=4, temperature=0,
                                           logprobs=True, top_logprobs=3)
    items = reply.choices[0].logprobs.content
    assert len(items) == reply.usage.completion_tokens
    for item in items:
        assert len(item.top_logprobs) == 3
        assert item.top_logprobs[0].logprob == pytest.approx(item.logprob)  # greedy takes the most likely
        assert item.logprob <= 0


def test_completions(client, tiny_engine):
    reply = client.completions.create(model="tiny", prompt=["Once upon", "The sea"], max_tokens=5, temperature=0,
                                      n=2, logprobs=1, echo=True)
    assert sorted(c.index for c in reply.choices) == [0, 1, 2, 3]
    assert reply.usage.completion_tokens <= 4 * 5  # max_tokens is honoured
    first = next(c for c in reply.choices if c.index == 0)
    assert first.text.startswith("Once upon")
    assert len(first.logprobs.tokens) == len(first.logprobs.token_logprobs)
    ids = tiny_engine.tokenizer("Once upon")["input_ids"]
    assert reply.usage.prompt_tokens == len(ids) + len(tiny_engine.tokenizer("The sea")["input_ids"])
    streamed = client.completions.create(model="tiny", prompt="Once upon", max_tokens=5, temperature=0, stream=True)
    text = "".join(c.choices[0].text for c in streamed if c.choices)
    assert "Once upon" + text == first.text


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=2)
    err = info.value.body
    assert err["type"] == "not_found_error" and "gpt-4o" in err["message"] and err["code"] == 404


@pytest.mark.parametrize("messages, needle", [
    ([{"role": "assistant", "content": "hi"}], "last message"),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "role"),
    ([{"role": "wizard", "content": "a"}], "role"),
    ([], "at least one"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "not supported"),
])
def test_bad_messages_are_400(client, messages, needle):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="tiny", messages=messages, max_tokens=2)
    assert needle in info.value.body["message"]
    assert info.value.body["type"] == "invalid_request_error"


def test_invalid_fields_are_400_in_openai_shape(tiny_server):
    r = httpx.post(f"{tiny_server}/v1/chat/completions", json={"model": "tiny", "messages": USER, "temperature": 9})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "temperature"
    r = httpx.post(f"{tiny_server}/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()
    r = httpx.post(f"{tiny_server}/v1/chat/completions", json={"model": "tiny", "messages": USER, "tool_choice": "required",
                                                               "tools": [{"type": "function", "function": {"name": "f"}}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "tool_choice"


def test_score_is_405_on_a_generating_model(tiny_server):
    r = httpx.post(f"{tiny_server}/v1/score/evaluation", json={"model": "tiny", "messages": ["a"]})
    assert r.status_code == 405 and r.json()["error"]["message"].startswith("Not allowed")


def test_health_metrics_and_docs(client, tiny_server):
    client.chat.completions.create(model="tiny", messages=USER, max_tokens=3)
    assert httpx.get(f"{tiny_server}/health").json() == {"status": "ok"}
    text = httpx.get(f"{tiny_server}/metrics").text
    assert 'ft_requests_total{endpoint="/v1/chat/completions",status="200"}' in text
    assert "ft_requests_waiting 0.0" in text and "ft_requests_running" in text
    assert "ft_request_latency_seconds_bucket" in text and "ft_completion_tokens_total" in text
    assert httpx.get(f"{tiny_server}/docs").status_code == 200
    paths = httpx.get(f"{tiny_server}/openapi.json").json()["paths"]
    assert {"/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/score/evaluation"} <= set(paths)
