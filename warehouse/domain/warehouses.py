"""Warehouses, the locations inside them, and storage conditions.

Which licence registers a warehouse's address is not stored on the warehouse: it is read from
the licence versions (:meth:`~warehouse.domain.licences.LicenceRegister.registering`), which
are dated, so the answer is right "as of" any day.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from warehouse.domain.codes import DivisionCode
from warehouse.errors import InvalidRecordError


class WarehouseKind(StrEnum):
    """How a warehouse stands towards its operator's licences."""

    REGISTERED = "registered"
    """Address registered on the operator's licence or filing (许可/备案库房)."""

    OFF_SITE = "off_site"
    """A manufacturer's or distributor's warehouse away from its registered site (异地库)."""

    THIRD_PARTY_LOGISTICS = "third_party_logistics"
    """Operated by a 3PL for its clients (第三方物流库房)."""

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {
            "registered": "注册库房",
            "off_site": "异地库",
            "third_party_logistics": "第三方物流库房",
        }[self.value]


class LocationPurpose(StrEnum):
    """What a location inside a warehouse is for (GSP 分区管理)."""

    NORMAL = "normal"
    QUARANTINE = "quarantine"
    """Pending acceptance or under review (待验区)."""

    RETURNS = "returns"
    RECALLED = "recalled"
    DAMAGED = "damaged"
    """Non-conforming or damaged goods (不合格品区)."""

    DEPARTMENT = "department"
    """A hospital department's store (科室二级库): goods here are issued for use on patients."""

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {
            "normal": "合格品区",
            "quarantine": "待验区",
            "returns": "退货区",
            "recalled": "召回区",
            "damaged": "不合格品区",
            "department": "科室二级库",
        }[self.value]

    @property
    def pickable(self) -> bool:
        """Whether goods here may be picked for sale or use: only the normal area."""
        return self is LocationPurpose.NORMAL


@dataclass(frozen=True, slots=True)
class StorageConditions:
    """A temperature range (°C) and humidity ceiling; None means "not controlled"."""

    min_celsius: Decimal | None = None
    max_celsius: Decimal | None = None
    max_relative_humidity: int | None = None
    """Percent."""

    def __post_init__(self) -> None:
        if (
            self.min_celsius is not None
            and self.max_celsius is not None
            and self.max_celsius < self.min_celsius
        ):
            raise InvalidRecordError(
                "StorageConditions",
                "max_celsius",
                f"Expected at least min_celsius {self.min_celsius}, got {self.max_celsius}.",
            )

    def accommodates(self, required: StorageConditions) -> bool:
        """Return whether a place keeping these conditions satisfies ``required``.

        The place's guaranteed range must lie inside the required one; an uncontrolled bound
        satisfies only an unconstrained requirement.
        """
        return (
            _at_least(self.min_celsius, required.min_celsius)
            and _at_most(self.max_celsius, required.max_celsius)
            and _at_most(self.max_relative_humidity, required.max_relative_humidity)
        )


def _at_least(kept: Decimal | None, required: Decimal | None) -> bool:
    return required is None or (kept is not None and kept >= required)


def _at_most(kept: Decimal | int | None, required: Decimal | int | None) -> bool:
    return required is None or (kept is not None and kept <= required)


@dataclass(frozen=True, slots=True)
class Warehouse:
    """A warehouse (库房) operated by one organisation."""

    id: str
    operator_id: str
    """Organisation whose staff and equipment run the warehouse."""

    name: str
    address: str
    jurisdiction: DivisionCode
    """Division code of the address; the local regulator is found by its prefix."""

    kind: WarehouseKind
    storage: StorageConditions | None = None

    def within(self, prefix: str | DivisionCode) -> bool:
        """Return whether the warehouse lies in the jurisdiction ``prefix``."""
        return self.jurisdiction.within(prefix)


@dataclass(frozen=True, slots=True)
class Location:
    """A storage place inside a warehouse: zone, optional aisle and bin."""

    id: str
    warehouse_id: str
    zone: str
    aisle: str | None = None
    bin: str | None = None
    purpose: LocationPurpose = LocationPurpose.NORMAL
    department: str | None = None
    """Hospital department served (科室), for :attr:`LocationPurpose.DEPARTMENT` locations."""

    def __post_init__(self) -> None:
        if not self.zone.strip():
            raise InvalidRecordError("Location", "zone", "Expected a zone, got ''.")
        if self.bin is not None and self.aisle is None:
            raise InvalidRecordError(
                "Location", "aisle", f"Expected an aisle for bin {self.bin!r}, got None."
            )

    @property
    def code(self) -> str:
        """``zone-aisle-bin``, as printed on shelf labels."""
        return "-".join(part for part in (self.zone, self.aisle, self.bin) if part)
