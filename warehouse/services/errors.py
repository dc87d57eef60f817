"""Errors the services raise; the HTTP edge maps each to one problem document.

They carry data (the record kind, the key, every field at fault) so that the edge never parses
a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from warehouse.errors import WarehouseError


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field at fault: its name, a stable code and an "Expected X, got Y." message."""

    field: str
    code: str
    message: str


class ValidationFailed(WarehouseError, ValueError):
    """A request or import row is well-formed but breaks a rule (422)."""

    code = "request.validation"

    def __init__(self, record: str, errors: Iterable[FieldError]) -> None:
        self.record = record
        self.errors = tuple(errors)
        super().__init__(
            f"Expected a valid {record}, got {len(self.errors)} invalid field(s): "
            + "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        )


class NotFound(WarehouseError, LookupError):
    """No such record, or one the caller may not see (404: existence is never revealed)."""

    code = "request.not_found"

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"Expected an existing {kind}, got none with id {key}.")
        self.kind = kind
        self.key = str(key)


class PermissionDenied(WarehouseError, PermissionError):
    """The caller sees the record but may not write it (403)."""

    code = "auth.not_own_organisation"


class Conflict(WarehouseError):
    """The write conflicts with what is stored (409)."""

    def __init__(self, code: str, detail: str, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = dict(extra or {})
