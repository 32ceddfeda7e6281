"""ft-testing fixtures: data (owned by the library that needs them)."""

from __future__ import annotations
