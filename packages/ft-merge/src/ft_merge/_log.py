"""The ft-merge logger and a warn-once helper (a warning per distinct message, not per tensor)."""

from __future__ import annotations

from ft_core import get_logger

log = get_logger("ft.merge")
_seen: set[str] = set()


def warn_once(message: str) -> None:
    """Log ``message`` as a warning the first time it is seen in this process."""
    if message not in _seen:
        _seen.add(message)
        log.warning(message)
