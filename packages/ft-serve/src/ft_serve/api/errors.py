"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}`` with the right status.

Example:
    >>> error_response(404, "The model `x` does not exist.").status_code
    404
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from ft_core import BadInputError, FtError

from ..engines import ContextLengthError, EngineNotReady, QueueFullError, UnknownModelError

__all__ = ["ApiError", "error_response", "status_of"]

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 405: "invalid_request_error", 413: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error", 500: "server_error", 503: "service_unavailable"}


class ApiError(Exception):
    """An error with an HTTP status, raised by handlers."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


def status_of(exc: Exception) -> int:
    """The HTTP status an engine or input error maps to."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, QueueFullError):
        return 429
    if isinstance(exc, ContextLengthError):
        return 413
    if isinstance(exc, UnknownModelError):
        return 404
    if isinstance(exc, EngineNotReady):
        return 503
    if isinstance(exc, (BadInputError, FtError, ValueError)):
        return 400
    return 500


def error_response(status: int, message: str, param: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": _TYPES.get(status, "invalid_request_error"),
                      "param": param, "code": status}}
    return JSONResponse(body, status_code=status, headers=headers)
