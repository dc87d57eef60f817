"""Indexed reads for unit and lot traces: every query starts from an identifier and an index.

Nothing here scans ``events``: a unit trace starts at its ``(di, serial)`` items, a lot trace
at its ``(di, lot)`` items and shipment lines, containers are followed through
``event_items.sscc`` and ``events.parent_sscc``, and shipments through their ids. The work done
therefore grows with the length of the trace, not with the size of the database
(bench/trace.py measures it).

Indexes relied on (tables.py): ``uq_units_di_serial``, ``ix_units_di_lot``,
``ix_event_items_di_serial``, ``ix_event_items_di_lot``, ``ix_event_items_sscc``,
``ix_event_items_event_id``, ``ix_events_parent_sscc``, ``ix_shipment_items_di_lot``,
``ix_shipment_items_shipment_id``, ``ix_discrepancies_shipment_id``, ``ix_stock_di_lot`` and
the primary keys of events, shipments, organisations, warehouses, locations and devices.

A lot trace reads ids as text (:func:`text_id`) and only the columns it shows: it handles
thousands of rows, and its response is text anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    TypeDecorator,
    Uuid,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
)
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
    postgres = session.get_bind().dialect.name == "postgresql"
    if isinstance(column.type, Uuid) and not all(isinstance(v, uuid.UUID) for v in wanted):
        if postgres and all(isinstance(v, str) for v in wanted):
            # Ids kept as text (text_id) go as text[], cast by the server: no uuid.UUID objects.
            array = bindparam(None, wanted, type_=postgresql.ARRAY(Text))
            yield column == any_(cast(array, postgresql.ARRAY(column.type)))
            return
        wanted = [v if isinstance(v, uuid.UUID) else uuid.UUID(v) for v in wanted]
    if postgres:
        yield column == any_(bindparam(None, wanted, type_=postgresql.ARRAY(column.type)))
        return
    for start in range(0, len(wanted), _CHUNK):
        yield column.in_(wanted[start : start + _CHUNK])


class _UuidText(TypeDecorator[str]):
    """A UUID column read as its canonical text (SQLite; PostgreSQL casts in SQL instead)."""

    impl = Uuid
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else str(value)


def text_id(session: Session, column: Any, name: str | None = None) -> Any:
    """``column`` (a UUID) read as text, ``'0190c2…-…'`` exactly as ``str(uuid)`` writes it.

    A lot trace handles thousands of ids and only ever compares, hashes and prints them:
    PostgreSQL's own text form comes through the driver's C loader, where ``uuid.UUID``
    objects would cost a Python ``__hash__``/``__eq__``/``__str__`` call at every use.
    """
    label = name or column.name
    if session.get_bind().dialect.name == "postgresql":
        return cast(column, Text).label(label)
    return type_coerce(column, _UuidText()).label(label)


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
    (``ix_event_items_di_lot``): a few rows however many events the lot has. Ids are text.

    ``packed_into`` is the container (SSCC) of a packing event, None for other steps: the same
    scan of the lot's items finds the containers its units travelled in.
    """
    packed_into = case((EV.c.biz_step == "packing", EV.c.parent_sscc), else_=sql_null())
    query = (
        select(
            EV.c.biz_step,
            text_id(session, EV.c.acting_org_id),
            text_id(session, EV.c.owner_id),
            text_id(session, EV.c.possessor_id),
            text_id(session, EV.c.warehouse_id),
            packed_into.label("packed_into"),
            func.sum(ITEM.c.quantity).label("quantity"),
        )
        .join(ITEM, ITEM.c.event_id == EV.c.id)
        .where(*_of_lot(di, lot))
        .group_by(
            EV.c.biz_step,
            EV.c.acting_org_id,
            EV.c.owner_id,
            EV.c.possessor_id,
            EV.c.warehouse_id,
            packed_into,
        )
    )
    return _dicts(session, query)


def lot_serial_steps(session: Session, di: str, lot: str, steps: Sequence[str]) -> list[dict]:
    """Serialised items of the lot in events of ``steps``, in recording order (ids as text)."""
    query = (
        select(
            EV.c.biz_step,
            text_id(session, EV.c.acting_org_id),
            ITEM.c.serial,
            ITEM.c.quantity,
        )
        .join(ITEM, ITEM.c.event_id == EV.c.id)
        .where(*_of_lot(di, lot), ITEM.c.serial.is_not(None), EV.c.biz_step.in_(steps))
        .order_by(EV.c.id)
    )
    return _dicts(session, query)


_RECEIPT = EV.alias("receipt")
"""The receiving event of a shipment (made once: an alias is a graph of column proxies)."""


def lot_shipments(
    session: Session, di: str, lot: str, box_shipments: Iterable[str]
) -> list[dict[str, Any]]:
    """Shipments carrying the lot in shipping order, with its quantity on each and the
    receipt's time; only the columns a lot trace shows, ids as text.

    A shipment is found from its shipping event's items of the lot, or (for units shipped
    inside containers) among ``box_shipments``; its quantity is the sum of its lines of the
    lot (``ix_shipment_items_di_lot``, ``ix_shipment_items_shipment_id``).
    """
    # A shipment names its shipping event: probing that event's items (ix_event_items_event_id)
    # spares a lookup in ``events`` for every event item of the lot.
    direct = (
        select(SHIP.c.id)
        .join(ITEM, ITEM.c.event_id == SHIP.c.shipping_event_id)
        .where(*_of_lot(di, lot))
    )
    options: list[ColumnElement[bool]] = [SHIP_ITEM.c.shipment_id.in_(direct)]
    options += list(_among(session, SHIP_ITEM.c.shipment_id, box_shipments))
    quantities = (
        select(SHIP_ITEM.c.shipment_id, func.sum(SHIP_ITEM.c.quantity).label("quantity"))
        .where(or_(*options), SHIP_ITEM.c.di == di, SHIP_ITEM.c.lot == lot)
        .group_by(SHIP_ITEM.c.shipment_id)
        .subquery()
    )
    receipt = _RECEIPT
    query = (
        select(
            text_id(session, SHIP.c.id),
            text_id(session, SHIP.c.from_org_id),
            text_id(session, SHIP.c.from_warehouse_id),
            text_id(session, SHIP.c.destination_party_id),
            text_id(session, SHIP.c.destination_warehouse_id),
            SHIP.c.despatch_ref,
            SHIP.c.status,
            SHIP.c.shipped_at,
            quantities.c.quantity,
            receipt.c.event_time.label("received_time"),
            receipt.c.event_time_offset.label("received_offset"),
        )
        .join(quantities, quantities.c.shipment_id == SHIP.c.id)
        .outerjoin(receipt, receipt.c.id == SHIP.c.received_event_id)
        # Shipping order; ties by id, which orders as uuid.UUID does on both engines.
        .order_by(SHIP.c.shipped_at, SHIP.c.id)
    )
    return _dicts(session, query)


def items_of_lot_in(
    session: Session, event_ids: Iterable[str], di: str, lot: str
) -> list[dict[str, Any]]:
    """Serials of the lot named one by one in the given events (event ids as text)."""
    rows: list[dict[str, Any]] = []
    for condition in _among(session, ITEM.c.event_id, event_ids):
        query = select(text_id(session, ITEM.c.event_id), ITEM.c.serial).where(
            condition, *_of_lot(di, lot)
        )
        rows += _dicts(session, query)
    return rows


LOT_EVENT_PARTIES = (
    "acting_org_id",
    "owner_id",
    "possessor_id",
    "source_party_id",
    "destination_party_id",
)
"""The parties of a container's event a lot trace reads (for visibility and accounts)."""


def events_moving_containers(session: Session, ssccs: Iterable[str]) -> list[dict[str, Any]]:
    """Events with an ``sscc`` item among ``ssccs`` (shipping, receiving, using or destroying
    a whole box): one row per container item, ids as text."""
    columns = (
        text_id(session, EV.c.id),
        EV.c.biz_step,
        text_id(session, EV.c.warehouse_id),
        *(text_id(session, EV.c[name]) for name in LOT_EVENT_PARTIES),
        text_id(session, EV.c.shipment_id),
        ITEM.c.sscc.label("item_sscc"),
    )
    rows: list[dict[str, Any]] = []
    for condition in _among(session, ITEM.c.sscc, ssccs):
        query = select(*columns).join(ITEM, ITEM.c.event_id == EV.c.id).where(condition)
        rows += _dicts(session, query)
    return rows


def lot_units_left_with(
    session: Session, di: str, lot: str, event_ids: Iterable[str]
) -> dict[str, int]:
    """Units of the lot whose last event is one of ``event_ids`` (ids as text), per event.

    Using or destroying a whole container stores one ``sscc`` item, not the units inside it;
    those units' projection rows name the event as their last (``ix_units_di_lot``). Both
    steps are final — a destroyed or used unit never moves again — so the projection still
    says which units of the lot that event took.
    """
    counted: dict[str, int] = {}
    for condition in _among(session, UNIT.c.last_event_id, event_ids):
        query = (
            select(text_id(session, UNIT.c.last_event_id), func.count())
            .where(UNIT.c.di == di, UNIT.c.lot == lot, condition)
            .group_by(UNIT.c.last_event_id)
        )
        for event_id, count in session.execute(query):
            counted[event_id] = counted.get(event_id, 0) + count
    return counted


# --- Shipments, stock and discrepancies of a lot ----------------------------------------------


def shipment_lines(
    session: Session, shipment_ids: Iterable[str], di: str, lot: str
) -> list[dict[str, Any]]:
    """Serials of the lot's lines on these shipments (``ix_shipment_items_shipment_id``),
    shipment ids as text."""
    rows: list[dict[str, Any]] = []
    for condition in _among(session, SHIP_ITEM.c.shipment_id, shipment_ids):
        query = select(text_id(session, SHIP_ITEM.c.shipment_id), SHIP_ITEM.c.serial).where(
            condition, SHIP_ITEM.c.di == di, SHIP_ITEM.c.lot == lot
        )
        rows += _dicts(session, query)
    return rows


def discrepancies(
    session: Session, shipment_ids: Iterable[str], di: str, lot: str
) -> list[dict[str, Any]]:
    """Receipt discrepancies of the lot on these shipments (shipment ids as text)."""
    rows: list[dict[str, Any]] = []
    for condition in _among(session, DISC.c.shipment_id, shipment_ids):
        query = select(text_id(session, DISC.c.shipment_id), DISC.c.serial, DISC.c.kind).where(
            condition, DISC.c.di == di, DISC.c.lot == lot
        )
        rows += _dicts(session, query)
    return rows


def stock_of_lot(session: Session, di: str, lot: str) -> list[dict[str, Any]]:
    """Non-zero balances of the lot (``ix_stock_di_lot``): holders, warehouse and quantity,
    ids as text."""
    query = select(
        text_id(session, STOCK.c.owner_id),
        text_id(session, STOCK.c.possessor_id),
        text_id(session, STOCK.c.warehouse_id),
        STOCK.c.quantity,
    ).where(STOCK.c.di == di, STOCK.c.lot == lot, STOCK.c.quantity > 0)
    return _dicts(session, query)


# --- Names of what a trace mentions -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Names:
    """Organisations, warehouses and locations a trace mentions, by id as text."""

    organisations: dict[str, dict[str, Any]]
    warehouses: dict[str, dict[str, Any]]
    locations: dict[str, dict[str, Any]]


def names(
    session: Session,
    org_ids: Iterable[uuid.UUID | str | None],
    warehouse_ids: Iterable[uuid.UUID | str | None],
    location_ids: Iterable[uuid.UUID | str | None],
) -> Names:
    """Every name in one round trip (``UNION ALL`` of three primary-key lookups); a
    location's warehouse comes along. Ids (given as UUIDs or text) come back as text."""
    locations = list({i for i in location_ids if i is not None})
    warehouses = list({i for i in warehouse_ids if i is not None})
    orgs = list({i for i in org_ids if i is not None})
    null = sql_null()
    parts = []
    if orgs:
        parts.append(
            select(
                literal("org").label("kind"),
                text_id(session, ORG.c.id),
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
                text_id(session, WH.c.id),
                WH.c.name,
                WH.c.jurisdiction,
                null,
                null,
                null,
                text_id(session, WH.c.operator_id),
            ).where(or_(*options))
        )
    if locations:
        parts.append(
            select(
                literal("location").label("kind"),
                text_id(session, LOC.c.id),
                null,
                null,
                LOC.c.code,
                LOC.c.purpose,
                LOC.c.department,
                text_id(session, LOC.c.warehouse_id),
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
        row["id"] = _id_text(row["id"])
        shelves[row["kind"]][row["id"]] = row
    for place in found.locations.values():
        place["warehouse_id"] = _id_text(place["warehouse_id"])
    return found


def _id_text(value: Any) -> str:
    # A UNION's columns take the first SELECT's types: on SQLite a column that is NULL in
    # the first comes back as the stored 32 hex digits.
    if isinstance(value, str) and len(value) == 36:
        return value
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def warehouse_ids_within(
    session: Session, ids: Sequence[uuid.UUID | str | None], prefix: str
) -> set[uuid.UUID]:
    """The warehouses among ``ids`` located within a division-code prefix."""
    found: set[uuid.UUID] = set()
    for condition in _among(session, WH.c.id, (i for i in ids if i is not None)):
        query = select(WH.c.id).where(
            condition, WH.c.jurisdiction.startswith(prefix, autoescape=True)
        )
        found |= set(session.execute(query).scalars())
    return found
