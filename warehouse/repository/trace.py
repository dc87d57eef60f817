"""Indexed reads for unit and lot traces: every query starts from an identifier and an index.

Nothing here scans ``events``: a unit trace starts at its ``(di, serial)`` items, a lot trace
at its ``(di, lot)`` items, containers are followed through ``event_items.sscc`` and
``events.parent_sscc``, and shipments through their ids. The work done therefore grows with
the length of the trace, not with the size of the database (bench/trace.py measures it).

Indexes relied on (tables.py): ``uq_units_di_serial``, ``ix_event_items_di_serial``,
``ix_event_items_di_lot``, ``ix_event_items_sscc``, ``ix_event_items_event_id``,
``ix_events_parent_sscc``, ``ix_shipment_items_shipment_id``, ``ix_discrepancies_shipment_id``,
``ix_stock_di_lot`` and the primary keys of events, shipments, organisations, warehouses,
locations and devices.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, func, literal, or_, select, union_all
from sqlalchemy import null as sql_null
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from warehouse import tables

EV = tables.events
ITEM = tables.event_items
UNIT = tables.units
SHIP = tables.shipments
SHIP_ITEM = tables.shipment_items
STOCK = tables.stock
DISC = tables.discrepancies
ORG = tables.organisations
WH = tables.warehouses
LOC = tables.locations
DEV = tables.devices

_CHUNK = 400
"""IN lists are split into chunks of this size (SQLite's variable limit)."""

_ITEM_COLUMNS = (
    ITEM.c.id.label("item_id"),
    ITEM.c.di.label("item_di"),
    ITEM.c.serial.label("item_serial"),
    ITEM.c.lot.label("item_lot"),
    ITEM.c.quantity.label("item_quantity"),
    ITEM.c.sscc.label("item_sscc"),
)


_LOT_EVENT_COLUMNS = (
    EV.c.id,
    EV.c.biz_step,
    EV.c.event_time,
    EV.c.event_time_offset,
    EV.c.warehouse_id,
    EV.c.acting_org_id,
    EV.c.owner_id,
    EV.c.possessor_id,
    EV.c.source_party_id,
    EV.c.destination_party_id,
    EV.c.shipment_id,
    EV.c.parent_sscc,
)
"""What a lot trace reads of each event (not documents, hashes or patient references)."""


def _dicts(session: Session, query: Any) -> list[dict[str, Any]]:
    result = session.execute(query)
    keys = list(result.keys())
    # fetchall(): one driver call, where iterating fetches (and checks) row by row.
    return [dict(zip(keys, row, strict=True)) for row in result.fetchall()]


def _among(session: Session, column: Any, values: Iterable[Any]) -> Iterable[Any]:
    """Conditions ``column IN values``: one ``= ANY(array)`` on PostgreSQL (one bound
    parameter, so the statement text and its plan are the same for every trace), chunked
    ``IN`` lists on SQLite (its bound-variable limit)."""
    wanted = list(set(values))
    if not wanted:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield column == any_(bindparam(None, wanted, type_=postgresql.ARRAY(column.type)))
        return
    for start in range(0, len(wanted), _CHUNK):
        yield column.in_(wanted[start : start + _CHUNK])


def lot_condition(column: Any, lot: str) -> ColumnElement[bool]:
    """``column`` names ``lot``; '' (a label without a lot) is stored as NULL on items."""
    if lot == "":
        return column.is_(None) | (column == "")
    return column == lot


# --- Units ------------------------------------------------------------------------------------


_DEVICE_COLUMNS = (
    DEV.c.di,
    DEV.c.name,
    DEV.c.model_spec,
    DEV.c.device_class,
    DEV.c.implantable,
    DEV.c.registrant_id,
)


def unit_and_device(
    session: Session, di: str, serial: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The unit's projection row and its catalogue entry, in one round trip."""
    labels = [c.label(f"device_{c.name}") for c in _DEVICE_COLUMNS]
    query = (
        select(UNIT, *labels)
        .outerjoin(DEV, DEV.c.di == UNIT.c.di)
        .where(UNIT.c.di == di, UNIT.c.serial == serial)
    )
    rows = _dicts(session, query)
    if not rows:
        return None, device(session, di)
    row = rows[0]
    found = {c.name: row.pop(f"device_{c.name}") for c in _DEVICE_COLUMNS}
    return row, found if found["di"] is not None else None


def device(session: Session, di: str) -> dict[str, Any] | None:
    """The catalogue row of ``di``, or None."""
    rows = _dicts(session, select(*_DEVICE_COLUMNS).where(DEV.c.di == di))
    return rows[0] if rows else None


# --- Events -----------------------------------------------------------------------------------


def events_of_serial(session: Session, di: str, serial: str) -> list[dict[str, Any]]:
    """Events naming the unit itself, each with the matching item (``ix_event_items_di_serial``)."""
    query = (
        select(EV, *_ITEM_COLUMNS)
        .join(ITEM, ITEM.c.event_id == EV.c.id)
        .where(ITEM.c.di == di, ITEM.c.serial == serial)
    )
    return _dicts(session, query)


def error_marks(
    session: Session, event_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """For each of ``event_ids`` declared erroneous or corrected: the declaration's reason and
    event, and the correcting events (``ix_events_declared_event_id``,
    ``ix_events_corrects_event_id``)."""
    wanted = list(event_ids)
    marks: dict[uuid.UUID, dict[str, Any]] = {}

    def mark(event_id: uuid.UUID) -> dict[str, Any]:
        return marks.setdefault(
            event_id, {"declared_by": None, "error_reason": None, "corrected_by": []}
        )

    for condition in _among(session, EV.c.declared_event_id, wanted):
        query = select(EV.c.declared_event_id, EV.c.id, EV.c.error_reason).where(condition)
        for declared, declaration, reason in session.execute(query):
            mark(declared).update(declared_by=declaration, error_reason=reason)
    for condition in _among(session, EV.c.corrects_event_id, wanted):
        query = select(EV.c.corrects_event_id, EV.c.id).where(condition).order_by(EV.c.id)
        for corrected, correction in session.execute(query):
            mark(corrected)["corrected_by"].append(correction)
    return marks


def events_of_containers(session: Session, ssccs: Iterable[str]) -> list[dict[str, Any]]:
    """Events that moved one of ``ssccs`` whole (an ``sscc`` item) or packed/unpacked it."""
    found: dict[uuid.UUID, dict[str, Any]] = {}
    wanted = list(ssccs)
    for condition in _among(session, ITEM.c.sscc, wanted):
        moved = select(EV, *_ITEM_COLUMNS).join(ITEM, ITEM.c.event_id == EV.c.id).where(condition)
        for row in _dicts(session, moved):
            found.setdefault(row["id"], row)
    for condition in _among(session, EV.c.parent_sscc, wanted):
        for row in _dicts(session, select(EV).where(condition)):
            found.setdefault(row["id"], {**row, **dict.fromkeys(c.name for c in _ITEM_COLUMNS)})
    return list(found.values())


def items_of(session: Session, event_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[dict]]:
    """Every item of the given events (``ix_event_items_event_id``)."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for condition in _among(session, ITEM.c.event_id, event_ids):
        query = select(ITEM).where(condition).order_by(ITEM.c.id)
        for row in _dicts(session, query):
            found.setdefault(row["event_id"], []).append(row)
    return found


def _of_lot(di: str, lot: str) -> list[ColumnElement[bool]]:
    return [ITEM.c.di == di, lot_condition(ITEM.c.lot, lot)]


def lot_flows(session: Session, di: str, lot: str) -> list[dict[str, Any]]:
    """Quantities of the lot per business step, party and warehouse, summed in the database
    (``ix_event_items_di_lot``): a few rows however many events the lot has."""
    query = (
        select(
            EV.c.biz_step,
            EV.c.acting_org_id,
            EV.c.owner_id,
            EV.c.possessor_id,
            EV.c.warehouse_id,
            func.sum(ITEM.c.quantity).label("quantity"),
        )
        .join(ITEM, ITEM.c.event_id == EV.c.id)
        .where(*_of_lot(di, lot))
        .group_by(
            EV.c.biz_step, EV.c.acting_org_id, EV.c.owner_id, EV.c.possessor_id, EV.c.warehouse_id
        )
    )
    return _dicts(session, query)


def lot_containers(session: Session, di: str, lot: str) -> list[str]:
    """SSCCs units of the lot were packed into."""
    query = (
        select(EV.c.parent_sscc)
        .distinct()
        .join(ITEM, ITEM.c.event_id == EV.c.id)
        .where(*_of_lot(di, lot), EV.c.biz_step == "packing", EV.c.parent_sscc.is_not(None))
    )
    return list(session.execute(query).scalars())


def lot_serial_steps(session: Session, di: str, lot: str, steps: Sequence[str]) -> list[dict]:
    """Serialised items of the lot in events of ``steps``, in recording order."""
    query = (
        select(EV.c.id, EV.c.biz_step, EV.c.acting_org_id, ITEM.c.serial, ITEM.c.quantity)
        .join(ITEM, ITEM.c.event_id == EV.c.id)
        .where(*_of_lot(di, lot), ITEM.c.serial.is_not(None), EV.c.biz_step.in_(steps))
        .order_by(EV.c.id)
    )
    return _dicts(session, query)


def lot_shipments(
    session: Session, di: str, lot: str, box_shipments: Iterable[uuid.UUID]
) -> list[dict[str, Any]]:
    """Shipments carrying the lot, with its quantity on each and the receipt's time.

    A shipment is found from its shipping event's items of the lot, or (for units shipped
    inside containers) among ``box_shipments``; its quantity is the sum of its lines of the
    lot (``ix_shipment_items_shipment_id``).
    """
    direct = (
        select(EV.c.shipment_id)
        .join(ITEM, ITEM.c.event_id == EV.c.id)
        .where(*_of_lot(di, lot), EV.c.biz_step == "shipping", EV.c.shipment_id.is_not(None))
    )
    options: list[ColumnElement[bool]] = [SHIP_ITEM.c.shipment_id.in_(direct)]
    options += list(_among(session, SHIP_ITEM.c.shipment_id, box_shipments))
    quantities = (
        select(SHIP_ITEM.c.shipment_id, func.sum(SHIP_ITEM.c.quantity).label("quantity"))
        .where(or_(*options), SHIP_ITEM.c.di == di, SHIP_ITEM.c.lot == lot)
        .group_by(SHIP_ITEM.c.shipment_id)
        .subquery()
    )
    receipt = EV.alias("receipt")
    query = (
        select(
            SHIP,
            quantities.c.quantity,
            receipt.c.event_time.label("received_time"),
            receipt.c.event_time_offset.label("received_offset"),
        )
        .join(quantities, quantities.c.shipment_id == SHIP.c.id)
        .outerjoin(receipt, receipt.c.id == SHIP.c.received_event_id)
    )
    return _dicts(session, query)


def items_of_lot_in(
    session: Session, event_ids: Iterable[uuid.UUID], di: str, lot: str
) -> list[dict[str, Any]]:
    """Items of the lot named one by one in the given events."""
    rows: list[dict[str, Any]] = []
    for condition in _among(session, ITEM.c.event_id, event_ids):
        rows += _dicts(session, select(ITEM).where(condition, *_of_lot(di, lot)))
    return rows


def events_moving_containers(session: Session, ssccs: Iterable[str]) -> list[dict[str, Any]]:
    """Events with an ``sscc`` item among ``ssccs`` (shipping or receiving a whole box)."""
    rows: list[dict[str, Any]] = []
    for condition in _among(session, ITEM.c.sscc, ssccs):
        query = (
            select(*_LOT_EVENT_COLUMNS, *_ITEM_COLUMNS)
            .join(ITEM, ITEM.c.event_id == EV.c.id)
            .where(condition)
        )
        rows += _dicts(session, query)
    return rows


# --- Shipments, stock and discrepancies of a lot ----------------------------------------------


def shipment_lines(
    session: Session, shipment_ids: Iterable[uuid.UUID], di: str, lot: str
) -> list[dict[str, Any]]:
    """Lines of the lot on these shipments (``ix_shipment_items_shipment_id``)."""
    rows: list[dict[str, Any]] = []
    for condition in _among(session, SHIP_ITEM.c.shipment_id, shipment_ids):
        query = select(SHIP_ITEM).where(condition, SHIP_ITEM.c.di == di, SHIP_ITEM.c.lot == lot)
        rows += _dicts(session, query)
    return rows


def discrepancies(
    session: Session, shipment_ids: Iterable[uuid.UUID], di: str, lot: str
) -> list[dict[str, Any]]:
    """Receipt discrepancies of the lot on these shipments."""
    rows: list[dict[str, Any]] = []
    for condition in _among(session, DISC.c.shipment_id, shipment_ids):
        query = select(DISC).where(condition, DISC.c.di == di, DISC.c.lot == lot)
        rows += _dicts(session, query)
    return rows


def stock_of_lot(session: Session, di: str, lot: str) -> list[dict[str, Any]]:
    """Non-zero balances of the lot (``ix_stock_di_lot``)."""
    query = select(STOCK).where(STOCK.c.di == di, STOCK.c.lot == lot, STOCK.c.quantity > 0)
    return _dicts(session, query)


# --- Names of what a trace mentions -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Names:
    """Organisations, warehouses and locations a trace mentions, by id."""

    organisations: dict[uuid.UUID, dict[str, Any]]
    warehouses: dict[uuid.UUID, dict[str, Any]]
    locations: dict[uuid.UUID, dict[str, Any]]


def names(
    session: Session,
    org_ids: Iterable[uuid.UUID],
    warehouse_ids: Iterable[uuid.UUID],
    location_ids: Iterable[uuid.UUID],
) -> Names:
    """Every name in one round trip (``UNION ALL`` of three primary-key lookups); a
    location's warehouse comes along."""
    locations = list({i for i in location_ids if i is not None})
    warehouses = list({i for i in warehouse_ids if i is not None})
    orgs = list({i for i in org_ids if i is not None})
    null = sql_null()
    parts = []
    if orgs:
        parts.append(
            select(
                literal("org").label("kind"),
                ORG.c.id,
                ORG.c.name,
                ORG.c.jurisdiction,
                null.label("code"),
                null.label("purpose"),
                null.label("department"),
                null.label("warehouse_id"),
            ).where(or_(*_among(session, ORG.c.id, orgs)))
        )
    if warehouses or locations:
        options = list(_among(session, WH.c.id, warehouses))
        if locations:
            located = select(LOC.c.warehouse_id).where(or_(*_among(session, LOC.c.id, locations)))
            options.append(WH.c.id.in_(located))
        parts.append(
            select(
                literal("warehouse").label("kind"),
                WH.c.id,
                WH.c.name,
                WH.c.jurisdiction,
                null,
                null,
                null,
                WH.c.operator_id,
            ).where(or_(*options))
        )
    if locations:
        parts.append(
            select(
                literal("location").label("kind"),
                LOC.c.id,
                null,
                null,
                LOC.c.code,
                LOC.c.purpose,
                LOC.c.department,
                LOC.c.warehouse_id,
            ).where(or_(*_among(session, LOC.c.id, locations)))
        )
    found = Names({}, {}, {})
    if not parts:
        return found
    shelves = {
        "org": found.organisations,
        "warehouse": found.warehouses,
        "location": found.locations,
    }
    for row in _dicts(session, union_all(*parts)):
        shelves[row["kind"]][_uuid(row["id"])] = {**row, "id": _uuid(row["id"])}
    for place in found.locations.values():
        place["warehouse_id"] = _uuid(place["warehouse_id"])
    return found


def _uuid(value: Any) -> uuid.UUID:
    # A UNION's column comes back typed on PostgreSQL, as text on SQLite.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def warehouse_ids_within(session: Session, ids: Sequence[uuid.UUID], prefix: str) -> set:
    """The warehouses among ``ids`` located within a division-code prefix."""
    found: set[uuid.UUID] = set()
    for condition in _among(session, WH.c.id, (i for i in ids if i is not None)):
        query = select(WH.c.id).where(
            condition, WH.c.jurisdiction.startswith(prefix, autoescape=True)
        )
        found |= set(session.execute(query).scalars())
    return found
