"""Tool calls through ``ft api``, whole and streamed, with a scripted engine so the call is certain.

The engine replays a fixed reply in small pieces; everything else (the app, the template's tool
format, the parser, SSE, the openai client) is the real thing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from ft_serve.engines import ChoiceDelta, Engine, EngineStats, GenerateRequest

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
ASK = [{"role": "user", "content": "Weather in Paris and Rome?"}]
CALLS = ('Let me check.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
         '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>')


class ScriptedEngine(Engine):
    """Replays ``self.reply`` three characters at a time; records the prompts it was given."""

    name = "scripted"

    def __init__(self, config, reply: str) -> None:
        super().__init__(config)
        self.reply = reply
        self.prompts: list[str] = []

    def load(self) -> None:
        from ft_models import load_tokenizer
        from ft_templates import prepare_template

        self.tokenizer = load_tokenizer(self.config.model_name_or_path)
        self.template = prepare_template("qwen", self.tokenizer)
        self.max_model_len = 2048
        self.ready = True

    async def stream(self, request: GenerateRequest) -> AsyncIterator[ChoiceDelta]:
        self.prompts.append(self.tokenizer.decode(request.prompt_ids))
        pieces = [self.reply[i:i + 3] for i in range(0, len(self.reply), 3)]
        for k, piece in enumerate(pieces):
            last = k == len(pieces) - 1
            yield ChoiceDelta(0, piece, [0], None, "stop" if last else None, len(request.prompt_ids), k + 1)

    def stats(self) -> EngineStats:
        return EngineStats(0, 0, 0)


@pytest.fixture(scope="module")
def scripted(make_config, serve):
    engine = ScriptedEngine(make_config(), CALLS)
    engine.load()
    with serve(engine.config, engine) as url:
        yield engine, url


@pytest.fixture
def tool_client(scripted):
    import openai

    return openai.OpenAI(base_url=f"{scripted[1]}/v1", api_key="x", max_retries=0)


def test_tools_reach_the_prompt_in_the_template_format(scripted, tool_client):
    engine, _ = scripted
    tool_client.chat.completions.create(model="tiny", messages=ASK, tools=TOOLS)
    prompt = engine.prompts[-1]
    assert "<tools>" in prompt and '"name": "get_weather"' in prompt


def test_tool_calls_whole(tool_client):
    reply = tool_client.chat.completions.create(model="tiny", messages=ASK, tools=TOOLS)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_weather"]
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Paris"}, {"city": "Rome"}]
    assert all(c.id.startswith("call_") and c.type == "function" for c in calls)


def test_tool_calls_streamed_as_deltas(tool_client):
    chunks = list(tool_client.chat.completions.create(model="tiny", messages=ASK, tools=TOOLS, stream=True))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "Let me check."
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert [d.index for d in deltas] == [0, 1]
    assert [d.function.name for d in deltas] == ["get_weather", "get_weather"]
    assert [json.loads(d.function.arguments) for d in deltas] == [{"city": "Paris"}, {"city": "Rome"}]
    # each call is sent as soon as its </tool_call> closes: two chunks, not one at the end
    call_chunks = [i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.tool_calls]
    assert len(call_chunks) == 2
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_no_tools_means_plain_content(tool_client):
    reply = tool_client.chat.completions.create(model="tiny", messages=ASK)
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].message.content == CALLS
    none = tool_client.chat.completions.create(model="tiny", messages=ASK, tools=TOOLS, tool_choice="none")
    assert none.choices[0].message.content == CALLS and none.choices[0].finish_reason == "stop"


def test_tool_results_go_back_into_the_prompt(scripted, tool_client):
    engine, _ = scripted
    history = [*ASK, {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'}]
    tool_client.chat.completions.create(model="tiny", messages=history, tools=TOOLS)
    prompt = engine.prompts[-1]
    assert '"city": "Paris"' in prompt and '{"temp": 21}' in prompt


def test_text_that_only_looks_like_a_call_is_content(make_config, serve):
    engine = ScriptedEngine(make_config(), "Use <tool_call> tags like this: <tool_call>oops")
    engine.load()
    import openai

    with serve(engine.config, engine) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        streamed = list(client.chat.completions.create(model="tiny", messages=ASK, tools=TOOLS, stream=True))
        whole = client.chat.completions.create(model="tiny", messages=ASK, tools=TOOLS)
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == engine.reply == whole.choices[0].message.content
    assert streamed[-1].choices[0].finish_reason == "stop" and whole.choices[0].finish_reason == "stop"
