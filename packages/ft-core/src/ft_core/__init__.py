"""ft-core: the foundation every ft library stands on.

Config loading with did-you-mean errors, the error hierarchy and exit codes, the CLI runner,
atomic output directories and files, sharded safetensors headers and indexes, ``run.json``
metadata, logging and progress.
"""

from .atomic import (
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
    UnsupportedError,
)
from .paths import ft_home
from .progress import get_logger, is_interactive, progress
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

__version__ = "0.1.0"

__all__ = [
    "DTYPE_BYTES", "EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_OK", "INDEX_NAME",
    "Arg", "BadInputError", "Checkpoint", "Command", "ConfigError", "DataError", "FtError", "Group",
    "OutputExistsError", "RunRecorder", "SafetensorsHeader", "TensorInfo", "UnsupportedError",
    "atomic_output_dir", "atomic_write_bytes", "atomic_write_json", "atomic_write_text",
    "check_output_dir", "closest_keys", "debug_enabled", "deep_merge", "describe_validation_error",
    "ft_home", "get_logger", "is_interactive", "library_versions", "load_config", "package_version",
    "parse_overrides", "parse_size", "plan_shards", "progress", "read_checkpoint", "read_config_file",
    "read_header", "run", "shard_file_names", "validate_config", "write_index", "write_run_json",
]
