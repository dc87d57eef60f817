"""Warehouses and their locations: rows <-> the domain values."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.codes import DivisionCode
from warehouse.domain.warehouses import (
    Location,
    LocationPurpose,
    StorageConditions,
    Warehouse,
    WarehouseKind,
)
from warehouse.repository import versions
from warehouse.repository.pages import Page, PageRequest, paginate

WH = tables.warehouses
LOC = tables.locations


def values(warehouse: Warehouse) -> dict[str, Any]:
    """Column values of a warehouse (its versioned snapshot), id excluded."""
    storage = warehouse.storage or StorageConditions()
    return {
        "operator_id": uuid.UUID(warehouse.operator_id),
        "name": warehouse.name,
        "address": warehouse.address,
        "jurisdiction": warehouse.jurisdiction.value,
        "kind": warehouse.kind.value,
        "min_celsius": storage.min_celsius,
        "max_celsius": storage.max_celsius,
        "max_relative_humidity": storage.max_relative_humidity,
    }


def insert(
    session: Session,
    warehouse: Warehouse,
    *,
    effective_from: date,
    recorded_by: uuid.UUID | None = None,
) -> None:
    """Insert a new warehouse and its first version."""
    versions.insert_first(
        session,
        WH,
        "warehouse",
        warehouse.id,
        values(warehouse),
        effective_from=effective_from,
        recorded_by=recorded_by,
    )


def update(session: Session, warehouse: Warehouse) -> None:
    """Make ``warehouse`` the current state of its row (the latest version)."""
    query = WH.update().where(WH.c.id == uuid.UUID(warehouse.id))
    session.execute(query.values(**values(warehouse)))


def from_version(version: versions.Version) -> Warehouse:
    """The warehouse as one of its versions recorded it."""
    data = version.data
    return to_warehouse(
        {
            **data,
            "id": version.entity_id,
            "min_celsius": versions.parse_decimal(data["min_celsius"]),
            "max_celsius": versions.parse_decimal(data["max_celsius"]),
        }
    )


def get(
    session: Session, warehouse_id: uuid.UUID, visible: ColumnElement[bool] | None = None
) -> Warehouse | None:
    """Return the warehouse if it exists and satisfies ``visible``."""
    query = select(WH).where(WH.c.id == warehouse_id)
    if visible is not None:
        query = query.where(visible)
    row = session.execute(query).mappings().first()
    return to_warehouse(row) if row is not None else None


def get_many(
    session: Session,
    warehouse_ids: Iterable[uuid.UUID | str],
    visible: ColumnElement[bool] | None = None,
) -> dict[str, Warehouse]:
    """Return the warehouses among ``warehouse_ids`` satisfying ``visible``, by string id."""
    wanted = {uuid.UUID(str(w)) for w in warehouse_ids}
    if not wanted:
        return {}
    query = select(WH).where(WH.c.id.in_(wanted))
    if visible is not None:
        query = query.where(visible)
    rows = session.execute(query).mappings()
    return {str(row["id"]): to_warehouse(row) for row in rows}


def name_taken(session: Session, operator_id: uuid.UUID, name: str) -> bool:
    """Return whether the operator already has a warehouse called ``name``."""
    query = select(WH.c.id).where(WH.c.operator_id == operator_id, WH.c.name == name)
    return session.execute(query).first() is not None


def list_page(
    session: Session,
    page: PageRequest,
    *,
    visible: ColumnElement[bool] | None,
    operator_id: uuid.UUID | None = None,
    jurisdiction_prefix: str | None = None,
    kind: WarehouseKind | None = None,
) -> Page[Warehouse]:
    """One page of the warehouses the caller may see, filtered."""
    query: Select[Any] = select(WH)
    if visible is not None:
        query = query.where(visible)
    if operator_id is not None:
        query = query.where(WH.c.operator_id == operator_id)
    if jurisdiction_prefix:
        query = query.where(WH.c.jurisdiction.startswith(jurisdiction_prefix, autoescape=True))
    if kind is not None:
        query = query.where(WH.c.kind == kind.value)
    return paginate(session, query, WH.c.id, page, _build_warehouses)


def to_warehouse(row: Mapping[str, Any]) -> Warehouse:
    """Build the domain value from a row."""
    return Warehouse(
        id=str(row["id"]),
        operator_id=str(row["operator_id"]),
        name=row["name"],
        address=row["address"],
        jurisdiction=DivisionCode(row["jurisdiction"]),
        kind=WarehouseKind(row["kind"]),
        storage=_storage(row),
    )


def _storage(row: Mapping[str, Any]) -> StorageConditions | None:
    values = (row["min_celsius"], row["max_celsius"], row["max_relative_humidity"])
    if all(value is None for value in values):
        return None
    return StorageConditions(*values)


def _build_warehouses(rows: Sequence[Mapping[str, Any]]) -> list[Warehouse]:
    return [to_warehouse(row) for row in rows]


# Locations ---------------------------------------------------------------------------------------


def location_values(location: Location) -> dict[str, Any]:
    """Column values of a location (its versioned snapshot), id excluded."""
    return {
        "warehouse_id": uuid.UUID(location.warehouse_id),
        "zone": location.zone,
        "aisle": location.aisle,
        "bin": location.bin,
        "code": location.code,
        "purpose": location.purpose.value,
        "department": location.department,
    }


def insert_location(
    session: Session,
    location: Location,
    *,
    effective_from: date,
    recorded_by: uuid.UUID | None = None,
) -> None:
    """Insert a new location and its first version."""
    versions.insert_first(
        session,
        LOC,
        "location",
        location.id,
        location_values(location),
        effective_from=effective_from,
        recorded_by=recorded_by,
    )


def update_location(session: Session, location: Location) -> None:
    """Make ``location`` the current state of its row (the latest version)."""
    query = LOC.update().where(LOC.c.id == uuid.UUID(location.id))
    session.execute(query.values(**location_values(location)))


def location_from_version(version: versions.Version) -> Location:
    """The location as one of its versions recorded it."""
    return _to_location({**version.data, "id": version.entity_id})


def location_code_owner(session: Session, warehouse_id: uuid.UUID, code: str) -> str | None:
    """The id of the warehouse's location with this code, or None."""
    query = select(LOC.c.id).where(LOC.c.warehouse_id == warehouse_id, LOC.c.code == code)
    found = session.execute(query).scalar_one_or_none()
    return str(found) if found is not None else None


def get_location(
    session: Session, warehouse_id: uuid.UUID, location_id: uuid.UUID
) -> Location | None:
    """Return a location of the warehouse, or None."""
    query = select(LOC).where(LOC.c.id == location_id, LOC.c.warehouse_id == warehouse_id)
    row = session.execute(query).mappings().first()
    return _to_location(row) if row is not None else None


def location_code_taken(session: Session, warehouse_id: uuid.UUID, code: str) -> bool:
    """Return whether the warehouse already has a location with this code."""
    query = select(LOC.c.id).where(LOC.c.warehouse_id == warehouse_id, LOC.c.code == code)
    return session.execute(query).first() is not None


def locations_page(
    session: Session,
    page: PageRequest,
    warehouse_id: uuid.UUID,
    *,
    purpose: LocationPurpose | None = None,
) -> Page[Location]:
    """One page of a warehouse's locations."""
    query = select(LOC).where(LOC.c.warehouse_id == warehouse_id)
    if purpose is not None:
        query = query.where(LOC.c.purpose == purpose.value)
    return paginate(session, query, LOC.c.id, page, _build_locations)


def _to_location(row: Mapping[str, Any]) -> Location:
    return Location(
        id=str(row["id"]),
        warehouse_id=str(row["warehouse_id"]),
        zone=row["zone"],
        aisle=row["aisle"],
        bin=row["bin"],
        purpose=LocationPurpose(row["purpose"]),
        department=row["department"],
    )


def _build_locations(rows: Sequence[Mapping[str, Any]]) -> list[Location]:
    return [_to_location(row) for row in rows]
