"""Error types and the one mapping from error to exit code.

Every user-facing failure is a ``ShipctlError`` subclass; ``cli.main`` turns it into one line
on stderr and the exit code below. Nothing else in the code decides exit codes for errors.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # everything valid / delivered
    FAILED = 1  # an item invalid, rejected or not delivered; or an internal error
    USAGE = 2  # usage error, unreadable input, missing config: nothing was sent
    INTERRUPTED = 130  # Ctrl-C / SIGTERM


class ShipctlError(Exception):
    """A failure the user can act on: printed as one line, never as a traceback."""

    exit_code: int = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class UsageError(ShipctlError):
    """Bad flags or arguments."""

    exit_code = ExitCode.USAGE


class InputError(ShipctlError):
    """Input that cannot be read or parsed (file:line:column in the message)."""

    exit_code = ExitCode.USAGE


class ConfigError(ShipctlError):
    """Missing, unreadable or malformed configuration."""

    exit_code = ExitCode.USAGE
