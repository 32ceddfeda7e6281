"""Where ft keeps its cache: ``FT_HOME`` or ``~/.cache/ft``.

Example:
    >>> ft_home() / "models"
    PosixPath('/home/me/.cache/ft/models')
"""

from __future__ import annotations

import os
from pathlib import Path


def ft_home() -> Path:
    """The ft cache root (``$FT_HOME``, default ``~/.cache/ft``); not created here."""
    return Path(os.environ.get("FT_HOME") or Path.home() / ".cache" / "ft").expanduser()
