"""The ft-merge logger and a warn-once helper (a warning per distinct message, not per tensor)."""

from __future__ import annotations

from ft_core import get_logger, is_interactive

log = get_logger("ft.merge")
_seen: set[str] = set()


def warn_once(message: str) -> None:
    """Log ``message`` as a warning the first time it is seen in this process."""
    if message not in _seen:
        _seen.add(message)
        log.warning(message)


def quiet_transformers() -> None:
    """No per-load tqdm bars from transformers when our own progress is plain log lines."""
    if not is_interactive():
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except Exception:  # progress bars are cosmetic
            pass
