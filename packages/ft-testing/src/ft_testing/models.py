"""ft-testing fixtures: models (owned by the library that needs them)."""

from __future__ import annotations
