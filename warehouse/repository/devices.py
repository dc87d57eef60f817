"""The device catalogue: rows <-> :class:`~warehouse.domain.catalogue.DeviceRecord`.

Package entries are stored with the device record they belong to, so one query finds the
device for a package DI and one more loads its whole hierarchy.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.catalogue import (
    DeviceRecord,
    PackageEntry,
    ProductionIdentifiers,
    RegistrationCertificate,
    SpecialRegime,
)
from warehouse.domain.licences import DeviceClass
from warehouse.domain.warehouses import StorageConditions
from warehouse.ids import new_id
from warehouse.repository import versions
from warehouse.repository.pages import Page, PageRequest, paginate

DEV = tables.devices
CERT = tables.device_certificates
PACK = tables.device_packages


@dataclass(frozen=True, slots=True)
class StoredPackage:
    """A package level with the level name UDID published for it (中包装, 箱…)."""

    entry: PackageEntry
    level: str | None = None


@dataclass(frozen=True, slots=True)
class StoredDevice:
    """A catalogue record with its row id, issuing agency and package hierarchy."""

    id: str
    issuer: str
    record: DeviceRecord
    packages: tuple[StoredPackage, ...] = ()


def values(device: StoredDevice) -> dict[str, Any]:
    """Column values of a catalogue record (its versioned snapshot), id excluded."""
    record = device.record
    pi = record.label_pi
    storage = record.storage or StorageConditions()
    return {
        "di": record.di,
        "issuer": device.issuer,
        "name": record.name,
        "model_spec": record.model_spec,
        "device_class": record.device_class.value,
        "category": record.category,
        "registrant_id": uuid.UUID(record.registrant_id),
        "implantable": record.implantable,
        "label_lot": pi.lot,
        "label_serial": pi.serial,
        "label_production_date": pi.production_date,
        "label_expiry_date": pi.expiry_date,
        "min_celsius": storage.min_celsius,
        "max_celsius": storage.max_celsius,
        "max_relative_humidity": storage.max_relative_humidity,
        "insurance_code": record.insurance_code,
        "regimes": sorted(r.value for r in record.regimes),
    }


def insert(
    session: Session,
    device: StoredDevice,
    *,
    effective_from: date,
    recorded_by: uuid.UUID | None = None,
) -> None:
    """Insert a device, its certificate versions, its package levels and its first version."""
    record, device_id = device.record, uuid.UUID(device.id)
    session.execute(
        DEV.insert().values(id=device_id, created_at=datetime.now(UTC), **values(device))
    )
    versions.append(
        session,
        "device",
        device.id,
        values(device),
        effective_from=effective_from,
        recorded_by=recorded_by,
    )
    for certificate in record.certificates:
        insert_certificate(session, device_id, certificate)
    if device.packages:
        session.execute(
            PACK.insert(),
            [
                {
                    "id": new_id(),
                    "device_id": device_id,
                    "package_di": p.entry.package_di,
                    "content_di": p.entry.content_di,
                    "quantity": p.entry.quantity,
                    "level": p.level,
                }
                for p in device.packages
            ],
        )


def update(session: Session, device: StoredDevice) -> None:
    """Make ``device`` the current state of its row (the latest version)."""
    query = DEV.update().where(DEV.c.id == uuid.UUID(device.id))
    session.execute(query.values(**values(device)))


def record_from_version(
    version: versions.Version, certificates: tuple[RegistrationCertificate, ...]
) -> DeviceRecord:
    """The catalogue record as one of its versions recorded it, with these certificates."""
    data = version.data
    row = {
        **data,
        "min_celsius": versions.parse_decimal(data["min_celsius"]),
        "max_celsius": versions.parse_decimal(data["max_celsius"]),
    }
    return _to_record(row, certificates)


def insert_certificate(
    session: Session, device_id: uuid.UUID, certificate: RegistrationCertificate
) -> None:
    """Insert one certificate version."""
    session.execute(
        CERT.insert().values(
            id=uuid.UUID(certificate.id),
            device_id=device_id,
            supersedes=uuid.UUID(certificate.supersedes) if certificate.supersedes else None,
            number=certificate.number,
            valid_from=certificate.valid_from,
            valid_to=certificate.valid_to,
            effective_from=certificate.effective_since,
            created_at=datetime.now(UTC),
        )
    )


def taken_dis(session: Session, dis: Iterable[str]) -> set[str]:
    """Return which of ``dis`` are already a device DI or a package DI."""
    wanted = set(dis)
    if not wanted:
        return set()
    taken = set(session.execute(select(DEV.c.di).where(DEV.c.di.in_(wanted))).scalars())
    query = select(PACK.c.package_di).where(PACK.c.package_di.in_(wanted))
    return taken | set(session.execute(query).scalars())


def get(session: Session, device_id: uuid.UUID) -> StoredDevice | None:
    """Return the device with this row id, or None."""
    found = _load(session, select(DEV).where(DEV.c.id == device_id))
    return found[0] if found else None


_CERT_COLUMNS = [c.label(f"cert_{c.name}") for c in CERT.c]
_FIND_MANY = (
    select(
        DEV,
        *_CERT_COLUMNS,
        exists().where(PACK.c.device_id == DEV.c.id).label("has_packages"),
    )
    .outerjoin(CERT, CERT.c.device_id == DEV.c.id)
    .where(
        or_(
            DEV.c.di.in_(bindparam("dis", expanding=True)),
            DEV.c.id.in_(
                select(PACK.c.device_id).where(
                    PACK.c.package_di.in_(bindparam("dis", expanding=True))
                )
            ),
        )
    )
    .order_by(DEV.c.id, CERT.c.effective_from)
)
_PACKAGES_OF = (
    select(PACK)
    .where(PACK.c.device_id.in_(bindparam("ids", expanding=True)))
    .order_by(PACK.c.package_di)
)


def find_many_by_di(session: Session, dis: Iterable[str]) -> dict[str, StoredDevice | None]:
    """Like :func:`find_by_di` for many DIs at once: DI -> device (or None if unknown).

    Devices and their certificates come in one query (an outer join: a device has a few
    certificate versions at most); package levels in a second one, only if a device found
    has any. A movement batch calls this once instead of three queries per DI.
    """
    wanted = sorted(set(dis))
    if not wanted:
        return {}
    rows: dict[uuid.UUID, Mapping[str, Any]] = {}
    certificates: defaultdict[uuid.UUID, list[RegistrationCertificate]] = defaultdict(list)
    with_packages = []
    for row in session.execute(_FIND_MANY, {"dis": wanted}).mappings():
        device_id = row["id"]
        if device_id not in rows:
            rows[device_id] = row
            if row["has_packages"]:
                with_packages.append(device_id)
        if row["cert_id"] is not None:
            fields = {c.name: row[f"cert_{c.name}"] for c in CERT.c}
            certificates[device_id].append(_to_certificate(fields))
    packages: defaultdict[uuid.UUID, list[StoredPackage]] = defaultdict(list)
    if with_packages:
        for row in session.execute(_PACKAGES_OF, {"ids": with_packages}).mappings():
            entry = PackageEntry(row["package_di"], row["content_di"], row["quantity"])
            packages[row["device_id"]].append(StoredPackage(entry, row["level"]))
    found: dict[str, StoredDevice | None] = dict.fromkeys(wanted)
    for device_id, row in rows.items():
        device = StoredDevice(
            id=str(device_id),
            issuer=row["issuer"],
            record=_to_record(row, tuple(certificates[device_id])),
            packages=tuple(packages[device_id]),
        )
        for di in (row["di"], *(p.entry.package_di for p in device.packages)):
            if di in found:
                found[di] = device
    return found


def find_by_di(session: Session, di: str) -> StoredDevice | None:
    """Return the device whose DI or one of whose package DIs is ``di``, or None."""
    found = _load(session, select(DEV).where(_has_di(di)))
    return found[0] if found else None


def list_page(
    session: Session,
    page: PageRequest,
    *,
    di: str | None = None,
    registrant_id: uuid.UUID | None = None,
    device_class: DeviceClass | None = None,
    implantable: bool | None = None,
) -> Page[StoredDevice]:
    """One page of the catalogue, filtered."""
    query: Select[Any] = select(DEV)
    if di:
        query = query.where(_has_di(di))
    if registrant_id is not None:
        query = query.where(DEV.c.registrant_id == registrant_id)
    if device_class is not None:
        query = query.where(DEV.c.device_class == device_class.value)
    if implantable is not None:
        query = query.where(DEV.c.implantable == implantable)
    return paginate(session, query, DEV.c.id, page, lambda rows: _build(session, rows))


def _has_di(di: str) -> Any:
    in_package = exists().where(PACK.c.device_id == DEV.c.id, PACK.c.package_di == di)
    return or_(DEV.c.di == di, in_package)


def _load(session: Session, query: Select[Any]) -> list[StoredDevice]:
    return _build(session, session.execute(query).mappings().all())


def _build(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[StoredDevice]:
    ids = [row["id"] for row in rows]
    certificates: defaultdict[uuid.UUID, list[RegistrationCertificate]] = defaultdict(list)
    packages: defaultdict[uuid.UUID, list[StoredPackage]] = defaultdict(list)
    if ids:
        query = select(CERT).where(CERT.c.device_id.in_(ids)).order_by(CERT.c.effective_from)
        for row in session.execute(query).mappings():
            certificates[row["device_id"]].append(_to_certificate(row))
        query = select(PACK).where(PACK.c.device_id.in_(ids)).order_by(PACK.c.package_di)
        for row in session.execute(query).mappings():
            entry = PackageEntry(row["package_di"], row["content_di"], row["quantity"])
            packages[row["device_id"]].append(StoredPackage(entry, row["level"]))
    return [
        StoredDevice(
            id=str(row["id"]),
            issuer=row["issuer"],
            record=_to_record(row, tuple(certificates[row["id"]])),
            packages=tuple(packages[row["id"]]),
        )
        for row in rows
    ]


def _to_certificate(row: Mapping[str, Any]) -> RegistrationCertificate:
    return RegistrationCertificate(
        id=str(row["id"]),
        number=row["number"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        effective_from=row["effective_from"],
        supersedes=str(row["supersedes"]) if row["supersedes"] else None,
    )


def _to_record(
    row: Mapping[str, Any], certificates: tuple[RegistrationCertificate, ...]
) -> DeviceRecord:
    storage_values = (row["min_celsius"], row["max_celsius"], row["max_relative_humidity"])
    return DeviceRecord(
        di=row["di"],
        name=row["name"],
        model_spec=row["model_spec"],
        device_class=DeviceClass(row["device_class"]),
        registrant_id=str(row["registrant_id"]),
        certificates=certificates,
        category=row["category"],
        implantable=row["implantable"],
        label_pi=ProductionIdentifiers(
            lot=row["label_lot"],
            serial=row["label_serial"],
            production_date=row["label_production_date"],
            expiry_date=row["label_expiry_date"],
        ),
        storage=None
        if all(v is None for v in storage_values)
        else StorageConditions(*storage_values),
        insurance_code=row["insurance_code"],
        regimes=frozenset(SpecialRegime(r) for r in row["regimes"]),
    )
