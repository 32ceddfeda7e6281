"""A small argparse-based command framework shared by every ft CLI.

Each library defines ``Command`` objects (one verb each) gathered in a ``Group``; its console
script calls ``group.main()`` and the umbrella ``ft`` mounts the same objects found through the
``ft.commands`` entry-point group. ``run`` applies the exit codes of :mod:`ft_core.errors`:
an ``FtError`` prints one line (``error: ...``) and exits with its code; the traceback is shown
only with ``--debug`` or ``FT_DEBUG=1``.

Example:
    >>> def hello(args): print("hi", args.name)
    >>> cli = Group("ft-demo", "Demo.", version="0.1.0", commands=[
    ...     Command("hello", "Say hello.", hello, arguments=[Arg("name")], example="ft-demo hello bob")])
    >>> cli.main(["hello", "bob"])
    hi bob
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, FtError


@dataclass(frozen=True)
class Arg:
    """One argparse argument: positional names or flags plus ``add_argument`` keywords."""

    names: tuple[str, ...]
    kwargs: dict[str, Any]

    def __init__(self, *names: str, **kwargs: Any) -> None:
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "kwargs", kwargs)


@dataclass
class Command:
    """One CLI verb: ``handler(args) -> int | None`` runs it; ``example`` is shown in ``--help``."""

    name: str
    help: str
    handler: Callable[[argparse.Namespace], int | None]
    arguments: Sequence[Arg] = ()
    example: str = ""
    description: str = ""
    # Accept LLaMA-Factory / fire style ``--key value`` for config keys: such pairs reach the
    # handler as ``key=value`` positionals (the command's own flags are left alone).
    flag_overrides: bool = False

    def configure(self, parser: argparse.ArgumentParser) -> None:
        for arg in self.arguments:
            parser.add_argument(*arg.names, **arg.kwargs)
        parser.set_defaults(_handler=self.handler)

    def build_parser(self, prog: str) -> argparse.ArgumentParser:
        parser = _parser(prog, self.description or self.help, self.example,
                         _FlagOverridesParser if self.flag_overrides else argparse.ArgumentParser)
        self.configure(parser)
        return parser

    def main(self, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
        return run(self.build_parser(prog or self.name), argv)


class _FlagOverridesParser(argparse.ArgumentParser):
    """A parser that reads ``--key value`` pairs it does not define as ``key=value`` (see ``Command``)."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if args is not None:
            from .config import flags_to_overrides

            args = flags_to_overrides(args, keep=self._option_string_actions)
        return super().parse_known_args(args, namespace)


@dataclass
class Group:
    """A named set of commands (and sub-groups), e.g. ``ft-data`` with ``validate``, ``preview``…"""

    name: str
    help: str
    commands: list[Command | Group] = field(default_factory=list)
    version: str | None = None
    example: str = ""

    def add(self, command: Command | Group) -> Command | Group:
        self.commands.append(command)
        return command

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(title="commands", metavar="COMMAND")
        default_class = sub._parser_class  # argparse has no per-parser class argument
        for cmd in self.commands:
            sub._parser_class = _FlagOverridesParser if getattr(cmd, "flag_overrides", False) else default_class
            child = sub.add_parser(
                cmd.name,
                help=cmd.help,
                description=getattr(cmd, "description", "") or cmd.help,
                epilog=_epilog(cmd.example),
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
            _add_common(child)
            cmd.configure(child)
        sub._parser_class = default_class
        parser.set_defaults(_handler=None, _parser=parser)

    def build_parser(self, prog: str | None = None) -> argparse.ArgumentParser:
        parser = _parser(prog or self.name, self.help, self.example)
        if self.version is not None:
            parser.add_argument("--version", action="version", version=f"{self.name} {self.version}")
        self.configure(parser)
        return parser

    def main(self, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
        return run(self.build_parser(prog), argv)


def _epilog(example: str) -> str | None:
    return f"example:\n  {example}" if example else None


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors (or set FT_DEBUG=1)")


def _parser(prog: str, description: str, example: str,
            parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = parser_class(
        prog=prog, description=description, epilog=_epilog(example),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(parser)
    return parser


def debug_enabled(args: argparse.Namespace | None = None) -> bool:
    """True when ``--debug`` was given or ``FT_DEBUG`` is set to a true value."""
    if args is not None and getattr(args, "debug", False):
        return True
    return os.environ.get("FT_DEBUG", "").lower() not in ("", "0", "false", "no")


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, call the selected handler and map errors to exit codes.

    Returns the exit code instead of exiting, so tests and the umbrella can call it.
    """
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse exits 2 on bad arguments and 0 on --help/--version
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_BAD_INPUT
    handler = getattr(args, "_handler", None)
    if handler is None:
        (getattr(args, "_parser", None) or parser).print_help()
        return EXIT_BAD_INPUT
    try:
        code = handler(args)
        return EXIT_OK if code is None else int(code)
    except FtError as exc:
        if debug_enabled(args):
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # an unexpected failure: one line unless debugging
        if debug_enabled(args):
            traceback.print_exc()
        else:
            print(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILURE


def exit_with(code: int) -> None:
    """``sys.exit`` helper for console scripts."""
    sys.exit(code)
