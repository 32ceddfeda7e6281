"""The FastAPI app of ``ft api``: OpenAI-compatible routes over one engine.

The protocol models (``protocol``), the engine (``ft_serve.engines``) and the handlers (``chat``,
``completions``) are kept apart, as in vLLM's ``entrypoints/openai``. The model loads in a
background thread after the server starts listening, so probes get ``503`` instead of a refused
connection while it loads; a load that fails stops the server.

Example:
    >>> app = create_app(load_serve_config("api.yaml"))
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ft_core import FtError, get_logger

from .. import __version__
from ..config import ServeConfig
from ..engines import Engine, build_engine
from .chat import chat_completion
from .common import log_request
from .completions import completion
from .errors import ApiError, error_response, status_of
from .metrics import ApiMetrics
from .middleware import GuardMiddleware
from .protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    ErrorResponse,
    ModelCard,
    ModelList,
    ScoreRequest,
    ScoreResponse,
    new_id,
)

log = get_logger("ft.serve.api")

__all__ = ["create_app"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 405, 413, 429, 503)}


def _start_loading(app: FastAPI, engine: Engine) -> None:
    def load() -> None:
        t0 = time.perf_counter()
        try:
            engine.load()
        except BaseException as exc:  # reported, then the server stops (see ft_serve.server)
            app.state.load_error = exc
            log.error("loading the model failed: %s", exc)
            stop = getattr(app.state, "on_load_failure", None)
            if stop is not None:
                stop()
            return
        log.info("ready after %.1fs: serving %s", time.perf_counter() - t0, ", ".join(engine.model_names()))

    def heartbeat() -> None:  # a line every 10 s, so a slow load does not look like a hang
        t0 = time.perf_counter()
        while True:
            app.state.loader.join(timeout=10)
            if not app.state.loader.is_alive():
                return
            log.info("still loading the model (%.0fs)", time.perf_counter() - t0)

    app.state.loader = threading.Thread(target=load, name="ft-serve-load", daemon=True)
    app.state.loader.start()
    threading.Thread(target=heartbeat, name="ft-serve-load-heartbeat", daemon=True).start()


def create_app(config: ServeConfig, engine: Engine | None = None, *, api_key: str | None = None,
               load: bool = True) -> FastAPI:
    """The API app for ``config``; ``engine`` defaults to ``build_engine(config)`` (shut down with the app).

    ``api_key`` (default: the ``API_KEY`` variable) turns on bearer auth for ``/v1``. ``load``
    starts loading the engine in the background when the app starts (tests pass a loaded engine).
    """
    owned = engine is None  # an engine passed in outlives the app: its owner shuts it down
    engine = engine or build_engine(config)
    metrics = ApiMetrics()
    api_key = api_key if api_key is not None else os.environ.get("API_KEY") or None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if load and not engine.ready:
            _start_loading(app, engine)
        yield
        if owned:
            engine.shutdown()

    root_path = os.environ.get("FASTAPI_ROOT_PATH", "")
    app = FastAPI(title="ft-serve", version=__version__, lifespan=lifespan, root_path=root_path,
                  description="OpenAI-compatible API of the ft toolkit (chat, completions, models, scores).")
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.load_error = None
    app.add_middleware(GuardMiddleware, api_key=api_key, max_body_bytes=config.max_body_bytes, root_path=root_path)
    if getattr(config, "cors_origins", None):
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])

    def ready_engine() -> Engine:
        if app.state.load_error is not None:
            raise ApiError(503, f"The model failed to load: {app.state.load_error}")
        if not engine.ready:
            raise ApiError(503, "The model is still loading; retry in a moment.")
        return engine

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.param)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        log_request(request.url.path, 400, time.perf_counter(), metrics=metrics)
        return error_response(400, f"{loc}: {first.get('msg')}" if loc else str(first.get("msg")), loc or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))

    # FtError, not Exception: Starlette re-raises what an Exception handler handled (after sending
    # the response), which resets the client's connection. Unexpected errors get their 500 from
    # GuardMiddleware instead.
    @app.exception_handler(FtError)
    async def _ft_error(request: Request, exc: FtError) -> JSONResponse:
        status = status_of(exc)
        headers = {"Retry-After": "1"} if status in (429, 503) else None
        log_request(request.url.path, status, time.perf_counter(), metrics=metrics)
        return error_response(status, str(exc), headers=headers)

    @app.get("/health", summary="200 when the model is loaded, 503 while loading")
    async def health() -> Response:
        if engine.ready:
            return JSONResponse({"status": "ok"})
        status = "failed" if app.state.load_error is not None else "loading"
        return JSONResponse({"status": status}, status_code=503)

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        stats = engine.stats()
        return Response(metrics.render(stats.running, stats.waiting), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", response_model=ModelList, responses=_ERRORS)
    async def models() -> ModelList:
        eng = ready_engine()
        cards = [ModelCard(id=eng.model_id, root=config.model_name_or_path, max_model_len=eng.max_model_len)]
        cards += [ModelCard(id=f"{eng.model_id}:{name}", root=path, parent=eng.model_id,
                            max_model_len=eng.max_model_len) for name, path in eng.adapters.items()]
        return ModelList(data=cards)

    @app.post("/v1/chat/completions", responses=_ERRORS)
    async def chat(body: ChatCompletionRequest, request: Request) -> Any:
        return await chat_completion(ready_engine(), body, request, metrics)

    @app.post("/v1/completions", responses=_ERRORS)
    async def completions(body: CompletionRequest, request: Request) -> Any:
        return await completion(ready_engine(), body, request, metrics)

    @app.post("/v1/score/evaluation", response_model=ScoreResponse, responses=_ERRORS)
    async def score(body: ScoreRequest) -> ScoreResponse:
        started = time.perf_counter()
        eng = ready_engine()
        if eng.can_generate:
            raise ApiError(405, "Not allowed: this model generates; scores need a reward model")
        eng.resolve_model(body.model)
        if not body.messages:
            raise ApiError(400, "messages: at least one text to score is required", "messages")
        scores = await eng.score(body.messages, body.max_length)
        log_request("/v1/score/evaluation", 200, started, metrics=metrics)
        return ScoreResponse(id=new_id("scoreval"), model=body.model or eng.model_id, scores=scores)

    return app
