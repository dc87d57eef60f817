"""Warehouses and locations: private records, seen only by those entitled (services.access).

Both change by superseding (:mod:`warehouse.services.versions`): a warehouse's name, address,
jurisdiction, kind and storage conditions (never its operator), a location's zone, aisle,
bin, purpose and department (never its warehouse).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from warehouse.domain.codes import DivisionCode
from warehouse.domain.licences import LicenceRegister
from warehouse.domain.roles import Principal
from warehouse.domain.warehouses import (
    Location,
    LocationPurpose,
    StorageConditions,
    Warehouse,
    WarehouseKind,
)
from warehouse.ids import new_id
from warehouse.repository import licences as licence_rows
from warehouse.repository import organisations as org_rows
from warehouse.repository import warehouses as rows
from warehouse.repository.licences import StoredLicence
from warehouse.repository.pages import Page, PageRequest
from warehouse.services import read_transaction, today, write_transaction
from warehouse.services import versions as versioning
from warehouse.services.access import require_writer, warehouses_visible
from warehouse.services.errors import Conflict, FieldError, NotFound, ValidationFailed
from warehouse.services.validation import Checker, build
from warehouse.services.versions import Versioned

CHANGEABLE = frozenset({"name", "address", "jurisdiction", "kind", "storage"})
"""Fields a new warehouse version may change; the operator never changes."""

LOCATION_CHANGEABLE = frozenset({"zone", "aisle", "bin", "purpose", "department"})
"""Fields a new location version may change; the warehouse never changes."""


@dataclass(frozen=True, slots=True)
class NewWarehouse:
    """A warehouse to register."""

    operator_id: uuid.UUID
    name: str
    address: str
    jurisdiction: str
    kind: WarehouseKind
    storage: StorageConditions | None = None
    effective_from: date | None = None
    """First day of the first version; default today (China)."""


@dataclass(frozen=True, slots=True)
class NewLocation:
    """A location to add to a warehouse."""

    zone: str
    aisle: str | None = None
    bin: str | None = None
    purpose: LocationPurpose = LocationPurpose.NORMAL
    department: str | None = None
    effective_from: date | None = None
    """First day of the first version; default today (China)."""


def create(session: Session, principal: Principal, new: NewWarehouse) -> Warehouse:
    """Register a warehouse operated by ``new.operator_id``.

    Raises:
        ValidationFailed: Unknown operator or invalid jurisdiction.
        PermissionDenied: Unless the caller is an admin or the operator's org_manager.
        Conflict: If the operator already has a warehouse of that name.
    """
    with write_transaction(session):
        check = Checker("warehouse")
        if org_rows.get(session, new.operator_id) is None:
            check.fail(
                "operator_id",
                "reference.unknown",
                f"Expected an existing organisation, got {new.operator_id}.",
            )
        division = check.parse("jurisdiction", DivisionCode.parse, new.jurisdiction)
        check.done()
        assert division is not None
        require_writer(principal, new.operator_id, "warehouse")
        warehouse = Warehouse(
            id=str(new_id()),
            operator_id=str(new.operator_id),
            name=new.name.strip(),
            address=new.address.strip(),
            jurisdiction=division,
            kind=new.kind,
            storage=new.storage,
        )
        _refuse_taken_name(session, new.operator_id, warehouse.name)
        rows.insert(
            session,
            warehouse,
            effective_from=new.effective_from or today(),
            recorded_by=principal.token_id,
        )
    return warehouse


def get(session: Session, principal: Principal, warehouse_id: uuid.UUID) -> Warehouse:
    """Return a warehouse the caller may see.

    Raises:
        NotFound: If it does not exist or the caller may not see it.
    """
    with read_transaction(session):
        return _visible(session, principal, warehouse_id)


def registrations(
    session: Session, principal: Principal, warehouse_id: uuid.UUID, on: date | None = None
) -> tuple[StoredLicence, ...]:
    """Return the licence versions in effect and valid on ``on`` that register the warehouse.

    This is how "which licence registers its address" is answered: from the licences, on a
    date, since a licence change can add or drop a warehouse address.

    Raises:
        NotFound: If the warehouse does not exist or the caller may not see it.
    """
    on = on or today()
    with read_transaction(session):
        _visible(session, principal, warehouse_id)
        stored = licence_rows.chains_naming(session, warehouse_id)
        register = LicenceRegister.of(item.version for item in stored)
        in_force = {version.id for version in register.registering(str(warehouse_id), on)}
        return tuple(item for item in stored if item.version.id in in_force)


def list_page(
    session: Session,
    principal: Principal,
    page: PageRequest,
    *,
    operator_id: uuid.UUID | None = None,
    jurisdiction_prefix: str | None = None,
    kind: WarehouseKind | None = None,
) -> Page[Warehouse]:
    """One page of the warehouses the caller may see."""
    prefix = None
    if jurisdiction_prefix is not None:
        check = Checker("list")
        prefix = check.parse("jurisdiction_prefix", DivisionCode.parse_prefix, jurisdiction_prefix)
        check.done()
    with read_transaction(session):
        return rows.list_page(
            session,
            page,
            visible=warehouses_visible(session, principal, today()),
            operator_id=operator_id,
            jurisdiction_prefix=prefix,
            kind=kind,
        )


def add_location(
    session: Session, principal: Principal, warehouse_id: uuid.UUID, new: NewLocation
) -> Location:
    """Add a location to a warehouse the caller operates (or any, for an admin).

    Raises:
        NotFound: If the caller may not see the warehouse.
        PermissionDenied: If the caller sees it but does not operate it.
        ValidationFailed: Bin without aisle, empty zone, or a department on a
            non-department location.
        Conflict: If the warehouse already has a location with the same code.
    """
    with write_transaction(session):
        warehouse = _visible(session, principal, warehouse_id)
        require_writer(principal, warehouse.operator_id, "warehouse location")
        location = build(
            "location",
            lambda: Location(
                id=str(new_id()),
                warehouse_id=warehouse.id,
                zone=new.zone.strip(),
                aisle=new.aisle,
                bin=new.bin,
                purpose=new.purpose,
                department=new.department,
            ),
        )
        _check_department(location)
        if rows.location_code_taken(session, warehouse_id, location.code):
            raise Conflict(
                "location.duplicate_code",
                f"Expected a new location code in warehouse {warehouse.name}, "
                f"got {location.code} again.",
            )
        rows.insert_location(
            session,
            location,
            effective_from=new.effective_from or today(),
            recorded_by=principal.token_id,
        )
    return location


def get_location(
    session: Session, principal: Principal, warehouse_id: uuid.UUID, location_id: uuid.UUID
) -> Location:
    """Return a location of a warehouse the caller may see.

    Raises:
        NotFound: If either is unknown or the caller may not see the warehouse.
    """
    with read_transaction(session):
        _visible(session, principal, warehouse_id)
        location = rows.get_location(session, warehouse_id, location_id)
    if location is None:
        raise NotFound("location", location_id)
    return location


def list_locations(
    session: Session,
    principal: Principal,
    warehouse_id: uuid.UUID,
    page: PageRequest,
    *,
    purpose: LocationPurpose | None = None,
) -> Page[Location]:
    """One page of a visible warehouse's locations."""
    with read_transaction(session):
        _visible(session, principal, warehouse_id)
        return rows.locations_page(session, page, warehouse_id, purpose=purpose)


def supersede(
    session: Session,
    principal: Principal,
    warehouse_id: uuid.UUID,
    effective_from: date,
    changes: Mapping[str, Any],
    supersedes: uuid.UUID | None = None,
) -> Versioned[Warehouse]:
    """Add a version of a warehouse in effect from ``effective_from``.

    Args:
        changes: New values of :data:`CHANGEABLE` fields; others are copied.
        supersedes: The version the caller means to replace, if it names one.

    Raises:
        NotFound: If the caller may not see the warehouse.
        PermissionDenied: If the caller sees it but is not an admin or the operator's
            org_manager.
        Conflict: ``version.not_latest``, or ``warehouse.duplicate_name`` on a rename.
        ValidationFailed: An invalid jurisdiction, or ``effective_from`` not after the
            latest version's.
    """
    with write_transaction(session):
        warehouse = _visible(session, principal, warehouse_id)
        require_writer(principal, warehouse.operator_id, "warehouse")
        return versioning.supersede(
            session,
            principal,
            "warehouse",
            warehouse_id,
            warehouse,
            effective_from=effective_from,
            supersedes=supersedes,
            changes=changes,
            allowed=CHANGEABLE,
            apply=lambda values: _changed_warehouse(session, warehouse, values),
            snapshot=rows.values,
            update=rows.update,
        )


def _changed_warehouse(session: Session, warehouse: Warehouse, values: dict[str, Any]) -> Warehouse:
    if "jurisdiction" in values:
        check = Checker("warehouse")
        values["jurisdiction"] = check.parse(
            "jurisdiction", DivisionCode.parse, values["jurisdiction"]
        )
        check.done()
    for text_field in ("name", "address"):
        if text_field in values:
            values[text_field] = values[text_field].strip()
    changed = build("warehouse", lambda: dataclasses.replace(warehouse, **values))
    if changed.name != warehouse.name:
        _refuse_taken_name(session, uuid.UUID(warehouse.operator_id), changed.name)
    return changed


def get_versioned(
    session: Session, principal: Principal, warehouse_id: uuid.UUID
) -> Versioned[Warehouse]:
    """A visible warehouse as it stands (its latest version), with that version.

    Raises:
        NotFound: If it does not exist or the caller may not see it.
    """
    with read_transaction(session):
        warehouse = _visible(session, principal, warehouse_id)
        return versioning.current(session, "warehouse", warehouse, warehouse_id)


def as_of(
    session: Session, principal: Principal, warehouse_id: uuid.UUID, on: date
) -> Versioned[Warehouse]:
    """The version of a visible warehouse in effect on ``on``.

    Raises:
        NotFound: If the caller may not see it, or it had no version yet on ``on``.
    """
    with read_transaction(session):
        _visible(session, principal, warehouse_id)
        return versioning.as_of(session, "warehouse", warehouse_id, on, rows.from_version)


def history(
    session: Session, principal: Principal, warehouse_id: uuid.UUID
) -> list[Versioned[Warehouse]]:
    """Every version of a visible warehouse, oldest first.

    Raises:
        NotFound: If the caller may not see it.
    """
    with read_transaction(session):
        warehouse = _visible(session, principal, warehouse_id)
        return versioning.history(session, "warehouse", warehouse_id, warehouse, rows.from_version)


def version(
    session: Session, principal: Principal, warehouse_id: uuid.UUID, version_id: uuid.UUID
) -> Versioned[Warehouse]:
    """One version of a visible warehouse.

    Raises:
        NotFound: If the caller may not see it, or it has no such version.
    """
    with read_transaction(session):
        _visible(session, principal, warehouse_id)
        return versioning.one(session, "warehouse", warehouse_id, version_id, rows.from_version)


def supersede_location(
    session: Session,
    principal: Principal,
    warehouse_id: uuid.UUID,
    location_id: uuid.UUID,
    effective_from: date,
    changes: Mapping[str, Any],
    supersedes: uuid.UUID | None = None,
) -> Versioned[Location]:
    """Add a version of a location (e.g. normal -> quarantine) from ``effective_from``.

    Raises:
        NotFound: If the caller may not see the warehouse, or it has no such location.
        PermissionDenied: If the caller sees it but does not operate it.
        Conflict: ``version.not_latest``, or ``location.duplicate_code`` when the new
            zone-aisle-bin is another location's.
        ValidationFailed: As for :func:`add_location`, or ``effective_from`` not after the
            latest version's.
    """
    with write_transaction(session):
        warehouse = _visible(session, principal, warehouse_id)
        require_writer(principal, warehouse.operator_id, "warehouse location")
        location = _location(session, warehouse_id, location_id)
        return versioning.supersede(
            session,
            principal,
            "location",
            location_id,
            location,
            effective_from=effective_from,
            supersedes=supersedes,
            changes=changes,
            allowed=LOCATION_CHANGEABLE,
            apply=lambda values: _changed_location(session, warehouse, location, values),
            snapshot=rows.location_values,
            update=rows.update_location,
        )


def _changed_location(
    session: Session, warehouse: Warehouse, location: Location, values: dict[str, Any]
) -> Location:
    if "zone" in values:
        values["zone"] = values["zone"].strip()
    changed = build("location", lambda: dataclasses.replace(location, **values))
    _check_department(changed)
    owner = rows.location_code_owner(session, uuid.UUID(warehouse.id), changed.code)
    if owner is not None and owner != location.id:
        raise Conflict(
            "location.duplicate_code",
            f"Expected a new location code in warehouse {warehouse.name}, "
            f"got {changed.code} again.",
        )
    return changed


def get_location_versioned(
    session: Session, principal: Principal, warehouse_id: uuid.UUID, location_id: uuid.UUID
) -> Versioned[Location]:
    """A location as it stands (its latest version), with that version.

    Raises:
        NotFound: If either is unknown or the caller may not see the warehouse.
    """
    with read_transaction(session):
        _visible(session, principal, warehouse_id)
        location = _location(session, warehouse_id, location_id)
        return versioning.current(session, "location", location, location_id)


def location_as_of(
    session: Session,
    principal: Principal,
    warehouse_id: uuid.UUID,
    location_id: uuid.UUID,
    on: date,
) -> Versioned[Location]:
    """The version of a location in effect on ``on``.

    Raises:
        NotFound: If either is unknown or invisible, or no version had started by ``on``.
    """
    with read_transaction(session):
        _visible(session, principal, warehouse_id)
        _location(session, warehouse_id, location_id)
        return versioning.as_of(session, "location", location_id, on, rows.location_from_version)


def location_history(
    session: Session, principal: Principal, warehouse_id: uuid.UUID, location_id: uuid.UUID
) -> list[Versioned[Location]]:
    """Every version of a location, oldest first.

    Raises:
        NotFound: If either is unknown or the caller may not see the warehouse.
    """
    with read_transaction(session):
        _visible(session, principal, warehouse_id)
        location = _location(session, warehouse_id, location_id)
        return versioning.history(
            session, "location", location_id, location, rows.location_from_version
        )


def location_version(
    session: Session,
    principal: Principal,
    warehouse_id: uuid.UUID,
    location_id: uuid.UUID,
    version_id: uuid.UUID,
) -> Versioned[Location]:
    """One version of a location.

    Raises:
        NotFound: If either is unknown or invisible, or there is no such version.
    """
    with read_transaction(session):
        _visible(session, principal, warehouse_id)
        _location(session, warehouse_id, location_id)
        return versioning.one(
            session, "location", location_id, version_id, rows.location_from_version
        )


def _location(session: Session, warehouse_id: uuid.UUID, location_id: uuid.UUID) -> Location:
    location = rows.get_location(session, warehouse_id, location_id)
    if location is None:
        raise NotFound("location", location_id)
    return location


def _visible(session: Session, principal: Principal, warehouse_id: uuid.UUID) -> Warehouse:
    warehouse = rows.get(session, warehouse_id, warehouses_visible(session, principal, today()))
    if warehouse is None:
        raise NotFound("warehouse", warehouse_id)
    return warehouse


def _refuse_taken_name(session: Session, operator_id: uuid.UUID, name: str) -> None:
    if rows.name_taken(session, operator_id, name):
        raise Conflict(
            "warehouse.duplicate_name",
            f"Expected a new warehouse name for operator {operator_id}, got {name!r} again.",
        )


def _check_department(location: Location) -> None:
    is_department = location.purpose is LocationPurpose.DEPARTMENT
    if is_department and not location.department:
        raise ValidationFailed(
            "location",
            [
                FieldError(
                    "department",
                    "field.required",
                    "Expected the department served by a department location, got none.",
                )
            ],
        )
    if location.department and not is_department:
        raise ValidationFailed(
            "location",
            [
                FieldError(
                    "department",
                    "location.department_purpose",
                    f"Expected no department on a {location.purpose} location, "
                    f"got {location.department!r}.",
                )
            ],
        )
