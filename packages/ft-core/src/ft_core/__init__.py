"""ft-core: the foundation every ft library stands on.

Config loading with did-you-mean errors, the error hierarchy and exit codes, the CLI runner,
atomic output directories and files, sharded safetensors headers and indexes, ``run.json``
metadata, logging and progress, and the OS-level sandbox for untrusted generated code
(``run_untrusted``).

Names are imported lazily (PEP 562): ``from ft_core import read_checkpoint`` loads only the
modules it needs, so a tool that never loads a config does not pay for importing pydantic
(about a second of start-up on a busy machine).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Eager on purpose: the function ``progress`` shares its name with the submodule, and a lazy first
# import of the submodule would bind the module over the function on the package.
from .progress import ProgressCounter, get_logger, is_interactive, progress

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(["atomic_open", "atomic_output_dir", "atomic_write_bytes", "atomic_write_json", "atomic_write_text",
                     "check_output_dir"], "atomic"),
    **dict.fromkeys(["Arg", "Command", "Group", "debug_enabled", "run"], "cli"),
    **dict.fromkeys(["closest_keys", "deep_merge", "describe_validation_error", "flags_to_overrides", "load_config",
                     "parse_overrides",
                     "read_config_file", "validate_config"], "config"),
    **dict.fromkeys(["EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_OK", "BadInputError", "ConfigError", "DataError",
                     "FtError", "OutputExistsError", "SandboxUnavailableError", "UnsupportedError"], "errors"),
    "ft_home": "paths",
    **dict.fromkeys(["RunResult", "SandboxLimits", "run_untrusted"], "sandbox"),
    **dict.fromkeys(["SERVE_ENV_DEFAULTS", "TORCH_ENV_DEFAULTS", "apply_torch_env_defaults"], "torchenv"),
    **dict.fromkeys(["RunRecorder", "library_versions", "package_version", "write_run_json"], "runinfo"),
    **dict.fromkeys(["DTYPE_BYTES", "INDEX_NAME", "Checkpoint", "SafetensorsHeader", "TensorInfo", "parse_size",
                     "plan_shards", "read_checkpoint", "read_header", "shard_file_names", "write_index"],
                    "safetensors_index"),
}

__all__ = [
    "DTYPE_BYTES",
    "EXIT_BAD_INPUT",
    "EXIT_FAILURE",
    "EXIT_OK",
    "INDEX_NAME",
    "SERVE_ENV_DEFAULTS",
    "TORCH_ENV_DEFAULTS",
    "Arg",
    "BadInputError",
    "Checkpoint",
    "Command",
    "ConfigError",
    "DataError",
    "FtError",
    "Group",
    "OutputExistsError",
    "ProgressCounter",
    "RunRecorder",
    "RunResult",
    "SafetensorsHeader",
    "SandboxLimits",
    "SandboxUnavailableError",
    "TensorInfo",
    "UnsupportedError",
    "__version__",
    "apply_torch_env_defaults",
    "atomic_open",
    "atomic_output_dir",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_output_dir",
    "closest_keys",
    "debug_enabled",
    "deep_merge",
    "describe_validation_error",
    "flags_to_overrides",
    "ft_home",
    "get_logger",
    "is_interactive",
    "library_versions",
    "load_config",
    "package_version",
    "parse_overrides",
    "parse_size",
    "plan_shards",
    "progress",
    "read_checkpoint",
    "read_config_file",
    "read_header",
    "run",
    "run_untrusted",
    "shard_file_names",
    "validate_config",
    "write_index",
    "write_run_json",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        try:  # a submodule, e.g. ft_core.config
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # static analysers and IDEs see the eager imports
    from .atomic import (
        atomic_open,
        atomic_output_dir,
        atomic_write_bytes,
        atomic_write_json,
        atomic_write_text,
        check_output_dir,
    )
    from .cli import Arg, Command, Group, debug_enabled, run
    from .config import (
        closest_keys,
        deep_merge,
        describe_validation_error,
        load_config,
        parse_overrides,
        read_config_file,
        validate_config,
    )
    from .errors import (
        EXIT_BAD_INPUT,
        EXIT_FAILURE,
        EXIT_OK,
        BadInputError,
        ConfigError,
        DataError,
        FtError,
        OutputExistsError,
        SandboxUnavailableError,
        UnsupportedError,
    )
    from .paths import ft_home
    from .runinfo import RunRecorder, library_versions, package_version, write_run_json
    from .safetensors_index import (
        DTYPE_BYTES,
        INDEX_NAME,
        Checkpoint,
        SafetensorsHeader,
        TensorInfo,
        parse_size,
        plan_shards,
        read_checkpoint,
        read_header,
        shard_file_names,
        write_index,
    )
    from .sandbox import RunResult, SandboxLimits, run_untrusted
