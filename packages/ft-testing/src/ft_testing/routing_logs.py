"""ft-testing fixtures: routing logs (owned by the library that needs them)."""

from __future__ import annotations
