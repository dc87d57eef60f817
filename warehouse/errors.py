"""Errors raised by the warehouse package.

Every error derives from :class:`WarehouseError` and carries the data that caused it, so the
HTTP edge can map it to one problem document without parsing the message. Messages follow the
"Expected X, got Y." pattern used across the project.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from warehouse.domain.ownership import OwnershipLink


class WarehouseError(Exception):
    """Base class for every error raised by the warehouse package."""

    code: str = "warehouse.error"
    """Stable dotted code; clients may switch on it."""


class InvalidCodeError(WarehouseError, ValueError):
    """A business code (credit code, division code…) failed to parse."""

    code = "code.invalid"

    def __init__(self, kind: str, value: str, message: str) -> None:
        super().__init__(f"Failed to parse {value!r} as {kind}: {message}")
        self.kind = kind
        """What the value was parsed as, e.g. ``unified social credit code``."""
        self.value = value
        """The text that was given."""
        self.detail = message
        """The "Expected X, got Y." sentence on its own."""


class InvalidCreditCodeError(InvalidCodeError):
    """A unified social credit code (GB 32100-2015) failed to parse."""

    code = "code.credit_code"

    def __init__(self, value: str, message: str) -> None:
        super().__init__("unified social credit code", value, message)


class InvalidDivisionCodeError(InvalidCodeError):
    """An administrative division code (GB/T 2260) or prefix failed to parse."""

    code = "code.division_code"

    def __init__(self, value: str, message: str) -> None:
        super().__init__("administrative division code", value, message)


class InvalidRecordError(WarehouseError, ValueError):
    """A domain record was built with a field that breaks its invariants."""

    code = "record.invalid"

    def __init__(self, record: str, field: str, message: str) -> None:
        super().__init__(f"Invalid {record}.{field}: {message}")
        self.record = record
        """Name of the record type, e.g. ``OwnershipLink``."""
        self.field = field
        """Name of the offending field."""
        self.detail = message


class VersionChainError(WarehouseError):
    """A new version of a licence or certificate does not continue its chain."""

    code = "version.chain"

    def __init__(self, version_id: str, message: str) -> None:
        super().__init__(f"Cannot add version {version_id!r}: {message}")
        self.version_id = version_id
        self.detail = message


class OwnershipCycleError(WarehouseError):
    """Adding an ownership link would make a company own itself on some date."""

    code = "ownership.cycle"

    def __init__(self, link: OwnershipLink, cycle: tuple[OwnershipLink, ...], since: date) -> None:
        path = " -> ".join([cycle[0].parent_id, *(step.child_id for step in cycle)])
        super().__init__(
            f"Cannot add {link.parent_id} -> {link.child_id}: "
            f"Expected no ownership cycle, got {path} on {since.isoformat()}."
        )
        self.link = link
        """The refused link."""
        self.cycle = cycle
        """Every link of the cycle, the refused one included, in order."""
        self.since = since
        """First date on which all links of the cycle are valid together."""


class OwnershipConflictError(WarehouseError):
    """Adding an ownership link would make holdings in a company inconsistent on some date."""

    code = "ownership.conflict"

    def __init__(self, link: OwnershipLink, on: date, message: str) -> None:
        super().__init__(f"Cannot add {link.parent_id} -> {link.child_id}: {message}")
        self.link = link
        self.on = on
        """A date on which the conflict holds."""
        self.detail = message


class UnknownFactError(WarehouseError, LookupError):
    """The custody facts bundle lacks a record the rules need.

    The service layer loads the facts; this error means it loaded too little (or the request
    names an id that does not exist), never that a rule failed.
    """

    code = "custody.unknown_fact"

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"Expected a known {kind}, got {key!r}.")
        self.kind = kind
        """``organisation``, ``warehouse`` or ``device``."""
        self.key = key
