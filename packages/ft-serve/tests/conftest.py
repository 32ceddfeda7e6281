"""Fixtures of ft-serve's tests: loaded engines and a real uvicorn server on loopback.

``serve_app`` runs the real app (``create_app``) in a uvicorn thread on a free 127.0.0.1 port and
yields its base URL, so tests talk to it with the official ``openai`` client over HTTP.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest

from ft_serve.config import load_serve_config
from ft_serve.engines.transformers_engine import TransformersEngine

# gradio parses its own component sources with `ast` when first imported. On CPython 3.11.7 that
# fails with "SystemError: AST constructor recursion depth mismatch" when the import happens deep in
# a call stack (a module-scoped fixture ~270 frames down in a full test run; CPython gh-106905,
# fixed in 3.11.8). Importing it here, at collection time, keeps the stack shallow.
with contextlib.suppress(ImportError):  # without the webchat extra its tests skip
    import gradio  # noqa: F401


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(config, engine, api_key: str | None = ""):
    """Serve ``create_app(config, engine)`` on loopback; yields ``http://127.0.0.1:PORT``."""
    import uvicorn

    from ft_serve.api import create_app

    app = create_app(config, engine, api_key=api_key)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    server.install_signal_handlers = lambda: None  # not the main thread
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def tiny_config(path: Path, *overrides: str):
    return load_serve_config(None, [f"model_name_or_path={path}", "template=smollm2", "served_model_name=tiny",
                                    *overrides])


def loaded_engine(config) -> TransformersEngine:
    engine = TransformersEngine(config)
    engine.load()
    return engine


@pytest.fixture(scope="module")
def tiny_engine(tiny_llama_path):
    engine = loaded_engine(tiny_config(tiny_llama_path))
    yield engine
    engine.shutdown()


@pytest.fixture(scope="module")
def tiny_server(tiny_engine):
    with serve_app(tiny_engine.config, tiny_engine) as url:
        yield url


@pytest.fixture
def client(tiny_server):
    import openai

    return openai.OpenAI(base_url=f"{tiny_server}/v1", api_key="unused", max_retries=0, timeout=120)


# Test modules cannot import conftest under --import-mode=importlib: the helpers are fixtures too.
@pytest.fixture(scope="session")
def serve():
    """``serve(config, engine, api_key="")``: the ``serve_app`` context manager."""
    return serve_app


@pytest.fixture(scope="session")
def make_config(tiny_llama_path):
    """``make_config(*overrides)``: a ServeConfig for the tiny Llama (template smollm2, served as "tiny")."""
    return lambda *overrides: tiny_config(tiny_llama_path, *overrides)
