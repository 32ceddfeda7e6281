"""The workspace as the build tool sees it: members, their declared dependencies, their files.

Everything is read from the ``pyproject.toml`` files; they are the source of truth
(ARCHITECTURE.md §1). Only the standard library is used, so the tool runs before any
environment is synced.

Example:
    >>> ws = load_workspace(Path("/work/main"))
    >>> ws.members["ft-data"].runtime_deps
    ('ft-core', 'ft-templates')
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomllib arrived in 3.11
    import tomli as tomllib  # type: ignore[no-redef]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")
# Directories never part of a library's content (caches written by tools and tests).
_JUNK_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", ".mypy_cache"}


class WorkspaceError(Exception):
    """The workspace itself is malformed (missing pyproject, unreadable TOML)."""


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name: ``Foo_Bar.baz`` -> ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(req: str) -> tuple[str, tuple[str, ...]]:
    """Name and extras of a PEP 508 requirement string: ``"ft-models[embedded]>=0.1"`` ->
    ``("ft-models", ("embedded",))``."""
    m = _NAME.match(req)
    if not m:
        raise WorkspaceError(f"cannot parse requirement {req!r}")
    extras = tuple(e.strip() for e in (m.group(2) or "[]")[1:-1].split(",") if e.strip())
    return normalize(m.group(1)), extras


def requirement_spec(req: str) -> str:
    """The version specifier part of a requirement (markers dropped): ``"a>=1,<2; x"`` -> ``">=1,<2"``."""
    m = _NAME.match(req)
    rest = req[m.end():] if m else req
    return rest.split(";", 1)[0].strip().strip("()").strip()


@dataclass
class Member:
    """One workspace member (a library, the umbrella, or ft-testing)."""

    name: str
    path: Path  # absolute directory
    version: str
    module: str  # import name of its top-level package
    dependencies: tuple[str, ...]  # raw requirement strings of [project] dependencies
    extras: dict[str, tuple[str, ...]]  # optional-dependencies
    groups: dict[str, tuple[str, ...]]  # dependency-groups (plain strings only)
    scripts: dict[str, str]
    sources: dict[str, dict]
    published: bool
    runtime_deps: tuple[str, ...] = ()  # internal members from dependencies + extras
    test_deps: tuple[str, ...] = ()  # internal members from the "test" dependency group

    @property
    def src(self) -> Path:
        return self.path / "src" / self.module

    @property
    def tests(self) -> Path:
        return self.path / "tests"

    def declared(self, *, with_extras: bool) -> set[str]:
        """Normalized names of the declared third-party and internal dependencies."""
        names = {requirement_name(r)[0] for r in self.dependencies}
        if with_extras:
            for reqs in self.extras.values():
                names |= {requirement_name(r)[0] for r in reqs}
        return names


@dataclass
class Workspace:
    root: Path
    members: dict[str, Member]  # by normalized distribution name, sorted by name
    dependency_metadata: list[dict] = field(default_factory=list)
    # [tool.uv] conflicts: sets of extras/groups that uv resolves apart (ft-serve[vllm] vs dev)
    conflicts: list[list[dict]] = field(default_factory=list)

    def conflicting_extras(self) -> list[str]:
        """Names of the extras in a declared conflict (left out of a whole-workspace export)."""
        return sorted({item["extra"] for group in self.conflicts for item in group if "extra" in item})

    def module_to_member(self) -> dict[str, str]:
        return {m.module: m.name for m in self.members.values()}

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise WorkspaceError(f"{path}: missing") from None
    except tomllib.TOMLDecodeError as e:
        raise WorkspaceError(f"{path}: invalid TOML: {e}") from None


def _member_dirs(root: Path, ws: dict) -> list[Path]:
    members = ws.get("members", [])
    exclude = ws.get("exclude", [])
    dirs: set[Path] = set()
    for pattern in members:
        for d in root.glob(pattern):
            rel = d.relative_to(root).as_posix()
            if d.is_dir() and (d / "pyproject.toml").exists() and not any(
                    fnmatch.fnmatch(rel, ex) for ex in exclude):
                dirs.add(d)
    return sorted(dirs)


def _load_member(d: Path) -> Member:
    data = _read_toml(d / "pyproject.toml")
    project = data.get("project", {})
    if "name" not in project or "version" not in project:
        raise WorkspaceError(f"{d / 'pyproject.toml'}: [project] needs a static name and version")
    name = normalize(project["name"])
    classifiers = project.get("classifiers", [])
    groups = {g: tuple(r for r in reqs if isinstance(r, str))
              for g, reqs in data.get("dependency-groups", {}).items()}
    return Member(
        name=name,
        path=d.resolve(),
        version=project["version"],
        module=name.replace("-", "_"),
        dependencies=tuple(project.get("dependencies", [])),
        extras={k: tuple(v) for k, v in project.get("optional-dependencies", {}).items()},
        groups=groups,
        scripts=dict(project.get("scripts", {})),
        sources=dict(data.get("tool", {}).get("uv", {}).get("sources", {})),
        published=not any(c.startswith("Private ::") for c in classifiers),
    )


def load_workspace(root: Path) -> Workspace:
    """Read the root ``pyproject.toml`` and every member's."""
    root = root.resolve()
    data = _read_toml(root / "pyproject.toml")
    uv = data.get("tool", {}).get("uv", {})
    if "workspace" not in uv:
        raise WorkspaceError(f"{root / 'pyproject.toml'}: no [tool.uv.workspace]")
    members = [_load_member(d) for d in _member_dirs(root, uv["workspace"])]
    names = {m.name for m in members}
    for m in members:
        runtime = [requirement_name(r)[0] for r in m.dependencies]
        for reqs in m.extras.values():
            runtime += [requirement_name(r)[0] for r in reqs]
        m.runtime_deps = tuple(sorted({n for n in runtime if n in names}))
        test = [requirement_name(r)[0] for r in m.groups.get("test", ())]
        m.test_deps = tuple(sorted({n for n in test if n in names}))
    return Workspace(root=root, members={m.name: m for m in sorted(members, key=lambda m: m.name)},
                     dependency_metadata=list(uv.get("dependency-metadata", [])),
                     conflicts=list(uv.get("conflicts", [])))


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` whose pyproject has ``[tool.uv.workspace]``."""
    for d in [start.resolve(), *start.resolve().parents]:
        p = d / "pyproject.toml"
        if p.exists() and "workspace" in _read_toml(p).get("tool", {}).get("uv", {}):
            return d
    raise WorkspaceError(f"no uv workspace root at or above {start}")


def member_files(root: Path, directory: Path) -> list[Path]:
    """Files of a directory that belong to the source tree: git's tracked and untracked-but-not-
    ignored files, or (outside git) every file but caches. Sorted, absolute."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", str(directory)],
            cwd=root, capture_output=True, check=True).stdout
        files = {root / p for p in out.decode().split("\0") if p}
    except (subprocess.CalledProcessError, FileNotFoundError):
        files = {p for p in directory.rglob("*")
                 if p.is_file() and not (_JUNK_DIRS & set(p.relative_to(directory).parts))
                 and p.suffix != ".pyc"}
    return sorted(f for f in files if f.is_file())
