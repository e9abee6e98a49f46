"""One error family, with the same codes as the TypeScript library."""

from __future__ import annotations

from typing import Any, Mapping, Optional


class SeedCoreError(Exception):
    """An error with a stable code, e.g. ``SEEDCORE_INVALID_INPUT`` or ``SEEDCORE_NOT_FOUND``."""

    def __init__(self, code: str, message: str, details: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: Mapping[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return f"SeedCoreError({self.code!r}, {self.message!r})"


def invalid_input(message: str, **details: Any) -> SeedCoreError:
    return SeedCoreError("SEEDCORE_INVALID_INPUT", message, details)


class PermanentError(Exception):
    """Raise from a handler to fail the task at once, without further attempts."""
