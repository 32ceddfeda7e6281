"""ASGI middleware of the API: bearer-key auth and a request-body size limit.

Written as plain ASGI (not Starlette's ``BaseHTTPMiddleware``) because that one buffers
streamed responses and hides client disconnects from the handlers, and a disconnected client
must free its batch slot at once.

Example:
    >>> app.add_middleware(GuardMiddleware, api_key="secret", max_body_bytes=4 << 20)
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from ft_core import get_logger

log = get_logger("ft.serve.api")

__all__ = ["GuardMiddleware"]

_OPEN_PATHS = ("/health", "/metrics", "/docs", "/openapi.json", "/redoc", "/ping")


async def _send_error(send: Any, status: int, message: str, kind: str) -> None:
    body = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": status}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Refuse requests without the API key (401) and bodies over ``max_body_bytes`` (413).

    The key is compared in constant time. Paths for probes and docs stay open.
    """

    def __init__(self, app: Any, api_key: str | None, max_body_bytes: int, root_path: str = "") -> None:
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self.root_path = root_path.rstrip("/")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if self.root_path and path.startswith(self.root_path):
            path = path[len(self.root_path):] or "/"
        if self.api_key is not None and not path.startswith(_OPEN_PATHS):
            headers = dict(scope.get("headers") or [])
            auth = headers.get(b"authorization", b"")
            given = auth[7:] if auth[:7].lower() == b"bearer " else b""
            if not hmac.compare_digest(given, self.api_key):
                await _send_error(send, 401, "Invalid API key. Send it as 'Authorization: Bearer <API_KEY>'.",
                                  "authentication_error")
                return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _send_error(send, 413, f"Request body of {int(declared)} bytes exceeds the limit of "
                                         f"{self.max_body_bytes} bytes (max_body_bytes).", "invalid_request_error")
            return
        seen = 0
        started = False
        refused = False

        async def limited_receive() -> Any:
            # Over the limit: answer 413 here and tell the app the client left. Raising instead
            # would not work: FastAPI turns any error while reading the body into its own 400.
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    refused = True
                    if not started:
                        await _send_error(send, 413, f"Request body exceeds the limit of {self.max_body_bytes} "
                                                     "bytes (max_body_bytes).", "invalid_request_error")
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:  # a bug, not bad input: logged with its traceback, answered in OpenAI's shape
            log.exception("unhandled error in %s", path)
            if not started:
                await _send_error(send, 500, "Internal server error.", "server_error")
