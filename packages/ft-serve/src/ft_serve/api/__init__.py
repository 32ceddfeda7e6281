"""The OpenAI-compatible HTTP API of ft-serve (``ft api``).

Example:
    >>> from ft_serve.api import create_app, serve
    >>> serve(load_serve_config("api.yaml"), host="127.0.0.1", port=8000)
"""

from .app import create_app
from .server import resolve_bind, serve

__all__ = ["create_app", "resolve_bind", "serve"]
