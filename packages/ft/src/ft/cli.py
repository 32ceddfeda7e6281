"""The ``ft`` command: every installed library's verbs under one name.

Libraries register commands in the entry-point group ``ft.commands`` (name -> a
``ft_core.Command`` or ``ft_core.Group``). This is the only discovery by entry points in the
toolkit: it lets a user install one library alone and still get its verbs under ``ft``.

Example:
    $ ft version
    $ ft data validate my_dataset --dataset-dir data
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import platform
import sys
from collections.abc import Sequence

from ft_core import Command, Group, apply_torch_env_defaults, get_logger
from ft_core.runinfo import FT_LIBRARIES, package_version

from . import __version__

ENTRY_POINT_GROUP = "ft.commands"


def _print_versions(args: argparse.Namespace) -> int:
    for name in FT_LIBRARIES:
        version = package_version(name)
        print(f"{name:16s} {version if version is not None else 'not installed'}")
    return 0


version_command = Command("version", "Print the version of every ft library.", _print_versions,
                          example="ft version")


def _torch_lines() -> list[tuple[str, str]]:
    try:
        import torch
    except ImportError:
        return [("torch", "not installed")]
    rows = [("torch", torch.__version__)]
    if torch.cuda.is_available():
        rows.append(("CUDA", f"available, {torch.version.cuda}"))
        for i in range(torch.cuda.device_count()):
            rows.append((f"GPU {i}", torch.cuda.get_device_name(i)))
    else:
        rows.append(("CUDA", "not available (CPU only)"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        rows.append(("MPS", "available"))
    return rows


def _print_env(args: argparse.Namespace) -> int:
    rows: list[tuple[str, str]] = [
        ("ft", __version__),
        ("Platform", platform.platform()),
        ("Python", sys.version.split()[0]),
    ]
    rows += _torch_lines()
    for name in ("transformers", "peft", "trl", "datasets", "accelerate", "tokenizers", "safetensors",
                 "vllm", "deepspeed", "bitsandbytes", "liger-kernel", "flash-attn"):
        rows.append((name, package_version(name) or "not installed"))
    for key, value in rows:
        print(f"- {key}: {value}")
    return 0


env_command = Command("env", "Print the environment (Python, torch, CUDA, GPUs, library versions) for bug reports.",
                      _print_env, example="ft env")


def discover_commands() -> list[Command | Group]:
    """Load every ``ft.commands`` entry point; a broken library is reported, not fatal."""
    log = get_logger("ft.cli")
    found: dict[str, Command | Group] = {}
    for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
        except Exception as exc:  # one library failing to import must not hide the others
            log.warning("skipping 'ft %s' (%s): %s", ep.name, ep.value, exc)
            continue
        if ep.name in found:
            log.warning("two libraries register 'ft %s'; keeping the first", ep.name)
            continue
        if isinstance(obj, (Command, Group)):
            # Mount under the entry-point name: `ft data ...` for the group named "ft-data".
            if obj.name != ep.name:
                obj = _renamed(obj, ep.name)
            found[ep.name] = obj
    return list(found.values())


def _renamed(obj: Command | Group, name: str) -> Command | Group:
    if isinstance(obj, Group):
        return Group(name, obj.help, commands=list(obj.commands), version=obj.version, example=obj.example)
    import dataclasses

    return dataclasses.replace(obj, name=name)


def build_cli() -> Group:
    return Group("ft", "ft: fine-tune, merge, convert and serve large language models.",
                 commands=discover_commands(), version=__version__,
                 example="ft version   |   ft train docs/examples/quickstart.yaml")


def _workload(argv: Sequence[str]) -> str:
    """``serve`` when the command comes from ft-serve (its torch defaults differ), else ``train``.

    Read from the entry point's target without importing it: torch must not load yet.
    """
    from importlib.metadata import entry_points

    name = next((a for a in argv if not a.startswith("-")), None)
    for ep in entry_points(group="ft.commands"):
        if ep.name == name and ep.value.startswith("ft_serve"):
            return "serve"
    return "train"


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point of ``ft``."""
    args = list(sys.argv[1:] if argv is None else argv)
    apply_torch_env_defaults(_workload(args))  # before any library's commands load torch (see ft_core.torchenv)
    raise SystemExit(build_cli().main(argv))
