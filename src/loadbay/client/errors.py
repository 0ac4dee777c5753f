"""Typed client errors, each with the exit code DECISIONS.md gives it."""

from __future__ import annotations

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_CANCELLED = 4
EXIT_UNREACHABLE = 5

# The monitoring record's final `status` → the command's exit code.
STATUS_EXIT = {
    "success": EXIT_OK,
    "partially": EXIT_PARTIAL,
    "failed": EXIT_FAILED,
    "cancelled": EXIT_CANCELLED,
    # the import-job view's names for the same states
    "Completed": EXIT_OK,
    "Failed": EXIT_FAILED,
    "Cancelled": EXIT_CANCELLED,
}


class ClientError(Exception):
    """A problem reported in one line on stderr; `exit_code` is what the command exits with."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(ClientError):
    """Flags that cannot work together, or a setting that is missing."""

    exit_code = EXIT_USAGE


class Unreachable(ClientError):
    """Connection refused, a name that does not resolve, a timeout."""

    exit_code = EXIT_UNREACHABLE


class AuthFailed(ClientError):
    """401 or 403: the server is there but will not take this token for this."""

    exit_code = EXIT_UNREACHABLE

    def __init__(self, message: str, status: int, failed_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.failed_code = failed_code

    def __str__(self) -> str:
        code = f" ({self.failed_code})" if self.failed_code else ""
        return (
            f"{self.message}{code} [HTTP {self.status}]: the server refused the token; "
            "check --token, LOADBAY_TOKEN or `loadbay login`"
        )


class ServerError(ClientError):
    """Any other answer that is not a success: the envelope's message and failedCode."""

    def __init__(self, message: str, status: int, failed_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.failed_code = failed_code

    def __str__(self) -> str:
        code = f" ({self.failed_code})" if self.failed_code else ""
        return f"{self.message}{code} [HTTP {self.status}]"
