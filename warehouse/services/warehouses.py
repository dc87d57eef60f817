"""Warehouses and locations: private records, seen only by those entitled (services.access)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from warehouse.domain.codes import DivisionCode
from warehouse.domain.roles import Principal
from warehouse.domain.warehouses import (
    Location,
    LocationPurpose,
    StorageConditions,
    Warehouse,
    WarehouseKind,
)
from warehouse.ids import new_id
from warehouse.repository import organisations as org_rows
from warehouse.repository import warehouses as rows
from warehouse.repository.pages import Page, PageRequest
from warehouse.services import read_transaction, today, write_transaction
from warehouse.services.access import require_writer, warehouses_visible
from warehouse.services.errors import Conflict, FieldError, NotFound, ValidationFailed
from warehouse.services.validation import Checker, build


@dataclass(frozen=True, slots=True)
class NewWarehouse:
    """A warehouse to register."""

    operator_id: uuid.UUID
    name: str
    address: str
    jurisdiction: str
    kind: WarehouseKind
    storage: StorageConditions | None = None


@dataclass(frozen=True, slots=True)
class NewLocation:
    """A location to add to a warehouse."""

    zone: str
    aisle: str | None = None
    bin: str | None = None
    purpose: LocationPurpose = LocationPurpose.NORMAL
    department: str | None = None


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
        rows.insert(session, warehouse)
    return warehouse


def get(session: Session, principal: Principal, warehouse_id: uuid.UUID) -> Warehouse:
    """Return a warehouse the caller may see.

    Raises:
        NotFound: If it does not exist or the caller may not see it.
    """
    with read_transaction(session):
        return _visible(session, principal, warehouse_id)


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
        rows.insert_location(session, location)
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
