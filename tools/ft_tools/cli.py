"""ft-build, the build tool of the ft workspace: run it as `uv run tools/ft-build <verb>`.

Verbs:
    graph                         print the library graph; fail on a cycle or a forbidden edge
    check                         graph + import-linter + every import declared
    affected --base REV           libraries changed since REV plus their dependents
    test [LIB ...|--affected]     each library's tests in its own exact environment, cached
    matrix [--affected]           JSON for a CI matrix (libraries x Python versions)
    build                         wheels, each installed alone outside the workspace
    version LIB --bump PART       bump one library, its CHANGELOG and its dependents' pins

Exit codes: 0 ok, 1 a check or test failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .affected import GitError, affected
from .build import BuildError, run_build
from .check import run_check
from .graph import check_graph, render, topo_order
from .testrun import run_tests, testable
from .version import BUMPS, bump_version
from .workspace import Workspace, WorkspaceError, find_root, load_workspace, normalize

PYTHONS = ("3.10", "3.11", "3.12", "3.13")
EXAMPLES = """examples:
  uv run tools/ft-build graph
  uv run tools/ft-build check
  uv run tools/ft-build affected --base origin/main
  uv run tools/ft-build test ft-core ft-data
  uv run tools/ft-build test --affected --base origin/main --python 3.12
  uv run tools/ft-build matrix --affected --base origin/main
  uv run tools/ft-build build
  uv run tools/ft-build version ft-data --bump minor
"""


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ft-build", description=__doc__.split("\n\n")[0],
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, help="workspace root (default: found from the current directory)")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    g = sub.add_parser("graph", help="print the library graph; fail on a cycle or a forbidden edge")
    g.add_argument("--json", action="store_true", help="print {library: [dependencies]} as JSON")

    c = sub.add_parser("check", help="graph + lint-imports + every import declared")
    c.add_argument("--no-lint-imports", action="store_true", help="skip import-linter (graph and scan only)")

    a = sub.add_parser("affected", help="libraries changed since REV plus their dependents")
    a.add_argument("--base", required=True, metavar="REV", help="git revision to compare with, e.g. origin/main")
    a.add_argument("--json", action="store_true", help="print a JSON list instead of one name a line")

    t = sub.add_parser("test", help="each library's tests alone, cached by content hash",
                       epilog="extra arguments after -- go to pytest, e.g. -- -m 'not slow'")
    t.add_argument("libs", nargs="*", metavar="LIB", help="libraries to test (default: all)")
    t.add_argument("--affected", action="store_true", help="only the libraries affected since --base")
    t.add_argument("--base", metavar="REV", help="git revision for --affected")
    t.add_argument("--no-cache", action="store_true", help="run even if an identical run passed before")
    t.add_argument("--python", help="Python version of the test environments, e.g. 3.12")
    t.add_argument("-j", "--jobs", type=int, default=1, help="libraries tested at once (default 1)")

    m = sub.add_parser("matrix", help="JSON {\"lib\": [...], \"python\": [...]} for a CI matrix")
    m.add_argument("--affected", action="store_true", help="only the libraries affected since --base")
    m.add_argument("--base", metavar="REV", help="git revision for --affected")
    m.add_argument("--python", nargs="+", default=list(PYTHONS), help=f"versions (default {' '.join(PYTHONS)})")

    b = sub.add_parser("build", help="build wheels; install each alone outside the workspace; --help")
    b.add_argument("-j", "--jobs", type=int, default=2, help="venvs set up at once (default 2)")
    b.add_argument("--keep", action="store_true", help="keep the temporary venvs and print where")
    b.add_argument("--python", help="interpreter for the venvs (default: the one running ft-build)")

    v = sub.add_parser("version", help="bump one library, its CHANGELOG and the pins on it")
    v.add_argument("lib", metavar="LIB")
    v.add_argument("--bump", required=True, choices=BUMPS)
    v.add_argument("--no-lock", action="store_true", help="do not run `uv lock` afterwards")
    return p


def _libs(ws: Workspace, names: list[str]) -> list[str]:
    out = []
    for n in names:
        name = normalize(n)
        if name not in ws.members:
            raise UsageError(f"unknown library {n!r}; the workspace has: {', '.join(ws.members)}")
        out.append(name)
    return out


def _selected(ws: Workspace, args: argparse.Namespace) -> list[str]:
    if args.affected:
        if not args.base:
            raise UsageError("--affected needs --base REV (e.g. --base origin/main)")
        hit = set(affected(ws, args.base))
        return [n for n in testable(ws) if n in hit]
    return testable(ws)


def _dispatch(ws: Workspace, args: argparse.Namespace, rest: list[str]) -> int:
    if args.verb == "graph":
        problems = check_graph(ws)
        if args.json:
            print(json.dumps({n: list(ws.members[n].runtime_deps) for n in topo_order(ws)}, indent=1))
        else:
            print(render(ws))
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        return 1 if problems else 0
    if args.verb == "check":
        problems = run_check(ws, lint=not args.no_lint_imports)
        print(f"check: {'ok' if not problems else f'FAILED, {len(problems)} problem(s)'}")
        return 1 if problems else 0
    if args.verb == "affected":
        names = affected(ws, args.base)
        print(json.dumps(names) if args.json else "\n".join(names))
        return 0
    if args.verb == "test":
        if args.libs and args.affected:
            raise UsageError("give libraries or --affected, not both")
        libs = _libs(ws, args.libs) if args.libs else _selected(ws, args)
        if not libs:
            print("nothing to test")
            return 0
        results = run_tests(ws, libs, python=args.python, use_cache=not args.no_cache,
                            jobs=args.jobs, pytest_args=rest)
        return 0 if all(r.ok for r in results) else 1
    if args.verb == "matrix":
        print(json.dumps({"lib": _selected(ws, args), "python": args.python}))
        return 0
    if args.verb == "build":
        return 0 if run_build(ws, jobs=args.jobs, keep=args.keep, python=args.python) else 1
    if args.verb == "version":
        bump_version(ws, _libs(ws, [args.lib])[0], args.bump, lock=not args.no_lock)
        return 0
    raise UsageError(f"unknown verb {args.verb}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    args = _parser().parse_args(argv)
    if rest and args.verb != "test":
        print("error: arguments after -- are only for `test` (they go to pytest)", file=sys.stderr)
        return 2
    try:
        ws = load_workspace(args.root or find_root(Path.cwd()))
        return _dispatch(ws, args, rest)
    except (UsageError, WorkspaceError, GitError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
