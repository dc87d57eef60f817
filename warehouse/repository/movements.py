"""Events and their projections: bulk reads (locked on PostgreSQL) and bulk writes.

Everything here is a Core statement over many rows at once: the movement service reads the
state a whole batch touches in a handful of queries, decides in memory, then writes the
batch with ``executemany`` inserts and conditional updates. ``events`` and ``event_items``
are only ever inserted; the database refuses anything else (triggers of migration 0003),
and :func:`refuse_change` refuses it in the process too, for every session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session

from warehouse import tables
from warehouse.repository.pages import Page, PageRequest, paginate

EV = tables.events
ITEM = tables.event_items
UNIT = tables.units
STOCK = tables.stock
BOX = tables.containers
SHIP = tables.shipments
SHIP_ITEM = tables.shipment_items
DISC = tables.discrepancies
LOC = tables.locations
WH = tables.warehouses

_CHUNK = 400
"""IN lists are split into chunks of this size (SQLite's 32k variables limit)."""


APPEND_ONLY = frozenset({"events", "event_items"})


class AppendOnlyError(RuntimeError):
    """Code tried to change or delete a stored event (the database would refuse it too)."""


@event.listens_for(Session, "do_orm_execute")
def refuse_change(state: ORMExecuteState) -> None:
    """Refuse UPDATE and DELETE on events before they reach the database, on any engine.

    The triggers of migration 0003 refuse them in the database as well; this catches them in
    the process, with a clear error, for every statement run through a session.
    """
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if table is not None and table.name in APPEND_ONLY:
            raise AppendOnlyError(
                f"Expected no UPDATE or DELETE on append-only table {table.name}, got one."
            )


def _locking(session: Session, query: Select[Any]) -> Select[Any]:
    """``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers."""
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update()
    return query


def _dicts(session: Session, query: Any) -> list[dict[str, Any]]:
    """Rows as plain dicts (``dict(RowMapping)`` costs a ``keys()`` call per row)."""
    result = session.execute(query)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# --- Reads for one batch ------------------------------------------------------------------------


def existing_events(
    session: Session, event_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
    """Client event id -> (server id, event hash) for those already stored."""
    wanted = sorted(set(event_ids))
    found: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
    for chunk in _chunks(wanted):
        query = select(EV.c.event_id, EV.c.id, EV.c.event_hash).where(EV.c.event_id.in_(chunk))
        for row in session.execute(query):
            found[row.event_id] = (row.id, row.event_hash)
    return found


def event_references(
    session: Session, event_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, bool, uuid.UUID]]:
    """Client event id -> (server id, declared erroneous?, acting organisation)."""
    wanted = sorted(set(event_ids))
    if not wanted:
        return {}
    declared = select(EV.c.declared_event_id).where(EV.c.declared_event_id.is_not(None))
    query = select(
        EV.c.event_id, EV.c.id, EV.c.acting_org_id, EV.c.id.in_(declared).label("declared")
    ).where(EV.c.event_id.in_(wanted))
    return {
        row.event_id: (row.id, bool(row.declared), row.acting_org_id)
        for row in session.execute(query)
    }


def locations(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Mapping[str, Any]]:
    """Location rows (with the warehouse's operator) by id."""
    wanted = set(ids)
    if not wanted:
        return {}
    query = (
        select(LOC.c.id, LOC.c.warehouse_id, LOC.c.purpose, WH.c.operator_id)
        .join(WH, WH.c.id == LOC.c.warehouse_id)
        .where(LOC.c.id.in_(wanted))
    )
    return {row["id"]: row for row in session.execute(query).mappings()}


def existing_organisations(session: Session, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The ids among ``ids`` that are organisations."""
    wanted = set(ids)
    if not wanted:
        return set()
    org = tables.organisations
    return set(session.execute(select(org.c.id).where(org.c.id.in_(wanted))).scalars())


def existing_warehouses(session: Session, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The ids among ``ids`` that are warehouses."""
    wanted = set(ids)
    if not wanted:
        return set()
    return set(session.execute(select(WH.c.id).where(WH.c.id.in_(wanted))).scalars())


def units_by_serial(
    session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Unit rows by (DI, serial), not locked: units are written by compare-and-set on
    ``version``, so a unit changed meanwhile fails the write and the batch is re-run."""
    wanted = set(keys)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for chunk in _chunks(sorted(wanted)):
        # DI IN (…) AND serial IN (…) walks the (di, serial) index on both engines, where a
        # row-value IN list makes SQLite scan the table; pairs not asked for are dropped.
        query = select(UNIT).where(
            UNIT.c.di.in_({di for di, _ in chunk}),
            UNIT.c.serial.in_({serial for _, serial in chunk}),
        )
        for row in _dicts(session, query):
            key = (row["di"], row["serial"])
            if key in wanted:
                found[key] = row
    return found


def units_where(session: Session, condition: ColumnElement[bool]) -> list[dict[str, Any]]:
    """Unit rows matching ``condition`` (containers' contents, shipments' units)."""
    query = select(UNIT).where(condition).order_by(UNIT.c.id)
    return _dicts(session, query)


def stock_by_lot(session: Session, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Stock rows of these (DI, lot) pairs, locked for the transaction on PostgreSQL."""
    wanted = set(keys)
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(wanted)):
        query = select(STOCK).where(
            STOCK.c.di.in_({di for di, _ in chunk}), STOCK.c.lot.in_({lot for _, lot in chunk})
        )
        rows += [
            r
            for r in _dicts(session, _locking(session, query.order_by(STOCK.c.id)))
            if (r["di"], r["lot"]) in wanted
        ]
    return rows


def containers(session: Session, ssccs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Container rows by SSCC, locked."""
    wanted = sorted(set(ssccs))
    if not wanted:
        return {}
    query = select(BOX).where(BOX.c.sscc.in_(wanted)).order_by(BOX.c.sscc)
    return {row["sscc"]: dict(row) for row in session.execute(_locking(session, query)).mappings()}


def shipments(
    session: Session, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Shipment rows with their items, by id, locked."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = select(SHIP).where(SHIP.c.id.in_(wanted)).order_by(SHIP.c.id)
    found = {
        row["id"]: (dict(row), []) for row in session.execute(_locking(session, query)).mappings()
    }
    items = select(SHIP_ITEM).where(SHIP_ITEM.c.shipment_id.in_(wanted)).order_by(SHIP_ITEM.c.id)
    for row in session.execute(items).mappings():
        found[row["shipment_id"]][1].append(dict(row))
    return found


# --- Writes for one batch -----------------------------------------------------------------------


def insert_rows(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """One ``executemany`` insert (no RETURNING: it is the fast path on both engines)."""
    if rows:
        session.execute(table.insert(), rows)


_UNIT_FIELDS = (
    "owner_id",
    "possessor_id",
    "warehouse_id",
    "location_id",
    "status",
    "container_sscc",
    "shipment_id",
    "last_event_id",
    "updated_at",
)


def update_units(session: Session, rows: list[dict[str, Any]]) -> int:
    """Compare-and-set each unit on its ``version``; return how many rows matched.

    One ``executemany`` (pipelined by psycopg). A single ``UPDATE … FROM (VALUES …)`` was
    measured 3-4x slower on PostgreSQL for 500 rows (statement size and compilation).
    """
    if not rows:
        return 0
    statement = (
        update(UNIT)
        .where(UNIT.c.id == bindparam("b_id"), UNIT.c.version == bindparam("b_version"))
        .values(
            version=UNIT.c.version + 1,
            **{field: bindparam(f"b_{field}") for field in _UNIT_FIELDS},
        )
    )
    params = [
        {"b_id": r["id"], "b_version": r["version"], **{f"b_{f}": r[f] for f in _UNIT_FIELDS}}
        for r in rows
    ]
    matched = 0
    for chunk in _chunks(params):
        result = session.connection().execute(statement, list(chunk))
        matched += result.rowcount
    return matched


def add_stock(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add quantities: insert a balance or increase it (``ON CONFLICT DO UPDATE``)."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(STOCK)
    statement = statement.on_conflict_do_update(
        index_elements=["owner_id", "possessor_id", "location_id", "di", "lot", "status"],
        set_={
            "quantity": STOCK.c.quantity + statement.excluded.quantity,
            "updated_at": statement.excluded.updated_at,
        },
    )
    session.execute(statement, rows)


def take_stock(session: Session, key: Mapping[str, Any], quantity: int, at: datetime) -> bool:
    """Decrease a balance only if it holds ``quantity``; return whether it did."""
    statement = (
        update(STOCK)
        .where(*(STOCK.c[name] == value for name, value in key.items()))
        .where(STOCK.c.quantity >= quantity)
        .values(quantity=STOCK.c.quantity - quantity, updated_at=at)
    )
    return session.execute(statement).rowcount == 1


def upsert_container(session: Session, row: dict[str, Any], exists: bool) -> None:
    """Insert or update a container's place."""
    if exists:
        values = {k: v for k, v in row.items() if k != "sscc"}
        session.execute(update(BOX).where(BOX.c.sscc == row["sscc"]).values(**values))
    else:
        session.execute(BOX.insert().values(**row))


def mark_received(session: Session, shipment_id: uuid.UUID, event_id: uuid.UUID) -> bool:
    """Close a shipment on its receipt, only if still in transit."""
    statement = (
        update(SHIP)
        .where(SHIP.c.id == shipment_id, SHIP.c.status == "in_transit")
        .values(status="received", received_event_id=event_id)
    )
    return session.execute(statement).rowcount == 1


# --- Queries ---------------------------------------------------------------------------------


def events_page(
    session: Session,
    page: PageRequest,
    conditions: Sequence[ColumnElement[bool]],
) -> Page[dict[str, Any]]:
    """One page of events (with their items), in recording order."""
    query = select(EV).where(and_(True, *conditions))
    return paginate(session, query, EV.c.id, page, lambda rows: _with_items(session, rows))


def _with_items(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    ids = [row["id"] for row in rows]
    items: dict[uuid.UUID, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        query = select(ITEM).where(ITEM.c.event_id.in_(ids)).order_by(ITEM.c.id)
        for item in session.execute(query).mappings():
            items[item["event_id"]].append(dict(item))
    return [{**row, "items": items[row["id"]]} for row in rows]


def item_condition(
    di: str | None, lot: str | None, serial: str | None, sscc: str | None
) -> ColumnElement[bool] | None:
    """Events with an item matching every given identifier."""
    parts = []
    if di:
        parts.append(ITEM.c.di == di)
    if lot:
        parts.append(ITEM.c.lot == lot)
    if serial:
        parts.append(ITEM.c.serial == serial)
    if sscc:
        parts.append(ITEM.c.sscc == sscc)
    if not parts:
        return None
    return EV.c.id.in_(select(ITEM.c.event_id).where(*parts))


def stock_page(
    session: Session, page: PageRequest, conditions: Sequence[ColumnElement[bool]]
) -> Page[dict[str, Any]]:
    """One page of non-zero balances."""
    query = select(STOCK).where(STOCK.c.quantity > 0, *conditions)
    return paginate(session, query, STOCK.c.id, page, lambda rows: [dict(r) for r in rows])


def fefo(
    session: Session,
    di: str,
    conditions: Sequence[ColumnElement[bool]],
    on: date,
    limit: int,
) -> list[dict[str, Any]]:
    """Available balances of ``di`` at pickable locations, earliest expiry first."""
    query = (
        select(STOCK, LOC.c.code.label("location_code"))
        .join(LOC, LOC.c.id == STOCK.c.location_id)
        .where(
            STOCK.c.di == di,
            STOCK.c.quantity > 0,
            STOCK.c.status == "available",
            LOC.c.purpose == "normal",
            (STOCK.c.expiry.is_(None)) | (STOCK.c.expiry >= on),
            *conditions,
        )
        .order_by(STOCK.c.expiry.is_(None), STOCK.c.expiry, STOCK.c.lot, STOCK.c.id)
        .limit(limit)
    )
    return [dict(row) for row in session.execute(query).mappings()]


def discrepancies_page(
    session: Session, page: PageRequest, conditions: Sequence[ColumnElement[bool]]
) -> Page[dict[str, Any]]:
    """One page of receipt discrepancies."""
    query = select(DISC).where(and_(True, *conditions))
    return paginate(session, query, DISC.c.id, page, lambda rows: [dict(r) for r in rows])


def units_page(
    session: Session, page: PageRequest, conditions: Sequence[ColumnElement[bool]]
) -> Page[dict[str, Any]]:
    """One page of serialised units."""
    query = select(UNIT).where(and_(True, *conditions))
    return paginate(session, query, UNIT.c.id, page, lambda rows: [dict(r) for r in rows])
