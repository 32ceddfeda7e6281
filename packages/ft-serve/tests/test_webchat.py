"""``ft webchat``: the gradio chat page over the tiny Llama, driven in a real headless Chromium.

The page is launched on a free loopback port (``prevent_thread_lock``) over one ``ChatModel``;
Playwright types into it like a user. Sampling is seeded (temperature 0.1, seed 7: the tiny
random model's greedy reply is only newlines), so each reply the page shows must equal what
``ChatModel.chat`` gives for the same messages, system prompt and sampling.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/run); Playwright cannot download its
own browsers here. Without it the browser tests skip and the rest still run.
"""

from __future__ import annotations

import importlib.metadata
import socket
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from ft_core import ConfigError
from ft_serve.chat_model import ChatModel

pytestmark = pytest.mark.timeout(240)

CHROMIUM = Path("/usr/bin/chromium")
SEED = 7
# Also the page's defaults: the config sets temperature and max_new_tokens, top_p stays 1.
SAMPLING = {"temperature": 0.1, "top_p": 1.0, "max_tokens": 24, "seed": SEED}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def norm(text: str) -> str:
    """Text as the page renders it (markdown collapses whitespace)."""
    return " ".join(text.split())


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def chat(make_config):
    model = ChatModel(make_config("temperature=0.1", "max_new_tokens=24"))
    # The tiny model decodes a 24-token reply in a few milliseconds, faster than the browser
    # renders or this test polls, so streaming and two tabs overlapping would be visible only when
    # the machine happens to be slow. A pause before each forward makes every decode step take
    # ~20 ms, as a real model's would, so what the tests observe no longer depends on CPU load.
    # The outputs are unchanged: the hook only waits.
    hook = model.engine.model.register_forward_pre_hook(lambda module, args: time.sleep(0.02))
    yield model
    hook.remove()
    model.close()


@pytest.fixture(scope="module")
def webchat_url(chat):
    from ft_serve.webchat import build_webchat

    demo = build_webchat(chat)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run installs it): Playwright "
                    "cannot download its own browsers here")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def open_page(browser, url):
    page = browser.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.locator("#ft-message textarea").wait_for()
    return page


@pytest.fixture
def page(browser, webchat_url):
    pg = open_page(browser, webchat_url)
    yield pg
    pg.close()


# ---------------------------------------------------------------------- page helpers
def messages(page, role: str) -> list[str]:
    return [norm(t) for t in page.locator(f'#ft-chatbot [data-testid="{role}"] .message-content').all_inner_texts()]


def send(page, text: str, system: str | None = None) -> None:
    if system is not None:
        page.locator("#ft-system textarea").fill(system)
    page.locator("#ft-seed input").fill(str(SEED))
    box = page.locator("#ft-message textarea")
    box.fill(text)
    box.press("Enter")


def wait_reply(page, expected: str, count: int = 1, timeout: float = 30.0) -> list[str]:
    """Poll the last bot message until it is ``expected`` (the ``count``-th reply); its successive texts."""
    want = norm(expected)
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bots = messages(page, "bot")
        if len(bots) >= count and bots[count - 1]:
            if not seen or seen[-1] != bots[count - 1]:
                seen.append(bots[count - 1])
            if seen[-1] == want and len(bots) == count:
                return seen
        time.sleep(0.01)
    raise AssertionError(f"the reply never became {want!r}; the page showed {seen!r}")


def wait_empty(page, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while messages(page, "user") or messages(page, "bot"):
        assert time.monotonic() < deadline, f"the chat was not emptied: {messages(page, 'bot')!r}"
        time.sleep(0.01)


# ---------------------------------------------------------------------- in the browser
def test_reply_streams_token_by_token_and_equals_chatmodel(chat, page):
    msgs = [{"role": "user", "content": "Hello there"}]
    expected = chat.chat(msgs, **SAMPLING)
    assert norm(expected), "the seeded tiny model should give visible text"

    send(page, "Hello there")
    seen = wait_reply(page, expected)

    assert messages(page, "user") == ["Hello there"]
    assert page.locator("#ft-message textarea").input_value() == ""  # the box is emptied on send
    # streamed: the page showed growing prefixes of the reply before the whole of it
    assert len(seen) >= 2, f"the reply appeared at once, not streamed: {seen!r}"
    for partial in seen[:-1]:
        assert seen[-1].startswith(partial) and len(partial) < len(seen[-1])


def test_clear_empties_the_chat_and_forgets_the_history(chat, page):
    first = chat.chat([{"role": "user", "content": "Hello there"}], **SAMPLING)
    send(page, "Hello there")
    wait_reply(page, first)

    page.locator("#ft-clear").click()
    wait_empty(page)

    # the next turn is answered without the cleared history
    second = chat.chat([{"role": "user", "content": "How are you?"}], **SAMPLING)
    send(page, "How are you?")
    wait_reply(page, second)
    assert messages(page, "user") == ["How are you?"]

    # Clear while a reply streams: generation stops and no late piece refills the chat
    page.locator("#ft-clear").click()
    wait_empty(page)
    send(page, "Tell me more")
    deadline = time.monotonic() + 30
    while not any(messages(page, "bot")):
        assert time.monotonic() < deadline, "no reply started"
        time.sleep(0.005)
    page.locator("#ft-clear").click()
    wait_empty(page)
    time.sleep(1.5)  # longer than the rest of a 24-token reply takes
    assert messages(page, "bot") == [] and messages(page, "user") == []
    assert chat.engine.stats().running == 0


def test_stop_ends_the_reply_and_keeps_what_came(chat, page):
    number = page.locator('#ft-max-tokens input[type="number"]')
    number.fill("1000")  # long enough that Stop comes first
    number.press("Enter")
    send(page, "Hello there")
    deadline = time.monotonic() + 30
    while not any(messages(page, "bot")):
        assert time.monotonic() < deadline, "no reply started"
        time.sleep(0.005)
    page.locator("#ft-stop").click()
    deadline = time.monotonic() + 10
    while chat.engine.stats().running:
        assert time.monotonic() < deadline, "Stop did not end the generation"
        time.sleep(0.01)
    stopped = messages(page, "bot")
    time.sleep(1.0)
    assert messages(page, "bot") == stopped and stopped[0], "the partial reply should stay, not grow"
    assert len(stopped[0].split()) < 500

    # the conversation goes on after the partial reply
    number.fill("24")
    number.press("Enter")
    send(page, "Go on")
    deadline = time.monotonic() + 30
    while len(messages(page, "bot")) < 2 or not messages(page, "bot")[1]:
        assert time.monotonic() < deadline, "no second reply"
        time.sleep(0.01)
    assert messages(page, "user") == ["Hello there", "Go on"]
    assert messages(page, "bot")[0] == stopped[0]


def test_system_prompt_box_is_used(chat, page):
    msgs = [{"role": "user", "content": "Hello there"}]
    system = "You are a pirate."
    plain = chat.chat(msgs, **SAMPLING)
    pirate = chat.chat(msgs, system=system, **SAMPLING)
    assert norm(plain) != norm(pirate), "precondition: the system prompt changes the seeded reply"
    assert page.locator("#ft-system textarea").input_value() == ""  # the config has no default_system

    send(page, "Hello there", system=system)
    wait_reply(page, pirate)


def test_an_engine_error_is_a_toast_and_the_message_comes_back(chat, page):
    too_long = "word " * (chat.engine.max_model_len + 100)
    send(page, too_long)
    page.get_by_text("maximum context length", exact=False).first.wait_for()
    assert messages(page, "user") == [] and messages(page, "bot") == []
    assert page.locator("#ft-message textarea").input_value() == too_long


def test_two_tabs_are_generated_together(chat, browser, webchat_url):
    expected = chat.chat([{"role": "user", "content": "Hello there"}], **SAMPLING)
    pages = [open_page(browser, webchat_url) for _ in range(2)]
    most = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal most
        while not stop.is_set():
            most = max(most, chat.engine.stats().running)
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for pg in pages:
            pg.locator("#ft-seed input").fill(str(SEED))
            pg.locator("#ft-message textarea").fill("Hello there")
        for pg in pages:
            pg.locator("#ft-message textarea").press("Enter")
        for pg in pages:  # seeded sampling does not depend on what else is in the batch
            wait_reply(pg, expected)
    finally:
        stop.set()
        watcher.join()
        for pg in pages:
            pg.close()
    assert most >= 2, "the two tabs' replies were not decoded in one batch (gradio serialised them)"


# ---------------------------------------------------------------------- without a browser
def _stub_chat(config, names, defaults=None, max_model_len=2048):
    engine = SimpleNamespace(ready=True, defaults=defaults or {}, max_model_len=max_model_len,
                             model_names=lambda: names)
    return ChatModel(config, engine=engine)


def _component(demo, elem_id):
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def test_controls_start_from_the_config(make_config):
    from ft_serve.webchat import build_webchat

    config = make_config("default_system=Be brief.")
    demo = build_webchat(_stub_chat(config, ["tiny", "tiny:sql"], {"temperature": 0.6, "top_p": 0.9,
                                                                   "max_tokens": 64}, max_model_len=512))
    assert _component(demo, "ft-system").value == "Be brief."
    assert _component(demo, "ft-temperature").value == 0.6
    assert _component(demo, "ft-top-p").value == 0.9
    slider = _component(demo, "ft-max-tokens")
    assert (slider.value, slider.maximum) == (64, 512)
    model = _component(demo, "ft-model")
    assert model.visible and model.value == "tiny" and [c[0] for c in model.choices] == ["tiny", "tiny:sql"]

    plain = build_webchat(_stub_chat(make_config(), ["tiny"]))
    assert _component(plain, "ft-system").value == ""
    assert not _component(plain, "ft-model").visible  # no adapters: no selector
    assert _component(plain, "ft-max-tokens").value == 1024  # LLaMA-Factory's max_new_tokens


def test_launch_options_read_llamafactory_variables():
    from ft_serve.webchat import launch_options

    assert launch_options(env={}) == {"server_name": "127.0.0.1", "server_port": 7860, "root_path": "",
                                      "share": False}
    env = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861", "GRADIO_ROOT_PATH": "/chat",
           "GRADIO_SHARE": "True"}
    assert launch_options(env=env) == {"server_name": "0.0.0.0", "server_port": 7861, "root_path": "/chat",
                                       "share": True}
    opts = launch_options("10.0.0.5", 9000, env=env)
    assert (opts["server_name"], opts["server_port"]) == ("10.0.0.5", 9000)
    with pytest.raises(ConfigError, match="GRADIO_SERVER_PORT"):
        launch_options(env={"GRADIO_SERVER_PORT": "web"})


def test_missing_gradio_is_one_line(monkeypatch, make_config):
    from ft_serve.webchat import NO_GRADIO, run_webchat

    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` now fails as if not installed
    with pytest.raises(ConfigError) as err:
        run_webchat(make_config())  # fails before loading the model
    assert str(err.value) == NO_GRADIO == "ft webchat needs the web extra: pip install 'ft-serve[web]'"


def test_webchat_command_is_registered():
    from ft_serve.cli import cli, webchat_command

    assert webchat_command in cli.commands
    points = {e.name: e.value for e in importlib.metadata.entry_points(group="ft.commands")}
    assert points["webchat"] == "ft_serve.cli:webchat_command"
    parser = webchat_command.build_parser("ft webchat")
    args = parser.parse_args(["model_name_or_path=x", "--host", "0.0.0.0", "--port", "7999"])
    assert (args.host, args.port, args.config) == ("0.0.0.0", 7999, "model_name_or_path=x")
