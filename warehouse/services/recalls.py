"""Recalls: the blast radius as of now, the set-based recall hold, progress and exports.

:func:`create` runs in one transaction:

1. reads where every matched unit or lot quantity is (in stock per holder and location, in
   transit, in containers, used on patients, destroyed, returned) with aggregate queries;
2. reads the matched in-stock balances ``FOR UPDATE`` on PostgreSQL (the rows every movement
   batch locks first, so no batch moves them half-way through);
3. records one ``holding`` event (disposition ``recalled``) per holder and location — lot
   items ``{di, lot, quantity}`` for whole lots, one item per serial for single serials — and a
   ``recall_holds`` line naming it;
4. moves the stock: one conditional decrease per source balance and one upsert per recalled
   balance (balances, not units), and updates every matched unit in **one** ``UPDATE … FROM
   recall_holds`` (status, version for the compare-and-set of concurrent batches, last event).

Events stay the source of truth: a unit's trace shows the holding event of its lot.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.db import see_every_row
from warehouse.domain.movements import IN_STOCK, BizStep, Disposition, UnitStatus
from warehouse.domain.recalls import (
    Category,
    InvalidScope,
    Progress,
    RecallClass,
    RecallScope,
    progress,
)
from warehouse.domain.roles import Principal, Role
from warehouse.ids import new_id
from warehouse.repository import devices as device_rows
from warehouse.repository import movements as rows
from warehouse.repository import recall_locks
from warehouse.repository.bulk import insert_together
from warehouse.repository.pages import Page, PageRequest, paginate
from warehouse.services import CHINA_STANDARD_TIME, read_transaction, write_transaction
from warehouse.services.access import is_admin, regulator_prefix
from warehouse.services.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from warehouse.services.movements import NewEvent, NewItem, event_hash

REC = tables.recalls
HOLD = tables.recall_holds
UNIT = tables.units
STOCK = tables.stock
ORG = tables.organisations
WH = tables.warehouses
LOC = tables.locations
EV = tables.events
ITEM = tables.event_items
SHIP = tables.shipments
SHIP_ITEM = tables.shipment_items

ORDER_ROLES = (Role.ADMIN, Role.ORG_MANAGER)
"""Who may order a recall: the registrant's org_manager, or an admin. Regulators read only."""

HOLDABLE = sorted(s.value for s in IN_STOCK - {UnitStatus.RECALLED})
RECALLED = UnitStatus.RECALLED.value


@dataclass(frozen=True, slots=True)
class NewRecall:
    """A recall as ordered."""

    di: str
    reason: str
    recall_class: RecallClass
    lots: tuple[str, ...] = ()
    serials: tuple[str, ...] = ()


# --- Matching the recalled goods ------------------------------------------------------------------


def _matched(table: Table, scope: RecallScope) -> ColumnElement[bool]:
    """Rows of ``table`` (units, event items, shipment items: each has di, lot and serial)
    naming the recalled DI with a recalled lot or serial."""
    parts = []
    if scope.lots:
        parts.append(table.c.lot.in_(scope.lots))
    if scope.serials:
        parts.append(table.c.serial.in_(scope.serials))
    return and_(table.c.di == scope.di, or_(*parts))


def _single_serials(scope: RecallScope) -> ColumnElement[bool]:
    """Units recalled by serial whose lot is not recalled as a whole."""
    condition = and_(UNIT.c.di == scope.di, UNIT.c.serial.in_(scope.serials))
    if scope.lots:
        condition = and_(condition, UNIT.c.lot.not_in(scope.lots))
    return condition


def _locking(session: Session, query: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(of=STOCK)
    return query


def _erroneous() -> Any:
    """Events declared erroneous (error declarations) count for nothing."""
    return select(EV.c.declared_event_id).where(EV.c.declared_event_id.is_not(None))


# --- Blast radius ----------------------------------------------------------------------------


def blast_radius(session: Session, scope: RecallScope, serialised: bool) -> dict[str, Any]:
    """Where every matched unit or lot quantity is now (no names: see :func:`_named`)."""
    in_stock = _in_stock(session, scope)
    radius: dict[str, Any] = {
        Category.IN_STOCK.value: in_stock,
        Category.IN_TRANSIT.value: _in_transit(session, scope),
        Category.IN_CONTAINER.value: _in_containers(session, scope),
        **_used_up(session, scope, serialised),
        Category.RETURNED.value: _by_step(session, scope, BizStep.RETURNING, None),
    }
    radius["totals"] = {name: sum(line["quantity"] for line in radius[name]) for name in Category}
    radius["totals"]["already_recalled"] = sum(
        line["quantity"] for line in in_stock if line["status"] == RECALLED
    )
    return radius


def _in_stock(session: Session, scope: RecallScope) -> list[dict[str, Any]]:
    keys = (STOCK.c.owner_id, STOCK.c.possessor_id, STOCK.c.warehouse_id, STOCK.c.location_id)
    found: dict[tuple[Any, ...], int] = defaultdict(int)
    if scope.lots:
        query = (
            select(*keys, STOCK.c.status, func.sum(STOCK.c.quantity))
            .where(STOCK.c.di == scope.di, STOCK.c.lot.in_(scope.lots), STOCK.c.quantity > 0)
            .group_by(*keys, STOCK.c.status)
        )
        for row in session.execute(query):
            found[tuple(row[:5])] += int(row[5])
    if scope.serials:
        unit_keys = (UNIT.c.owner_id, UNIT.c.possessor_id, UNIT.c.warehouse_id)
        query = (
            select(*unit_keys, UNIT.c.location_id, UNIT.c.status, func.count())
            .where(_single_serials(scope), UNIT.c.status.in_([s.value for s in IN_STOCK]))
            .group_by(*unit_keys, UNIT.c.location_id, UNIT.c.status)
        )
        for row in session.execute(query):
            found[tuple(row[:5])] += int(row[5])
    return [
        {
            "owner_id": key[0],
            "possessor_id": key[1],
            "warehouse_id": key[2],
            "location_id": key[3],
            "status": key[4],
            "quantity": quantity,
        }
        for key, quantity in sorted(found.items(), key=lambda kv: tuple(map(str, kv[0])))
    ]


def _in_transit(session: Session, scope: RecallScope) -> list[dict[str, Any]]:
    query = (
        select(
            SHIP.c.id,
            SHIP.c.from_org_id,
            SHIP.c.from_warehouse_id,
            SHIP.c.destination_party_id,
            SHIP.c.destination_warehouse_id,
            SHIP.c.shipped_at,
            func.sum(SHIP_ITEM.c.quantity),
        )
        .join(SHIP_ITEM, SHIP_ITEM.c.shipment_id == SHIP.c.id)
        .where(SHIP.c.status == "in_transit", _matched(SHIP_ITEM, scope))
        .group_by(
            SHIP.c.id,
            SHIP.c.from_org_id,
            SHIP.c.from_warehouse_id,
            SHIP.c.destination_party_id,
            SHIP.c.destination_warehouse_id,
            SHIP.c.shipped_at,
        )
        .order_by(SHIP.c.id)
    )
    return [
        {
            "shipment_id": row[0],
            "from_org_id": row[1],
            "from_warehouse_id": row[2],
            "destination_party_id": row[3],
            "destination_warehouse_id": row[4],
            "shipped_at": as_utc(row[5]).isoformat(),
            "quantity": int(row[6]),
        }
        for row in session.execute(query)
    ]


def _in_containers(session: Session, scope: RecallScope) -> list[dict[str, Any]]:
    columns = (UNIT.c.container_sscc, UNIT.c.possessor_id, UNIT.c.warehouse_id, UNIT.c.location_id)
    query = (
        select(*columns, func.count())
        .where(
            _matched(UNIT, scope),
            UNIT.c.container_sscc.is_not(None),
            UNIT.c.status.in_([s.value for s in IN_STOCK]),
        )
        .group_by(*columns)
        .order_by(UNIT.c.container_sscc)
    )
    return [
        {
            "sscc": row[0],
            "possessor_id": row[1],
            "warehouse_id": row[2],
            "location_id": row[3],
            "quantity": int(row[4]),
        }
        for row in session.execute(query)
    ]


def _used_up(
    session: Session, scope: RecallScope, serialised: bool
) -> dict[str, list[dict[str, Any]]]:
    """Used on patients and destroyed, per organisation (the hospital that used them).

    Serialised goods are counted from the units (one scan of the lot for both); lot
    quantities from the dispensing and destroying events.
    """
    steps = {Category.DISPENSED: BizStep.DISPENSING, Category.DESTROYED: BizStep.DESTROYING}
    if not serialised:
        return {c.value: _by_step(session, scope, step, None) for c, step in steps.items()}
    statuses = {Category.DISPENSED: UnitStatus.DISPENSED, Category.DESTROYED: UnitStatus.DESTROYED}
    query = (
        select(UNIT.c.status, UNIT.c.possessor_id, func.count())
        .where(_matched(UNIT, scope), UNIT.c.status.in_([s.value for s in statuses.values()]))
        .group_by(UNIT.c.status, UNIT.c.possessor_id)
    )
    found = session.execute(query).all()
    return {
        category.value: _per_organisation(row[1:] for row in found if row[0] == status.value)
        for category, status in statuses.items()
    }


def _by_step(
    session: Session, scope: RecallScope, step: BizStep, since: datetime | None
) -> list[dict[str, Any]]:
    """Quantities in events of ``step`` (not declared erroneous), per acting organisation."""
    query = (
        select(EV.c.acting_org_id, func.sum(ITEM.c.quantity))
        .join(ITEM, ITEM.c.event_id == EV.c.id)
        .where(EV.c.biz_step == step.value, _matched(ITEM, scope), EV.c.id.not_in(_erroneous()))
        .group_by(EV.c.acting_org_id)
    )
    if since is not None:
        query = query.where(EV.c.recorded_at >= since)
    return _per_organisation(session.execute(query))


def _per_organisation(result: Iterable[Any]) -> list[dict[str, Any]]:
    lines = [{"organisation_id": row[0], "quantity": int(row[1])} for row in result]
    return sorted(lines, key=lambda line: str(line["organisation_id"]))


# --- The hold -------------------------------------------------------------------------------------


@dataclass
class _Holder:
    """What one sweep puts on hold at one holder and location."""

    warehouse_id: uuid.UUID
    lots: dict[tuple[str, date | None], int] = field(default_factory=lambda: defaultdict(int))
    serials: list[tuple[str, str, date | None]] = field(default_factory=list)

    @property
    def quantity(self) -> int:
        return sum(self.lots.values()) + len(self.serials)


@dataclass
class _HoldPlan:
    holders: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID], _Holder]
    """(owner, possessor, location) -> what is held there."""

    takes: dict[uuid.UUID, int]
    """Stock balance id -> quantity moved out of it."""

    balances: dict[uuid.UUID, dict[str, Any]]
    units: int
    """Units the unit UPDATE must change."""

    @property
    def quantity(self) -> int:
        return sum(holder.quantity for holder in self.holders.values())


def _plan_hold(session: Session, scope: RecallScope, serialised: bool) -> _HoldPlan:
    """Read (and on PostgreSQL lock) every matched balance not yet recalled."""
    plan = _HoldPlan({}, defaultdict(int), {}, 0)
    if scope.lots:
        query = select(STOCK).where(
            STOCK.c.di == scope.di,
            STOCK.c.lot.in_(scope.lots),
            STOCK.c.status.in_(HOLDABLE),
            STOCK.c.quantity > 0,
        )
        for row in session.execute(_locking(session, query.order_by(STOCK.c.id))).mappings():
            plan.balances[row["id"]] = dict(row)
            plan.takes[row["id"]] += row["quantity"]
            holder = _holder(plan, row)
            holder.lots[(row["lot"], row["expiry"])] += row["quantity"]
            if serialised:
                plan.units += row["quantity"]
    if scope.serials:
        query = select(UNIT).where(_single_serials(scope), UNIT.c.status.in_(HOLDABLE))
        found = [dict(r) for r in session.execute(query.order_by(UNIT.c.id)).mappings()]
        balances = _balances_of(session, scope.di, found)
        for unit in found:
            balance = balances.get(_key(unit))
            if balance is None:
                raise _Retry(f"Expected a stock balance for serial {unit['serial']}, got none.")
            plan.balances[balance["id"]] = balance
            plan.takes[balance["id"]] += 1
            _holder(plan, unit).serials.append((unit["serial"], unit["lot"], unit["expiry"]))
            plan.units += 1
    return plan


def _key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row["owner_id"], row["possessor_id"], row["location_id"], row["lot"], row["status"])


def _holder(plan: _HoldPlan, row: Mapping[str, Any]) -> _Holder:
    key = (row["owner_id"], row["possessor_id"], row["location_id"])
    if key not in plan.holders:
        plan.holders[key] = _Holder(row["warehouse_id"])
    return plan.holders[key]


def _balances_of(
    session: Session, di: str, units: Sequence[Mapping[str, Any]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    lots = sorted({u["lot"] for u in units})
    places = sorted({u["location_id"] for u in units}, key=str)
    if not units:
        return {}
    query = select(STOCK).where(
        STOCK.c.di == di, STOCK.c.lot.in_(lots), STOCK.c.location_id.in_(places)
    )
    found = session.execute(_locking(session, query.order_by(STOCK.c.id))).mappings()
    return {_key(row): dict(row) for row in found}


def _apply_hold(
    session: Session,
    recall_id: uuid.UUID,
    actor: uuid.UUID,
    scope: RecallScope,
    plan: _HoldPlan,
    now: datetime,
) -> None:
    """Record the holding events and move the stock and units, for one sweep."""
    batch_id = new_id()
    event_rows, item_rows, hold_rows = [], [], []
    for (owner, possessor, location), holder in sorted(
        plan.holders.items(), key=lambda kv: tuple(map(str, kv[0]))
    ):
        event_row, items = _holding_event(
            scope.di, holder, actor, owner, possessor, location, now, batch_id
        )
        event_rows.append(event_row)
        item_rows += items
        hold_rows.append(
            {
                "id": new_id(),
                "recall_id": recall_id,
                "batch_id": batch_id,
                "event_id": event_row["id"],
                "owner_id": owner,
                "possessor_id": possessor,
                "warehouse_id": holder.warehouse_id,
                "location_id": location,
                "quantity": holder.quantity,
                "created_at": now,
            }
        )
    insert_together(session, [(EV, event_rows)])  # then what row-level security checks on it
    insert_together(session, [(ITEM, item_rows), (HOLD, hold_rows)])
    _move_stock(session, plan, now)
    if plan.units:
        _hold_units(session, scope, batch_id, plan.units, now)
    # Sealed last, like a movement batch: the audit chain's head stays locked only until commit.
    from warehouse.services import audit

    audit.seal_batch(session, batch_id, event_rows, item_rows)


def _holding_event(
    di: str,
    holder: _Holder,
    actor: uuid.UUID,
    owner: uuid.UUID,
    possessor: uuid.UUID,
    location: uuid.UUID,
    now: datetime,
    batch_id: uuid.UUID,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    items = [
        NewItem(di=di, lot=lot or None, quantity=quantity, expiry=expiry)
        for (lot, expiry), quantity in sorted(holder.lots.items(), key=lambda kv: kv[0][0])
    ]
    items += [
        NewItem(di=di, serial=serial, lot=lot or None, expiry=expiry)
        for serial, lot, expiry in sorted(holder.serials)
    ]
    event = NewEvent(
        event_id=uuid.uuid4(),
        biz_step=BizStep.HOLDING,
        event_time=now.astimezone(CHINA_STANDARD_TIME),
        items=tuple(items),
        disposition=Disposition.RECALLED,
        read_point_id=location,
        location_id=location,
        acting_org_id=actor,
        owner_id=owner,
        possessor_id=possessor,
    )
    server_id = new_id()
    row = {
        "id": server_id,
        "event_id": event.event_id,
        "event_type": "object",
        "action": "OBSERVE",
        "biz_step": BizStep.HOLDING.value,
        "disposition": Disposition.RECALLED.value,
        "event_time": now,
        "event_time_offset": "+08:00",
        "recorded_at": now,
        "read_point_id": location,
        "location_id": location,
        "warehouse_id": holder.warehouse_id,
        "acting_org_id": actor,
        "owner_id": owner,
        "possessor_id": possessor,
        "documents": [],
        "event_hash": event_hash(event),
        "batch_id": batch_id,
    }
    item_rows = [
        {
            "id": new_id(),
            "event_id": server_id,
            "di": item.di,
            "serial": item.serial,
            "lot": item.lot,
            "quantity": item.quantity,
            "expiry": item.expiry,
        }
        for item in items
    ]
    return row, item_rows


def _move_stock(session: Session, plan: _HoldPlan, now: datetime) -> None:
    recalled: dict[tuple[Any, ...], dict[str, Any]] = {}
    for balance_id, quantity in sorted(plan.takes.items(), key=lambda kv: str(kv[0])):
        balance = plan.balances[balance_id]
        statement = (
            update(STOCK)
            .where(STOCK.c.id == balance_id, STOCK.c.quantity >= quantity)
            .values(quantity=STOCK.c.quantity - quantity, updated_at=now)
        )
        if session.execute(statement).rowcount != 1:
            raise _Retry("Expected the recalled stock unchanged, got a concurrent move.")
        key = (*_key(balance)[:4], RECALLED)
        line = recalled.setdefault(
            key,
            {
                "id": new_id(),
                "owner_id": balance["owner_id"],
                "possessor_id": balance["possessor_id"],
                "warehouse_id": balance["warehouse_id"],
                "location_id": balance["location_id"],
                "di": balance["di"],
                "lot": balance["lot"],
                "status": RECALLED,
                "expiry": balance["expiry"],
                "quantity": 0,
                "updated_at": now,
            },
        )
        line["quantity"] += quantity
    rows.add_stock(session, list(recalled.values()))


def _hold_units(
    session: Session, scope: RecallScope, batch_id: uuid.UUID, expected: int, now: datetime
) -> None:
    """Every matched unit in one statement, joined to the sweep's hold lines for the event."""
    if session.get_bind().dialect.name == "postgresql":
        # The sweep's hold lines are not in the statistics yet: estimated at one row, the
        # planner loops over them re-reading the units of each location (measured 2x slower
        # than the plain UPDATE); with a dozen rows known it hashes them and scans the lot once.
        session.execute(text("ANALYZE recall_holds"))
    statement = (
        update(UNIT)
        .where(
            _matched(UNIT, scope),
            UNIT.c.status.in_(HOLDABLE),
            HOLD.c.batch_id == batch_id,
            HOLD.c.owner_id == UNIT.c.owner_id,
            HOLD.c.possessor_id == UNIT.c.possessor_id,
            HOLD.c.location_id == UNIT.c.location_id,
        )
        .values(
            status=RECALLED,
            version=UNIT.c.version + 1,
            last_event_id=HOLD.c.event_id,
            updated_at=now,
        )
    )
    changed = session.execute(statement).rowcount
    if changed != expected:
        raise _Retry(f"Expected to hold {expected} units, got {changed}: they moved meanwhile.")


# --- Use cases ------------------------------------------------------------------------------------


class _Retry(Exception):
    """The goods moved between the locked read and the write: run the transaction again."""


RETRIES = 3


def _retrying(session: Session, body: Callable[[], uuid.UUID]) -> uuid.UUID:
    """Run ``body`` in one write transaction; re-run it after a concurrent move or a
    PostgreSQL serialization failure or deadlock (a movement batch locking the same stock)."""
    for attempt in range(RETRIES):
        try:
            with write_transaction(session):
                return body()
        except _Retry as error:
            if attempt == RETRIES - 1:
                raise Conflict("stock.conflict", f"{error} Retry the request.") from error
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) not in ("40001", "40P01"):
                raise
            if attempt == RETRIES - 1:
                raise Conflict(
                    "stock.conflict", "Expected the hold to apply, got a deadlock; retry."
                ) from error
    raise AssertionError("unreachable")


def create(session: Session, principal: Principal, new: NewRecall) -> dict[str, Any]:
    """Order a recall: blast radius and hold in one transaction; return the recall.

    Raises:
        ValidationFailed: Malformed scope, unknown DI, or no reason.
        PermissionDenied: The caller is not the registrant's org_manager (nor an admin).
        Conflict: ``stock.conflict`` if the goods kept moving under concurrent writers.
    """
    scope = _scope(new)
    recall_id = _retrying(session, lambda: _order(session, principal, new, scope))
    return get(session, principal, recall_id)


def _order(session: Session, principal: Principal, new: NewRecall, scope: RecallScope) -> uuid.UUID:
    """The body of :func:`create`: check, measure the blast radius, store, hold."""
    # A recall reaches every holder by design; the service authorises the caller itself (the
    # registrant orders; holders see only their own lines).
    see_every_row(session)
    recall_locks.lock_for_recall(session, scope.di)  # receipts in flight commit first
    device = device_rows.find_by_di(session, scope.di)
    if device is None:
        message = f"Expected a DI in the device catalogue, got {scope.di!r}."
        raise ValidationFailed("recall", [FieldError("di", "recall.unknown_device", message)])
    registrant = uuid.UUID(str(device.record.registrant_id))
    _require_registrant(principal, registrant)
    serialised = device.record.label_pi.serial
    now = datetime.now(UTC)
    radius = blast_radius(session, scope, serialised)
    plan = _plan_hold(session, scope, serialised)
    recall_id = new_id()
    session.execute(
        REC.insert().values(
            id=recall_id,
            di=scope.di,
            lots=list(scope.lots),
            serials=list(scope.serials),
            reason=new.reason,
            recall_class=new.recall_class.value,
            registrant_id=registrant,
            ordered_by_org_id=principal.organisation_id,
            ordered_by_token_id=principal.token_id,
            blast_radius=_jsonable({"as_of": now.isoformat(), **radius}),
            held_quantity=plan.quantity,
            created_at=now,
        )
    )
    _apply_hold(session, recall_id, registrant, scope, plan, now)
    return recall_id


def sweep(session: Session, principal: Principal, recall_id: uuid.UUID) -> dict[str, Any]:
    """Hold what matches the recall and is in stock but not yet recalled (arrived since).

    Raises:
        NotFound: No such recall visible to the caller.
        PermissionDenied: The caller may see it but not order holds for it.
    """
    _retrying(session, lambda: _sweep(session, principal, recall_id))
    return get(session, principal, recall_id)


def _sweep(session: Session, principal: Principal, recall_id: uuid.UUID) -> uuid.UUID:
    see_every_row(session)
    recall = _visible_recall(session, principal, recall_id)
    _require_registrant(principal, recall["registrant_id"])
    scope = _stored_scope(recall)
    recall_locks.lock_for_recall(session, scope.di)
    device = device_rows.find_by_di(session, scope.di)
    serialised = device is not None and device.record.label_pi.serial
    plan = _plan_hold(session, scope, serialised)
    if plan.holders:
        now = datetime.now(UTC)
        _apply_hold(session, recall_id, recall["registrant_id"], scope, plan, now)
    return recall_id


def _scope(new: NewRecall) -> RecallScope:
    errors = []
    scope = None
    try:
        scope = RecallScope.parse(new.di, list(new.lots), list(new.serials))
    except InvalidScope as error:
        errors += [FieldError(e.field, e.code, e.message) for e in error.errors]
    if not new.reason.strip():
        errors.append(
            FieldError("reason", "recall.scope", "Expected a reason for the recall, got none.")
        )
    elif "\x00" in new.reason:
        message = "Expected a reason without NUL characters, got one with NUL."
        errors.append(FieldError("reason", "recall.scope", message))
    if errors or scope is None:
        raise ValidationFailed("recall", errors)
    return scope


def _stored_scope(recall: Mapping[str, Any]) -> RecallScope:
    return RecallScope(recall["di"], tuple(recall["lots"]), tuple(recall["serials"]))


def _require_registrant(principal: Principal, registrant: uuid.UUID) -> None:
    if is_admin(principal):
        return
    if Role.ORG_MANAGER in principal.roles and principal.organisation_id == registrant:
        return
    raise PermissionDenied(
        f"Expected the org_manager of the registrant {registrant}, got organisation "
        f"{principal.organisation_id}."
    )


# --- Visibility and reads -------------------------------------------------------------------------


def _within(prefix: str) -> list[ColumnElement[bool]]:
    """A recall is within a jurisdiction if its registrant or a warehouse it holds goods in is."""
    registrants = select(ORG.c.id).where(ORG.c.jurisdiction.startswith(prefix, autoescape=True))
    in_warehouses = select(HOLD.c.recall_id).where(
        HOLD.c.warehouse_id.in_(
            select(WH.c.id).where(WH.c.jurisdiction.startswith(prefix, autoescape=True))
        )
    )
    return [REC.c.registrant_id.in_(registrants), REC.c.id.in_(in_warehouses)]


class _View:
    """What the caller sees of recalls: everything, or only its own lines as a holder."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def condition(self) -> ColumnElement[bool] | None:
        if is_admin(self.principal):
            return None
        org = self.principal.organisation_id
        held_by = select(HOLD.c.recall_id).where(
            or_(HOLD.c.owner_id == org, HOLD.c.possessor_id == org)
        )
        options = [
            REC.c.registrant_id == org,
            REC.c.ordered_by_org_id == org,
            REC.c.id.in_(held_by),
        ]
        prefix = regulator_prefix(self.principal)
        if prefix:
            options += _within(prefix)
        return or_(*options)

    def sees_all_of(self, session: Session, recall: Mapping[str, Any]) -> bool:
        """Admins, the registrant, the ordering organisation and regulators whose jurisdiction
        covers the recall see every holder.

        A regulator token of a holder outside its jurisdiction sees the recall as a holder (its
        own lines), not as a regulator: the jurisdiction test is the one of :meth:`condition`.
        """
        principal = self.principal
        org = principal.organisation_id
        if is_admin(principal) or org in (recall["registrant_id"], recall["ordered_by_org_id"]):
            return True
        prefix = regulator_prefix(principal)
        if prefix is None:
            return False
        covered = select(REC.c.id).where(REC.c.id == recall["id"], or_(*_within(prefix)))
        return session.execute(covered).first() is not None


def _visible_recall(session: Session, principal: Principal, recall_id: uuid.UUID) -> dict[str, Any]:
    condition = _View(principal).condition()
    query = select(REC).where(REC.c.id == recall_id)
    if condition is not None:
        query = query.where(condition)
    row = session.execute(query).mappings().first()
    if row is None:
        raise NotFound("recall", recall_id)
    return dict(row)


def get(session: Session, principal: Principal, recall_id: uuid.UUID) -> dict[str, Any]:
    """A recall with its blast radius (as ordered) and progress per holder (now).

    Holders that are not the registrant see only their own lines.

    Raises:
        NotFound: No such recall, or one the caller may not see.
    """
    with read_transaction(session):
        recall = _visible_recall(session, principal, recall_id)
        see_every_row(session)
        holders = _progress(session, recall)
        radius = recall["blast_radius"]
        if not _View(principal).sees_all_of(session, recall):
            own = str(principal.organisation_id)
            holders = [h for h in holders if h["holder_id"] == own]
            radius = _own_lines(radius, own)
        names = _names(session, radius, holders)
    return _present(recall, _named(radius, names), holders, names)


def list_recalls(
    session: Session, principal: Principal, page: PageRequest, di: str | None = None
) -> Page[dict[str, Any]]:
    """One page of the recalls the caller may see, oldest first (no progress: see :func:`get`)."""
    condition = _View(principal).condition()
    query = select(REC)
    if condition is not None:
        query = query.where(condition)
    if di is not None:
        query = query.where(REC.c.di == di)
    with read_transaction(session):
        return paginate(session, query, REC.c.id, page, lambda found: [dict(r) for r in found])


def _own_lines(radius: Mapping[str, Any], org: str) -> dict[str, Any]:
    parties = (
        "owner_id",
        "possessor_id",
        "organisation_id",
        "from_org_id",
        "destination_party_id",
    )
    own = {
        name: [line for line in radius[name] if any(line.get(p) == org for p in parties)]
        for name in Category
    }
    totals = {name: sum(line["quantity"] for line in own[name]) for name in Category}
    return {"as_of": radius["as_of"], **own, "totals": totals}


def _progress(session: Session, recall: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Progress per holder (possessing organisation): held, returned, destroyed, outstanding."""
    scope = _stored_scope(recall)
    held: dict[str, int] = defaultdict(int)
    places: dict[str, list[dict[str, Any]]] = defaultdict(list)
    query = (
        select(HOLD.c.possessor_id, HOLD.c.warehouse_id, HOLD.c.location_id, HOLD.c.quantity)
        .where(HOLD.c.recall_id == recall["id"])
        .order_by(HOLD.c.id)
    )
    for row in session.execute(query):
        holder = str(row[0])
        held[holder] += row[3]
        places[holder].append(
            {"warehouse_id": str(row[1]), "location_id": str(row[2]), "held": row[3]}
        )
    outstanding = _still_recalled(session, scope)
    since = as_utc(recall["created_at"])
    returned = {
        str(line["organisation_id"]): line["quantity"]
        for line in _by_step(session, scope, BizStep.RETURNING, since)
    }
    destroyed = {
        str(line["organisation_id"]): line["quantity"]
        for line in _by_step(session, scope, BizStep.DESTROYING, since)
    }
    lines = []
    for holder in sorted(held):
        counted = progress(
            held=held[holder],
            outstanding=outstanding.get(holder, 0),
            returned=returned.get(holder, 0),
            destroyed=destroyed.get(holder, 0),
        )
        lines.append({"holder_id": holder, **_progress_json(counted), "places": places[holder]})
    return lines


def _progress_json(counted: Progress) -> dict[str, Any]:
    return {
        "held": counted.held,
        "returned": counted.returned,
        "destroyed": counted.destroyed,
        "accounted_for": counted.accounted_for,
        "outstanding": counted.outstanding,
        "done": counted.done,
    }


def _still_recalled(session: Session, scope: RecallScope) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    if scope.lots:
        query = (
            select(STOCK.c.possessor_id, func.sum(STOCK.c.quantity))
            .where(STOCK.c.di == scope.di, STOCK.c.lot.in_(scope.lots), STOCK.c.status == RECALLED)
            .group_by(STOCK.c.possessor_id)
        )
        for row in session.execute(query):
            found[str(row[0])] += int(row[1])
    if scope.serials:
        query = (
            select(UNIT.c.possessor_id, func.count())
            .where(_single_serials(scope), UNIT.c.status == RECALLED)
            .group_by(UNIT.c.possessor_id)
        )
        for row in session.execute(query):
            found[str(row[0])] += int(row[1])
    return found


# --- Presentation ---------------------------------------------------------------------------------

_ORG_FIELDS = (
    "owner_id",
    "possessor_id",
    "organisation_id",
    "from_org_id",
    "destination_party_id",
    "holder_id",
)
_WAREHOUSE_FIELDS = ("warehouse_id", "from_warehouse_id", "destination_warehouse_id")


def _names(
    session: Session, radius: Mapping[str, Any], holders: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, str]]:
    """Names of every organisation, warehouse and location the answer mentions."""
    lines = [line for name in Category for line in radius[name]] + list(holders)
    lines += [place for holder in holders for place in holder["places"]]
    orgs = {str(line[f]) for line in lines for f in _ORG_FIELDS if line.get(f)}
    houses = {str(line[f]) for line in lines for f in _WAREHOUSE_FIELDS if line.get(f)}
    places = {str(line["location_id"]) for line in lines if line.get("location_id")}
    names: dict[str, dict[str, str]] = {}
    if orgs:
        query = select(ORG.c.id, ORG.c.name, ORG.c.credit_code).where(
            ORG.c.id.in_([uuid.UUID(o) for o in orgs])
        )
        for row in session.execute(query):
            names[str(row[0])] = {"name": row[1], "credit_code": row[2]}
    if houses:
        query = select(WH.c.id, WH.c.name, WH.c.jurisdiction).where(
            WH.c.id.in_([uuid.UUID(w) for w in houses])
        )
        for row in session.execute(query):
            names[str(row[0])] = {"name": row[1], "jurisdiction": row[2]}
    if places:
        query = select(LOC.c.id, LOC.c.code).where(LOC.c.id.in_([uuid.UUID(p) for p in places]))
        for row in session.execute(query):
            names[str(row[0])] = {"name": row[1]}
    return names


def _named(radius: Mapping[str, Any], names: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    named: dict[str, Any] = {"as_of": radius["as_of"], "totals": radius["totals"]}
    for category in Category:
        named[category.value] = [_with_names(line, names) for line in radius[category]]
    return named


def _with_names(line: Mapping[str, Any], names: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    body = dict(line)
    for name, value in line.items():
        if name.endswith("_id") and value and str(value) in names and name != "shipment_id":
            label = "location_code" if name == "location_id" else name[: -len("_id")] + "_name"
            body[label] = names[str(value)]["name"]
    return body


def _present(
    recall: Mapping[str, Any],
    radius: Mapping[str, Any],
    holders: Sequence[Mapping[str, Any]],
    names: Mapping[str, Mapping[str, str]],
) -> dict[str, Any]:
    recall_class = RecallClass(recall["recall_class"])
    named_holders = []
    for holder in holders:
        org = names.get(holder["holder_id"], {})
        places = [_with_names(place, names) for place in holder["places"]]
        named_holders.append(
            {
                **holder,
                "holder_name": org.get("name"),
                "credit_code": org.get("credit_code"),
                "places": places,
            }
        )
    totals = {
        key: sum(h[key] for h in holders)
        for key in ("held", "returned", "destroyed", "accounted_for", "outstanding")
    }
    return {
        **summary(recall),
        "recall_class_label_zh": recall_class.label_zh,
        "notify_within_days": recall_class.notify_within_days,
        "blast_radius": radius,
        "progress": {"totals": totals, "holders": named_holders},
    }


def summary(recall: Mapping[str, Any]) -> dict[str, Any]:
    """The fields every listing shows."""
    return {
        "id": str(recall["id"]),
        "di": recall["di"],
        "lots": list(recall["lots"]),
        "serials": list(recall["serials"]),
        "reason": recall["reason"],
        "recall_class": recall["recall_class"],
        "registrant_id": str(recall["registrant_id"]),
        "ordered_by_org_id": str(recall["ordered_by_org_id"]),
        "held_quantity": recall["held_quantity"],
        "created_at": as_utc(recall["created_at"]).isoformat(),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def as_utc(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without their zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- Exports --------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    ("category", "类别"),
    ("holder", "持有单位"),
    ("credit_code", "统一社会信用代码"),
    ("warehouse", "仓库"),
    ("location", "库位"),
    ("quantity", "数量"),
    ("returned", "已退回"),
    ("destroyed", "已销毁"),
    ("accounted_for", "已处置"),
    ("outstanding", "未处置"),
)
"""Export columns: (key, Chinese header); the header row shows ``中文 key``."""


def export_rows(recall: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per holder on hold (with progress), then per shipment, hospital and so on."""
    out = []
    for holder in recall["progress"]["holders"]:
        out.append(
            {
                "category": "on_hold",
                "holder": holder["holder_name"],
                "credit_code": holder["credit_code"],
                "warehouse": "; ".join(
                    sorted({p.get("warehouse_name") or p["warehouse_id"] for p in holder["places"]})
                ),
                "location": "; ".join(
                    p.get("location_code") or p["location_id"] for p in holder["places"]
                ),
                "quantity": holder["held"],
                "returned": holder["returned"],
                "destroyed": holder["destroyed"],
                "accounted_for": holder["accounted_for"],
                "outstanding": holder["outstanding"],
            }
        )
    radius = recall["blast_radius"]
    for line in radius[Category.IN_TRANSIT.value]:
        out.append(
            {
                "category": Category.IN_TRANSIT.value,
                "holder": line.get("destination_party_name"),
                "warehouse": line.get("destination_warehouse_name"),
                "quantity": line["quantity"],
            }
        )
    for category in (Category.DISPENSED, Category.DESTROYED, Category.RETURNED):
        for line in radius[category.value]:
            out.append(
                {
                    "category": category.value,
                    "holder": line.get("organisation_name"),
                    "quantity": line["quantity"],
                }
            )
    return [{key: row.get(key) for key, _ in EXPORT_COLUMNS} for row in out]


def _headers() -> list[str]:
    return [f"{zh} {key}" for key, zh in EXPORT_COLUMNS]


def export_csv(recall: Mapping[str, Any]) -> bytes:
    """CSV (UTF-8 with a BOM, so Excel opens the Chinese headers right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_headers())
    for row in export_rows(recall):
        writer.writerow(["" if v is None else v for v in row.values()])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def export_xlsx(recall: Mapping[str, Any]) -> bytes:
    """An XLSX workbook: the holders sheet and a sheet describing the recall."""
    from openpyxl import Workbook  # only the export needs it

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "holders"
    sheet.append(_headers())
    for row in export_rows(recall):
        sheet.append(list(row.values()))
    about = book.create_sheet("recall")
    for key in ("id", "di", "recall_class", "reason", "created_at", "held_quantity"):
        about.append([key, str(recall[key])])
    about.append(["lots", ", ".join(recall["lots"])])
    about.append(["serials", ", ".join(recall["serials"])])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
