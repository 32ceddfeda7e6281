"""``version LIB --bump patch|minor|major``: release one library's next version.

- ``packages/<LIB>/pyproject.toml``: ``version`` becomes the new one.
- ``packages/<LIB>/CHANGELOG.md``: the unreleased section (``## Unreleased`` or
  ``## X.Y.Z (unreleased)``) becomes ``## <new> (<UTC date>)`` and a fresh ``## Unreleased``
  section opens above it; without one, a section saying "No changes recorded." is added.
- The umbrella's exact pin (``ft-core==0.1.0``) follows. A sibling's range that no longer admits
  the new version (``ft-core>=0.1,<0.2`` after a minor bump) is moved to the new series
  (``>=0.2,<0.3``) and printed: its tests decide whether the move is sound (``affected``).
- ``uv lock`` records the new version (skip with ``--no-lock``).

Text is edited in place, line by line, so formatting and comments survive.

Example:
    $ uv run tools/ft-build version ft-core --bump minor
    ft-core 0.1.0 -> 0.2.0
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

from .graph import spec_admits
from .workspace import Workspace, requirement_name, requirement_spec

BUMPS = ("patch", "minor", "major")


def bumped(version: str, part: str) -> str:
    """``bumped("0.1.3", "minor") == "0.2.0"``."""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    if not m:
        raise ValueError(f"version {version!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = map(int, m.groups())
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    if part == "patch":
        return f"{major}.{minor}.{patch + 1}"
    raise ValueError(f"bump must be one of {', '.join(BUMPS)}, not {part!r}")


def series_spec(version: str) -> str:
    """The compatible range for a version under 0.x/semver: 0.2.0 -> ``>=0.2,<0.3``; 1.4.0 -> ``>=1.4,<2``."""
    major, minor = (int(x) for x in version.split(".")[:2])
    upper = f"0.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={major}.{minor},<{upper}"


def _set_project_version(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    pattern = re.compile(rf'^(version\s*=\s*")({re.escape(old)})(")', re.M)
    if not pattern.search(text):
        raise ValueError(f"{path}: no line version = \"{old}\"")
    path.write_text(pattern.sub(rf"\g<1>{new}\g<3>", text, count=1))


def update_changelog(path: Path, new: str, today: str) -> None:
    """Turn the unreleased section into the ``new`` release and open a new Unreleased section."""
    text = path.read_text() if path.exists() else f"# Changelog of {path.parent.name}\n"
    heading = re.compile(r"^## +(?:Unreleased|\S+ +\(unreleased\))[^\n]*$", re.M | re.I)
    release = f"## {new} ({today})"
    if heading.search(text):
        text = heading.sub(f"## Unreleased\n\n{release}", text, count=1)
    else:
        m = re.search(r"^## ", text, re.M)
        block = f"## Unreleased\n\n{release}\n\n- No changes recorded.\n\n"
        text = text[: m.start()] + block + text[m.start():] if m else text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def _update_dependents(ws: Workspace, lib: str, new: str) -> list[str]:
    changes = []
    for m in ws.members.values():
        path = m.path / "pyproject.toml"
        text = path.read_text()
        edited = text
        for req in [*m.dependencies, *(r for rs in m.extras.values() for r in rs)]:
            name, _ = requirement_name(req)
            spec = requirement_spec(req)
            if name != lib or spec_admits(spec, new):
                continue
            new_spec = f"=={new}" if spec.startswith("==") else series_spec(new)
            new_req = req.replace(spec, new_spec, 1)
            edited = edited.replace(f'"{req}"', f'"{new_req}"')
            changes.append(f"{ws.rel(path)}: {req} -> {new_req}")
        if edited != text:
            path.write_text(edited)
    return changes


def bump_version(ws: Workspace, lib: str, part: str, *, lock: bool = True,
                 today: str | None = None) -> str:
    """Bump ``lib``; returns the new version. Prints what changed."""
    m = ws.members[lib]
    new = bumped(m.version, part)
    _set_project_version(m.path / "pyproject.toml", m.version, new)
    update_changelog(m.path / "CHANGELOG.md", new, today or dt.datetime.now(dt.timezone.utc).date().isoformat())
    print(f"{lib} {m.version} -> {new}")
    for change in _update_dependents(ws, lib, new):
        print(f"  {change}")
    if lock:
        proc = subprocess.run(["uv", "lock"], cwd=ws.root, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"uv lock failed:\n{proc.stderr}")
        print("  uv.lock updated")
    return new
