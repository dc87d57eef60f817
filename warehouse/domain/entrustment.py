"""Entrustment (quality) agreements for storage and transport (委托运输贮存质量协议)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from warehouse.domain import check_period, period_contains
from warehouse.domain.licences import DeviceClass
from warehouse.errors import InvalidRecordError


class LogisticsService(StrEnum):
    """What is done with goods: kept in a warehouse, or moved."""

    STORAGE = "storage"
    TRANSPORT = "transport"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {"storage": "贮存", "transport": "运输"}[self.value]


@dataclass(frozen=True, slots=True)
class EntrustmentAgreement:
    """A written quality agreement by which a client entrusts storage and/or transport to a 3PL.

    The scope is explicit: only the listed classes, warehouses and services are covered; an
    empty set covers nothing.
    """

    id: str
    client_id: str
    """The entrusting party (委托方), usually the goods' owner."""

    provider_id: str
    """The entrusted 3PL (受托方)."""

    valid_from: date
    valid_to: date | None
    classes: frozenset[DeviceClass] = field(default_factory=frozenset)
    warehouse_ids: frozenset[str] = field(default_factory=frozenset)
    services: frozenset[LogisticsService] = field(default_factory=frozenset)
    number: str | None = None
    """Agreement number as signed, if it has one."""

    def __post_init__(self) -> None:
        check_period("EntrustmentAgreement", self.valid_from, self.valid_to)
        if self.client_id == self.provider_id:
            raise InvalidRecordError(
                "EntrustmentAgreement",
                "provider_id",
                f"Expected a provider other than the client, got {self.provider_id!r}.",
            )

    def is_valid_on(self, on: date) -> bool:
        """Return whether the agreement is in force on ``on`` (inclusive period)."""
        return period_contains(self.valid_from, self.valid_to, on)

    def between(self, client_id: str, provider_id: str) -> bool:
        """Return whether the agreement binds this client to this provider."""
        return (self.client_id, self.provider_id) == (client_id, provider_id)

    def gaps(
        self, service: LogisticsService, device_class: DeviceClass, warehouse_id: str
    ) -> tuple[str, ...]:
        """Return "Expected X, got Y." sentences for each part of the scope not covered."""
        gaps = []
        if service not in self.services:
            gaps.append(
                f"Expected agreement {self.id} to cover {service}, got {_listed(self.services)}."
            )
        if device_class not in self.classes:
            gaps.append(
                f"Expected agreement {self.id} to cover class {device_class.roman}, "
                f"got {_listed(c.roman for c in self.classes)}."
            )
        if warehouse_id not in self.warehouse_ids:
            gaps.append(
                f"Expected agreement {self.id} to list warehouse {warehouse_id}, "
                f"got {_listed(self.warehouse_ids)}."
            )
        return tuple(gaps)


def _listed(values: Iterable[object]) -> str:
    items = sorted(str(v) for v in values)
    return ", ".join(items) if items else "none"
