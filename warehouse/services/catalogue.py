"""The device catalogue: register devices with their certificates and package levels.

DIs are checked by issuing agency: GS1 DIs must be GTIN-14 with a correct mod-10 check digit
(8, 12 and 13-digit GTINs are zero-padded to 14, as GS1 prescribes); HIBC (``+…``) and MA
(``MA.…``) DIs are stored as given, since their check characters are not reliably public.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from udi.checksums import gs1_mod10
from warehouse.domain.catalogue import (
    Catalogue,
    DeviceRecord,
    PackageEntry,
    ProductionIdentifiers,
    RegistrationCertificate,
    SpecialRegime,
)
from warehouse.domain.codes import DivisionCode, UnifiedSocialCreditCode
from warehouse.domain.licences import DeviceClass
from warehouse.domain.organisations import Organisation, OrgRole
from warehouse.domain.roles import Principal
from warehouse.domain.warehouses import StorageConditions
from warehouse.errors import InvalidRecordError, VersionChainError
from warehouse.ids import new_id
from warehouse.repository import devices as rows
from warehouse.repository import organisations as org_rows
from warehouse.repository.devices import StoredDevice, StoredPackage
from warehouse.repository.pages import Page, PageRequest
from warehouse.services import read_transaction, today, write_transaction
from warehouse.services import versions as versioning
from warehouse.services.access import require_writer
from warehouse.services.errors import Conflict, FieldError, NotFound, ValidationFailed
from warehouse.services.validation import Checker, build
from warehouse.services.versions import Versioned

ENTITY = "device"
CHANGEABLE = frozenset(
    {
        "name",
        "model_spec",
        "device_class",
        "category",
        "implantable",
        "label_pi",
        "storage",
        "insurance_code",
        "regimes",
    }
)
"""Fields a new version of a catalogue record may change; the DI and registrant never do.

Certificates change by their own versions (:func:`add_certificate`)."""

_HIBC_DI = re.compile(r"^\+[A-Z][A-Z0-9]{3}[A-Z0-9]{1,18}[0-9][A-Z0-9$/+%. -]?$")
_MA_DI = re.compile(r"^MA\.[0-9]{3}\.M0\.[0-9]{6}\.[A-Za-z0-9]+$")


@dataclass(frozen=True, slots=True)
class NewCertificate:
    """A registration certificate or filing version as printed."""

    number: str
    valid_from: date
    valid_to: date | None = None


@dataclass(frozen=True, slots=True)
class NewPackage:
    """A package level: ``package_di`` holds ``quantity`` x ``content_di``."""

    package_di: str
    content_di: str
    quantity: int
    level: str | None = None


@dataclass(frozen=True, slots=True)
class NewDevice:
    """A device record to add to the catalogue."""

    di: str
    name: str
    model_spec: str
    device_class: DeviceClass
    registrant_id: uuid.UUID
    certificates: tuple[NewCertificate, ...] = ()
    category: str | None = None
    implantable: bool = False
    label_pi: ProductionIdentifiers = field(default_factory=ProductionIdentifiers)
    storage: StorageConditions | None = None
    insurance_code: str | None = None
    regimes: frozenset[SpecialRegime] = frozenset()
    packages: tuple[NewPackage, ...] = ()
    effective_from: date | None = None
    """First day of the record's first version; default today (China)."""


def parse_di(text: str, field_name: str = "di") -> tuple[str, str]:
    """Return ``(issuer, di)`` for a DI, the GS1 ones normalised to 14 digits.

    Raises:
        ValidationFailed: Naming ``field_name``, with what was expected.
    """
    value = text.strip()
    if value.isascii() and value.isdigit():
        return "gs1", _gtin14(value, field_name)
    if _HIBC_DI.match(value):
        return "hibc", value
    if _MA_DI.match(value):
        return "ma", value
    raise ValidationFailed(
        "device",
        [
            FieldError(
                field_name,
                "di.issuer",
                "Expected a GS1 GTIN-14, an HIBC DI (+LIC…) or an MA DI (MA.156.M0.…), "
                f"got {value!r}.",
            )
        ],
    )


def _gtin14(digits: str, field_name: str) -> str:
    if len(digits) in (8, 12, 13):
        digits = digits.zfill(14)
    if len(digits) != 14:
        raise ValidationFailed(
            "device",
            [
                FieldError(
                    field_name,
                    "gs1.length",
                    f"Expected a GTIN of 8, 12, 13 or 14 digits, got {len(digits)} digits.",
                )
            ],
        )
    expected = gs1_mod10(digits[:13])
    if int(digits[13]) != expected:
        raise ValidationFailed(
            "device",
            [
                FieldError(
                    field_name,
                    "gs1.check_digit",
                    f"Expected check digit {expected}, got {digits[13]}.",
                )
            ],
        )
    return digits


def validate(new: NewDevice) -> StoredDevice:
    """Return the catalogue record to store, or raise ValidationFailed with every bad field."""
    errors: list[FieldError] = []
    issuer, di = _collect(errors, lambda: parse_di(new.di), ("", ""))
    packages = [_package(errors, index, package) for index, package in enumerate(new.packages)]
    certificates = _certificates(errors, new.certificates)
    if errors:
        raise ValidationFailed("device", errors)
    try:
        record = DeviceRecord(
            di=di,
            name=new.name.strip(),
            model_spec=new.model_spec.strip(),
            device_class=new.device_class,
            registrant_id=str(new.registrant_id),
            certificates=certificates,
            category=new.category,
            implantable=new.implantable,
            label_pi=new.label_pi,
            storage=new.storage,
            insurance_code=new.insurance_code,
            regimes=new.regimes,
        )
        stored = StoredDevice(str(new_id()), issuer, record, tuple(p for p in packages if p))
        _check_hierarchy(stored)
    except InvalidRecordError as error:
        raise ValidationFailed(
            "device", [FieldError(error.field, error.code, error.detail)]
        ) from None
    return stored


def create(session: Session, principal: Principal, new: NewDevice) -> StoredDevice:
    """Add a device to the catalogue.

    Raises:
        ValidationFailed: Unknown registrant, a bad DI, certificate or package level.
        PermissionDenied: Unless the caller is an admin or the registrant's org_manager.
        Conflict: If the DI or a package DI is already in the catalogue.
    """
    with write_transaction(session):
        if org_rows.get(session, new.registrant_id) is None:
            raise ValidationFailed(
                "device",
                [
                    FieldError(
                        "registrant_id",
                        "reference.unknown",
                        f"Expected an existing organisation, got {new.registrant_id}.",
                    )
                ],
            )
        require_writer(principal, new.registrant_id, "device")
        stored = validate(new)
        insert_new(
            session,
            stored,
            effective_from=new.effective_from or today(),
            recorded_by=principal.token_id,
        )
    return stored


def insert_new(
    session: Session,
    stored: StoredDevice,
    *,
    effective_from: date,
    recorded_by: uuid.UUID | None = None,
) -> None:
    """Insert in the caller's transaction, refusing a DI already in the catalogue."""
    dis = [stored.record.di, *(p.entry.package_di for p in stored.packages)]
    taken = rows.taken_dis(session, dis)
    if taken:
        raise Conflict(
            "device.duplicate_di",
            f"Expected DIs new to the catalogue, got {', '.join(sorted(taken))} already there.",
            {"dis": sorted(taken)},
        )
    rows.insert(session, stored, effective_from=effective_from, recorded_by=recorded_by)


def add_certificate(
    session: Session,
    principal: Principal,
    device_id: uuid.UUID,
    new: NewCertificate,
    effective_from: date | None = None,
) -> StoredDevice:
    """Add a certificate version (renewal or change) superseding the latest one.

    Raises:
        NotFound: If the device does not exist.
        PermissionDenied: Unless the caller is an admin or the registrant's org_manager.
        ValidationFailed: If the version does not start after the latest one.
    """
    with write_transaction(session):
        device = rows.get(session, device_id)
        if device is None:
            raise NotFound("device", device_id)
        require_writer(principal, device.record.registrant_id, "device")
        latest = device.record.certificates[-1] if device.record.certificates else None
        certificate = _certificate(new, latest.id if latest else None, effective_from)
        try:
            record = dataclasses.replace(
                device.record, certificates=(*device.record.certificates, certificate)
            )
        except (InvalidRecordError, VersionChainError) as error:
            raise ValidationFailed(
                "certificate", [FieldError("effective_from", error.code, str(error))]
            ) from None
        rows.insert_certificate(session, device_id, certificate)
    return StoredDevice(device.id, device.issuer, record, device.packages)


def supersede(
    session: Session,
    principal: Principal,
    device_id: uuid.UUID,
    effective_from: date,
    changes: Mapping[str, Any],
    supersedes: uuid.UUID | None = None,
) -> Versioned[StoredDevice]:
    """Add a version of a catalogue record in effect from ``effective_from``.

    Args:
        changes: New values of :data:`CHANGEABLE` fields; others are copied.
        supersedes: The version the caller means to replace, if it names one.

    Raises:
        NotFound: If the device does not exist.
        PermissionDenied: Unless the caller is an admin or the registrant's org_manager.
        Conflict: ``version.not_latest`` if ``supersedes`` is not the latest version.
        ValidationFailed: An invalid change, or ``effective_from`` not after the latest
            version's.
    """
    with write_transaction(session):
        device = _get(session, device_id)
        require_writer(principal, device.record.registrant_id, "device")
        return versioning.supersede(
            session,
            principal,
            ENTITY,
            device_id,
            device,
            effective_from=effective_from,
            supersedes=supersedes,
            changes=changes,
            allowed=CHANGEABLE,
            apply=lambda values: _changed(device, values),
            snapshot=rows.values,
            update=rows.update,
        )


def _changed(device: StoredDevice, values: dict[str, Any]) -> StoredDevice:
    for text_field in ("name", "model_spec"):
        if text_field in values:
            values[text_field] = values[text_field].strip()
    record = build("device", lambda: dataclasses.replace(device.record, **values))
    return StoredDevice(device.id, device.issuer, record, device.packages)


def get_versioned(session: Session, device_id: uuid.UUID) -> Versioned[StoredDevice]:
    """The catalogue record as it stands (its latest version), with that version.

    Raises:
        NotFound: If there is none with that id.
    """
    with read_transaction(session):
        return versioning.current(session, ENTITY, _get(session, device_id), device_id)


def as_of(session: Session, device_id: uuid.UUID, on: date) -> Versioned[StoredDevice]:
    """The version of a catalogue record in effect on ``on`` (with every certificate).

    Raises:
        NotFound: If the device does not exist or had no version yet on ``on``.
    """
    with read_transaction(session):
        device = _get(session, device_id)
        return versioning.as_of(session, ENTITY, device_id, on, _decoder(device))


def history(session: Session, device_id: uuid.UUID) -> list[Versioned[StoredDevice]]:
    """Every version of a catalogue record, oldest first.

    Raises:
        NotFound: If the device does not exist.
    """
    with read_transaction(session):
        device = _get(session, device_id)
        return versioning.history(session, ENTITY, device_id, device, _decoder(device))


def version(
    session: Session, device_id: uuid.UUID, version_id: uuid.UUID
) -> Versioned[StoredDevice]:
    """One version of a catalogue record.

    Raises:
        NotFound: If the device is unknown or has no such version.
    """
    with read_transaction(session):
        device = _get(session, device_id)
        return versioning.one(session, ENTITY, device_id, version_id, _decoder(device))


def _get(session: Session, device_id: uuid.UUID) -> StoredDevice:
    device = rows.get(session, device_id)
    if device is None:
        raise NotFound("device", device_id)
    return device


def _decoder(device: StoredDevice) -> Callable[[versioning.Version], StoredDevice]:
    def decode(version: versioning.Version) -> StoredDevice:
        record = rows.record_from_version(version, device.record.certificates)
        return StoredDevice(device.id, device.issuer, record, device.packages)

    return decode


def get(session: Session, device_id: uuid.UUID) -> StoredDevice:
    """Return a catalogue record (public register data).

    Raises:
        NotFound: If there is none with that id.
    """
    with read_transaction(session):
        device = rows.get(session, device_id)
    if device is None:
        raise NotFound("device", device_id)
    return device


def list_page(
    session: Session,
    page: PageRequest,
    *,
    di: str | None = None,
    registrant_id: uuid.UUID | None = None,
    device_class: DeviceClass | None = None,
    implantable: bool | None = None,
) -> Page[StoredDevice]:
    """One page of the catalogue; ``di`` matches a device DI or one of its package DIs."""
    with read_transaction(session):
        return rows.list_page(
            session,
            page,
            di=di.strip() if di else None,
            registrant_id=registrant_id,
            device_class=device_class,
            implantable=implantable,
        )


def _collect(
    errors: list[FieldError], parse: Callable[[], tuple[str, str]], default: tuple[str, str]
) -> tuple[str, str]:
    try:
        return parse()
    except ValidationFailed as error:
        errors.extend(error.errors)
        return default


def _package(errors: list[FieldError], index: int, new: NewPackage) -> StoredPackage | None:
    prefix = f"packages[{index}]"
    before = len(errors)
    _, package_di = _collect(
        errors, lambda: parse_di(new.package_di, f"{prefix}.package_di"), ("", "")
    )
    _, content_di = _collect(
        errors, lambda: parse_di(new.content_di, f"{prefix}.content_di"), ("", "")
    )
    if len(errors) > before:
        return None
    try:
        return StoredPackage(PackageEntry(package_di, content_di, new.quantity), new.level)
    except InvalidRecordError as error:
        errors.append(FieldError(f"{prefix}.{error.field}", error.code, error.detail))
        return None


def _certificates(
    errors: list[FieldError], news: Iterable[NewCertificate]
) -> tuple[RegistrationCertificate, ...]:
    versions: list[RegistrationCertificate] = []
    for index, new in enumerate(news):
        try:
            versions.append(_certificate(new, versions[-1].id if versions else None, None))
        except InvalidRecordError as error:
            errors.append(
                FieldError(f"certificates[{index}].{error.field}", error.code, error.detail)
            )
    return tuple(versions)


def _certificate(
    new: NewCertificate, supersedes: str | None, effective_from: date | None
) -> RegistrationCertificate:
    return RegistrationCertificate(
        id=str(new_id()),
        number=new.number.strip(),
        valid_from=new.valid_from,
        valid_to=new.valid_to,
        effective_from=effective_from or new.valid_from,
        supersedes=supersedes,
    )


def _check_hierarchy(device: StoredDevice) -> None:
    # Every package level must unpack, level by level, down to this device's own DI.
    catalogue = Catalogue.of([device.record], [p.entry for p in device.packages])
    for index, package in enumerate(device.packages):
        base, _ = catalogue.base_units(package.entry.package_di)
        if base != device.record.di:
            raise InvalidRecordError(
                "device",
                f"packages[{index}].content_di",
                f"Expected package {package.entry.package_di} to unpack to DI "
                f"{device.record.di}, got {base}.",
            )


# Bulk import -------------------------------------------------------------------------------------

UNRESOLVED = uuid.UUID(int=0)
"""Placeholder registrant of an import draft, replaced once the credit code is resolved."""


@dataclass(frozen=True, slots=True)
class RegistrantRef:
    """A registrant as an import file names it: credit code and name."""

    credit_code: str
    name: str


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """One row or record of an import file, already read, with any reading errors."""

    number: int
    """Row (CSV, header = row 1) or record (XML/JSON, from 1) number, for the report."""

    device: NewDevice | None
    """The device with ``registrant_id`` :data:`UNRESOLVED`; None if reading failed."""

    registrant: RegistrantRef | None = None
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportIssue:
    """Why one record was not imported."""

    number: int
    field: str
    code: str
    message: str


@dataclass
class ImportReport:
    """What an import did, record by record."""

    imported: list[str] = field(default_factory=list)
    """DIs added."""

    skipped: list[tuple[int, str]] = field(default_factory=list)
    """(record number, DI) already in the catalogue: importing again changes nothing."""

    issues: list[ImportIssue] = field(default_factory=list)
    created_registrants: list[tuple[int, Organisation]] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """How many records had at least one issue."""
        return len({issue.number for issue in self.issues})


class _AlreadyPresent(Exception):
    """The record's DI is in the catalogue already: skip it, it is not an error."""


def import_records(session: Session, records: Iterable[ImportRecord]) -> ImportReport:
    """Import records one by one, each in its own savepoint, and commit the good ones once.

    A bad record never stops the others: its savepoint is rolled back and its issues are
    reported. Registrants unknown to the database are created from the credit code and name,
    with the jurisdiction of the registering authority (credit-code characters 3-8).
    """
    report = ImportReport()
    with write_transaction(session):
        for record in records:
            _import_one(session, record, report)
    return report


def _import_one(session: Session, record: ImportRecord, report: ImportReport) -> None:
    def reject(errors: Iterable[FieldError]) -> None:
        report.issues += [ImportIssue(record.number, e.field, e.code, e.message) for e in errors]

    if record.errors or record.device is None or record.registrant is None:
        reject(record.errors)
        return
    created: list[Organisation] = []
    try:
        with session.begin_nested():
            registrant_id = _resolve_registrant(session, record.registrant, created)
            stored = validate(dataclasses.replace(record.device, registrant_id=registrant_id))
            if rows.taken_dis(session, [stored.record.di]):
                raise _AlreadyPresent
            insert_new(session, stored, effective_from=today())
    except _AlreadyPresent:
        report.skipped.append((record.number, record.device.di))
    except ValidationFailed as error:
        reject(error.errors)
    except Conflict as error:
        reject([FieldError("packages", error.code, error.detail)])
    else:
        report.imported.append(stored.record.di)
        report.created_registrants += [(record.number, org) for org in created]


def _resolve_registrant(
    session: Session, ref: RegistrantRef, created: list[Organisation]
) -> uuid.UUID:
    check = Checker("device")
    code = check.parse("registrant_credit_code", UnifiedSocialCreditCode.parse, ref.credit_code)
    check.done()
    assert code is not None
    existing = org_rows.find_by_credit_code(session, code.value)
    if existing is not None:
        return uuid.UUID(existing.id)
    division = check.parse("registrant_credit_code", DivisionCode.parse, code.division)
    if not ref.name.strip():
        check.fail(
            "registrant_name",
            "field.required",
            f"Expected the name of new registrant {code}, got none.",
        )
    check.done()
    assert division is not None
    organisation = Organisation(
        str(new_id()), code, ref.name.strip(), division, frozenset({OrgRole.REGISTRANT})
    )
    org_rows.insert(session, organisation, effective_from=today())
    created.append(organisation)
    return uuid.UUID(organisation.id)
