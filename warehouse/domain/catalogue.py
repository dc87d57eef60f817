"""The device catalogue: UDI-DI records as published in UDID, with dated certificates.

A :class:`DeviceRecord` holds what UDID says about one DI: name, model/spec, class,
registrant, which production identifiers (PI) its label carries, storage conditions, the
medical-insurance consumable code and any special regime. Registration certificates
(注册证/备案凭证) are versioned like licences (see :mod:`warehouse.domain.licences`). Package
DIs point to the DI they contain and how many (:class:`PackageEntry`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from warehouse.domain import check_period, period_contains
from warehouse.domain.licences import DeviceClass, check_chain, versions_in_effect
from warehouse.domain.warehouses import StorageConditions
from warehouse.errors import InvalidRecordError

if TYPE_CHECKING:
    from udi import Udi


class ProductionIdentifier(StrEnum):
    """A production identifier (生产标识) a UDI may carry."""

    LOT = "lot"
    SERIAL = "serial"
    PRODUCTION_DATE = "production_date"
    EXPIRY_DATE = "expiry_date"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {
            "lot": "批号",
            "serial": "序列号",
            "production_date": "生产日期",
            "expiry_date": "失效日期",
        }[self.value]


@dataclass(frozen=True, slots=True)
class ProductionIdentifiers:
    """Which production identifiers are present: on a label (UDID flags) or in a scan."""

    lot: bool = False
    serial: bool = False
    production_date: bool = False
    expiry_date: bool = False

    @classmethod
    def of(cls, *present: ProductionIdentifier) -> ProductionIdentifiers:
        """Build the flags from the identifiers present."""
        return cls(**{identifier.value: True for identifier in present})

    @classmethod
    def from_udi(cls, udi: Udi) -> ProductionIdentifiers:
        """Return which identifiers a parsed :class:`udi.Udi` carried."""
        return cls(
            lot=bool(udi.lot),
            serial=bool(udi.serial),
            production_date=udi.production_date is not None,
            expiry_date=udi.expiry_date is not None,
        )

    @property
    def present(self) -> frozenset[ProductionIdentifier]:
        """The identifiers flagged present."""
        return frozenset(pi for pi in ProductionIdentifier if getattr(self, pi.value))


@dataclass(frozen=True, slots=True)
class PiComparison:
    """What a scan carried compared with what the label should carry."""

    missing: frozenset[ProductionIdentifier]
    """Required by the DI record but absent from the scan: the scan is incomplete."""

    unexpected: frozenset[ProductionIdentifier]
    """Present in the scan but not declared in UDID: the catalogue may be stale."""

    @property
    def complete(self) -> bool:
        """Whether every required identifier was carried (unexpected ones are only a warning)."""
        return not self.missing


def compare_production_identifiers(
    required: ProductionIdentifiers, carried: ProductionIdentifiers
) -> PiComparison:
    """Compare the PI a DI's label must carry with those a scan carried."""
    return PiComparison(
        missing=required.present - carried.present,
        unexpected=carried.present - required.present,
    )


class SpecialRegime(StrEnum):
    """Special regulatory regimes that tighten tracing (designated users, full trace)."""

    CLINICALLY_URGENT_IMPORT = "clinically_urgent_import"
    RARE_DISEASE = "rare_disease"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {"clinically_urgent_import": "临床急需进口", "rare_disease": "罕见病"}[self.value]


@dataclass(frozen=True, slots=True)
class RegistrationCertificate:
    """One version of a registration certificate or filing (注册证/备案凭证) of a device."""

    id: str
    number: str
    """As printed, e.g. 国械注准20193130001."""

    valid_from: date
    valid_to: date | None
    """Last valid day, inclusive; None for Class I filings, which do not expire."""

    effective_from: date | None = None
    """Date this version took effect; None means ``valid_from``."""

    supersedes: str | None = None

    def __post_init__(self) -> None:
        check_period("RegistrationCertificate", self.valid_from, self.valid_to)

    @property
    def effective_since(self) -> date:
        """Date this version took effect."""
        return self.valid_from if self.effective_from is None else self.effective_from

    def is_valid_on(self, on: date) -> bool:
        """Return whether ``on`` lies in the printed validity (inclusive)."""
        return period_contains(self.valid_from, self.valid_to, on)


@dataclass(frozen=True, slots=True)
class PackageEntry:
    """One level of a package hierarchy: ``package_di`` contains ``quantity`` x ``content_di``."""

    package_di: str
    content_di: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise InvalidRecordError(
                "PackageEntry", "quantity", f"Expected at least 1, got {self.quantity}."
            )
        if self.package_di == self.content_di:
            raise InvalidRecordError(
                "PackageEntry",
                "content_di",
                f"Expected a DI other than the package's, got {self.content_di!r}.",
            )


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """What UDID publishes about one device identifier (DI)."""

    di: str
    name: str
    model_spec: str
    """规格型号."""

    device_class: DeviceClass
    registrant_id: str
    """Organisation holding the registration (注册人/备案人)."""

    certificates: tuple[RegistrationCertificate, ...] = ()
    """Every version of the certificate, oldest first."""

    category: str | None = None
    """Classification catalogue code (e.g. ``13``), matched against licence scopes."""

    implantable: bool = False
    label_pi: ProductionIdentifiers = field(default_factory=ProductionIdentifiers)
    """Which production identifiers the label carries (UDID flags)."""

    storage: StorageConditions | None = None
    insurance_code: str | None = None
    """Medical-insurance consumable code (医保耗材编码), if any."""

    regimes: frozenset[SpecialRegime] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for index, certificate in enumerate(self.certificates):
            check_chain(self.certificates[:index], certificate)

    def certificate_as_of(self, on: date) -> RegistrationCertificate | None:
        """Return the certificate version in effect on ``on`` (valid or not), or None."""
        in_effect = versions_in_effect(self.certificates, on)
        return max(in_effect, key=lambda c: c.effective_since, default=None)

    def check_production_identifiers(self, carried: ProductionIdentifiers) -> PiComparison:
        """Compare a scan's production identifiers with this DI's label flags."""
        return compare_production_identifiers(self.label_pi, carried)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Device records by DI, and the package hierarchy above them."""

    devices: Mapping[str, DeviceRecord] = field(default_factory=lambda: MappingProxyType({}))
    packages: Mapping[str, PackageEntry] = field(default_factory=lambda: MappingProxyType({}))
    """Package DI -> what it contains."""

    @classmethod
    def of(
        cls, devices: Iterable[DeviceRecord], packages: Iterable[PackageEntry] = ()
    ) -> Catalogue:
        """Build a catalogue.

        Raises:
            InvalidRecordError: On a repeated DI, a package DI with two contents, or a package
                hierarchy that loops.
        """
        by_di: dict[str, DeviceRecord] = {}
        for device in devices:
            if device.di in by_di:
                raise InvalidRecordError(
                    "Catalogue", "devices", f"Expected each DI once, got {device.di!r} twice."
                )
            by_di[device.di] = device
        by_package: dict[str, PackageEntry] = {}
        for entry in packages:
            if entry.package_di in by_package:
                raise InvalidRecordError(
                    "Catalogue",
                    "packages",
                    f"Expected one content per package DI, got {entry.package_di!r} twice.",
                )
            by_package[entry.package_di] = entry
        catalogue = cls(MappingProxyType(by_di), MappingProxyType(by_package))
        for package_di in by_package:
            catalogue.base_units(package_di)  # raises on a loop
        return catalogue

    def base_units(self, di: str) -> tuple[str, int]:
        """Return the innermost DI a package resolves to and how many units it holds.

        A DI that is not a package is its own base unit: ``(di, 1)``.

        Raises:
            InvalidRecordError: If the package hierarchy loops.
        """
        quantity, seen = 1, [di]
        while di in self.packages:
            entry = self.packages[di]
            di, quantity = entry.content_di, quantity * entry.quantity
            if di in seen:
                raise InvalidRecordError(
                    "Catalogue",
                    "packages",
                    f"Expected a package hierarchy without loops, got {' > '.join([*seen, di])}.",
                )
            seen.append(di)
        return di, quantity

    def resolve(self, di: str) -> DeviceRecord | None:
        """Return the record for a DI, following package levels down to a known DI."""
        seen: set[str] = set()
        while di not in self.devices and di in self.packages and di not in seen:
            seen.add(di)
            di = self.packages[di].content_di
        return self.devices.get(di)
