"""Error types of the ft toolkit and the process exit code each one maps to.

Exit codes (ARCHITECTURE.md section 3): 0 success, 1 failure, 2 bad input (config, data,
arguments). Every error carries a one-line message that names the file, row or key and
what would be right; the CLI runner prints that line and exits with ``exit_code``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class FtError(Exception):
    """Base of every error the toolkit raises on purpose. Exit code 1.

    Example:
        >>> raise FtError("merge failed: tensor 'lm_head.weight' is NaN after TIES")
    """

    exit_code: int = EXIT_FAILURE


class BadInputError(FtError):
    """The user's input is wrong: config, data, arguments or files. Exit code 2."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(BadInputError):
    """A config file or a ``key=value`` override is wrong (unknown key, wrong type, bad value)."""


class DataError(BadInputError):
    """A dataset, a data file or one of its rows is wrong."""


class OutputExistsError(BadInputError):
    """The output directory is not empty and overwriting was not asked for."""


class UnsupportedError(BadInputError):
    """A feature was asked for that this machine or installation cannot provide (e.g. CUDA-only on CPU)."""


class SandboxUnavailableError(UnsupportedError):
    """This machine cannot isolate untrusted code (no usable namespaces, cannot drop root) and weak
    isolation was not allowed. Exit code 2.

    Example:
        >>> raise SandboxUnavailableError("no OS sandbox: bwrap not found; unshare: ...; "
        ...                               "set allow_weak_isolation=true to run with limits and an audit hook only")
    """
