"""Run the API with uvicorn: host and port from flags or LLaMA-Factory's ``API_HOST``/``API_PORT``.

The host defaults to 127.0.0.1. Binding another address without ``API_KEY`` prints a warning:
anyone who reaches the port can then use the model.

Example:
    >>> serve(cfg, host=None, port=None)   # API_HOST / API_PORT, else 127.0.0.1:8000
"""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import Any

from ft_core import BadInputError, get_logger

from ..config import ServeConfig

log = get_logger("ft.serve.api")

__all__ = ["resolve_bind", "serve"]


def resolve_bind(host: str | None, port: int | None) -> tuple[str, int]:
    """(host, port) from the arguments, else ``API_HOST``/``API_PORT``, else 127.0.0.1:8000."""
    host = host or os.environ.get("API_HOST") or "127.0.0.1"
    raw = port if port is not None else os.environ.get("API_PORT", "8000")
    try:
        port = int(raw)
    except ValueError as exc:
        raise BadInputError(f"API_PORT={raw!r} is not a port number; set it to e.g. 8000") from exc
    if not 0 <= port <= 65535:
        raise BadInputError(f"port {port} is out of range 0-65535")
    return host, port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(config: ServeConfig, host: str | None = None, port: int | None = None, engine: Any = None) -> int:
    """Serve until interrupted; returns the exit code (1 when the model failed to load)."""
    import uvicorn

    from .app import create_app

    host, port = resolve_bind(host, port)
    if not _is_loopback(host) and not os.environ.get("API_KEY"):
        print(f"warning: serving on {host} without API_KEY: anyone who can reach port {port} can use the model; "
              "set API_KEY to require a bearer key", file=sys.stderr)
    app = create_app(config, engine)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=5))

    def stop() -> None:
        server.should_exit = True

    app.state.on_load_failure = stop
    log.info("listening on http://%s:%d (OpenAPI at /docs); loading %s", host, port, config.model_name_or_path)
    server.run()
    error = app.state.load_error
    if error is not None:
        if isinstance(error, BadInputError):
            raise error
        print(f"error: the model failed to load: {error}", file=sys.stderr)
        return 1
    return 0
