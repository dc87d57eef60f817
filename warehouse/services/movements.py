"""Record movement events and keep the stock projections in step, in one transaction.

:func:`record` takes a batch (one event is a batch of one) and answers per event:
``accepted``, ``duplicate`` (the event_id was stored before with the same content) or
``rejected`` with the rule that refused it. Good events are kept when others fail.

How a batch runs (docs/movements.md):

1. ``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL every stock balance, container and shipment
   the batch can touch is read ``FOR UPDATE`` in a handful of queries (units are read
   without locks: they are written by compare-and-set). Event ids are not looked up on the
   first attempt (see :func:`record`); devices are read for all DIs at once.
2. Events are decided one by one, in request order, against that state held in memory: an
   event's effects are staged, and applied to the in-memory state only if every item passes,
   so a refused event leaves no trace and later events see earlier accepted ones.
3. The accepted events and the net changes are written with bulk Core statements; balances
   read change by id in one ``executemany`` guarded by ``quantity + delta >= 0``, new ones
   are upserted, and units are written by compare-and-set on ``version`` (one
   ``UPDATE … FROM unnest(arrays)`` on PostgreSQL). A row that changed anyway (rowcount
   short), a unique violation from a concurrent insert, or a PostgreSQL serialization
   failure/deadlock rolls back and re-runs the batch, which then sees the winner's writes
   and refuses the loser with a 409 problem.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from udi.checksums import gs1_mod10
from warehouse import tables
from warehouse.domain.custody import CustodyRequest, check_custody
from warehouse.domain.movements import (
    CONFLICT_CODES,
    DEFAULT_DISPOSITION,
    IN_STOCK,
    TRANSITIONS,
    Action,
    BizStep,
    Disposition,
    EventType,
    NewItem,
    Placement,
    Refusal,
    UnitState,
    UnitStatus,
    blocked_reason,
    check_step,
    is_expired,
    status_after,
)
from warehouse.domain.organisations import Organisation, OrgRole
from warehouse.domain.roles import Principal, Role
from warehouse.domain.warehouses import LocationPurpose
from warehouse.errors import UnknownFactError, WarehouseError
from warehouse.ids import new_id
from warehouse.repository import devices as device_rows
from warehouse.repository import movements as rows
from warehouse.repository import organisations as org_rows
from warehouse.repository import recall_locks
from warehouse.repository.bulk import Write, insert_together
from warehouse.repository.devices import StoredDevice
from warehouse.repository.pages import Page, PageRequest
from warehouse.services import (
    CHINA_STANDARD_TIME,
    audit,
    read_transaction,
    today,
    write_transaction,
)
from warehouse.services.access import SYSTEM, is_admin, regulator_prefix
from warehouse.services.custody import (
    MISSING,
    master_data_generation,
    remembered_facts,
)
from warehouse.services.errors import Conflict, FieldError, NotFound, ValidationFailed
from warehouse.services.remembered import RememberedRows

MAX_BATCH = 1000
RETRIES = 3

_LOCATIONS: RememberedRows[uuid.UUID, Mapping[str, Any]] = RememberedRows(rows.locations, 20_000)
_ORGANISATIONS: RememberedRows[uuid.UUID, Organisation] = RememberedRows(
    lambda session, ids: {
        uuid.UUID(org_id): org for org_id, org in org_rows.get_many(session, ids).items()
    },
    20_000,
)
_DEVICES: RememberedRows[str, StoredDevice] = RememberedRows(device_rows.find_many_by_di, 50_000)
S = UnitStatus

WRITER_ROLES = (
    Role.ADMIN,
    Role.ORG_MANAGER,
    Role.WAREHOUSE_OPERATOR,
    Role.SCANNER,
    Role.DISTRIBUTOR_SYNC,
    Role.HOSPITAL_USER,
)
"""Roles that may record events (for their own organisation; admins for any)."""

HOSPITAL_STEPS = frozenset({BizStep.STOCKING, BizStep.DISPENSING, BizStep.RETURNING})
"""All a ``hospital_user``-only token may record: department issue, use and return."""


# --- What the service receives and answers ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    """A business transaction the event belongs to (CBV ``bizTransaction``)."""

    type: str
    """``po``, ``desadv``, ``inv``, ``recadv``, ``rma``…"""

    id: str


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One event as a client sends it (EPCIS ObjectEvent/AggregationEvent fields)."""

    event_id: uuid.UUID
    biz_step: BizStep
    event_time: datetime
    """Aware datetime; stored as UTC plus its offset."""

    items: tuple[NewItem, ...] = ()
    event_type: EventType = EventType.OBJECT
    action: Action | None = None
    disposition: Disposition | None = None
    read_point_id: uuid.UUID | None = None
    """Where the scan happened (for lot quantities: the location they are taken from)."""

    location_id: uuid.UUID | None = None
    """Business location: where the goods are after the event."""

    acting_org_id: uuid.UUID | None = None
    staff_id: str | None = None
    scanner_device_id: str | None = None
    owner_id: uuid.UUID | None = None
    possessor_id: uuid.UUID | None = None
    source_party_id: uuid.UUID | None = None
    destination_party_id: uuid.UUID | None = None
    destination_warehouse_id: uuid.UUID | None = None
    shipment_id: uuid.UUID | None = None
    parent_sscc: str | None = None
    documents: tuple[Document, ...] = ()
    patient_ref: str | None = None
    encounter_ref: str | None = None
    corrects_event_id: uuid.UUID | None = None
    """Client event_id of an event declared erroneous, which this event corrects."""

    declares_event_id: uuid.UUID | None = None
    """Client event_id of an event this one declares erroneous (an error declaration)."""

    error_reason: str | None = None


_EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(NewEvent))
_ITEM_FIELDS = tuple(f.name for f in dataclasses.fields(NewItem))


class EventRefused(WarehouseError):
    """One event was refused; the batch goes on. Carries the problem's code and causes."""

    def __init__(
        self,
        code: str,
        detail: str,
        errors: Iterable[FieldError] = (),
        status: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = tuple(errors)
        self.status = status or _status_of(code)


def _status_of(code: str) -> int:
    if code in CONFLICT_CODES:
        return 409
    if code.startswith("auth."):
        return 403
    return 422


@dataclass(frozen=True, slots=True)
class EventResult:
    """The outcome for one event of a batch."""

    index: int
    status: str
    """``accepted``, ``duplicate`` or ``rejected``."""

    id: str | None
    """Server id of the stored event (the original one for a duplicate)."""

    problem: EventRefused | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Per-event outcomes, in request order."""

    batch_id: str
    results: tuple[EventResult, ...]

    def count(self, status: str) -> int:
        """How many events ended with ``status``."""
        return sum(1 for r in self.results if r.status == status)


# --- Canonical form and hash ----------------------------------------------------------------------


def canonical(event: NewEvent) -> dict[str, Any]:
    """The event as plain JSON values, without empty fields, for hashing and comparison."""
    body: dict[str, Any] = {}
    for name in _EVENT_FIELDS:
        value = getattr(event, name)
        if value is None or (type(value) is tuple and not value):  # `== ()` ran UUID.__eq__
            continue
        if name == "items":
            body[name] = [_plain_item(item) for item in value]
        elif name == "documents":
            body[name] = [{"type": d.type, "id": d.id} for d in value]
        elif name == "event_time":
            body[name] = _time_text(value)
        else:
            body[name] = _plain(value)
    return body


def _plain_item(item: NewItem) -> dict[str, Any]:
    return {
        name: _plain(value) for name in _ITEM_FIELDS if (value := getattr(item, name)) is not None
    }


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int:
        return value
    convert = _CONVERTERS.get(kind)
    if convert is None:
        convert = _CONVERTERS[kind] = _converter(kind)
    return convert(value)


def _converter(kind: type) -> Any:
    """How values of ``kind`` become JSON (depends on the type only, so it is kept per type)."""
    if issubclass(kind, Enum):
        return lambda value: value.value
    if issubclass(kind, uuid.UUID):
        return str
    if issubclass(kind, date):
        return lambda value: value.isoformat()
    return lambda value: value


_CONVERTERS: dict[type, Any] = {}


_DUMPS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def event_hash(event: NewEvent) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8)."""
    return hashlib.sha256(_DUMPS(canonical(event)).encode("utf-8")).hexdigest()


def _time_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat() + "|" + _offset(moment)


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def valid_sscc(sscc: str) -> bool:
    """Whether ``sscc`` is 18 digits with a correct GS1 check digit."""
    return len(sscc) == 18 and sscc.isdigit() and gs1_mod10(sscc[:17]) == int(sscc[17])


# --- Recording ----------------------------------------------------------------------------------


def record(
    session: Session, principal: Principal, events: Sequence[NewEvent | EventRefused]
) -> BatchResult:
    """Record a batch of events (an :class:`EventRefused` entry is an event refused earlier,
    e.g. by the request schema, kept in its place in the answer).

    Raises:
        ValidationFailed: With more than :data:`MAX_BATCH` events.
        Conflict: ``stock.conflict`` if the batch kept colliding with concurrent writers.
    """
    return record_as(session, [(principal, event) for event in events])


Sent = Sequence[tuple[Principal, NewEvent | EventRefused]]
"""Events, each with the caller who sent it."""

Then = Callable[[BatchResult], Sequence[Write] | None]
"""What writes the rows that belong with a batch's result (see :func:`record_as`)."""


def record_as(
    session: Session,
    batch: Sent | Callable[[Session], Sent],
    then: Then | None = None,
) -> BatchResult:
    """Record events sent by several callers in one transaction, each event checked against
    its own caller (scans of many handhelds committed together: scanning/combiner.py).

    ``batch`` may be a function that reads what it needs and returns the events: it then
    runs first thing in the transaction, again on every retry (the scans service reads which
    scans are stored already there, instead of in a transaction of its own). ``then`` writes
    what belongs with the result in the same transaction (the scans that carried the events);
    it runs again if the batch is retried. It runs once the batch's events are inserted, and
    the rows it returns are inserted with the batch's items, keys and units (one statement).

    Raises:
        ValidationFailed: With more than :data:`MAX_BATCH` events.
        Conflict: ``stock.conflict`` if the batch kept colliding with concurrent writers.
    """
    if not callable(batch):
        _check_size(batch)
    # The first attempt assumes every event_id is new (the usual case) and skips looking them
    # up: a replayed event is either refused by the state it already changed (the refused ids
    # are then looked up) or accepted again and fails event_keys' primary key. Either way
    # the batch is re-run with the lookup, which answers it as a duplicate (or
    # ``event.id_reused``); that re-run does not count as a retry.
    look_up = False
    attempt = 0
    while True:
        try:
            with write_transaction(session):
                events = _check_size(batch(session)) if callable(batch) else batch
                return _Batch(session, events, look_up=look_up).run(then)
        except _Replayed:
            look_up = True
            continue
        except (_Retry, IntegrityError) as error:
            if isinstance(error, IntegrityError):
                if not _unique_violation(error):
                    raise
                if not look_up:
                    look_up = True
                    continue
            attempt += 1
            if attempt == RETRIES:
                raise Conflict(
                    "stock.conflict",
                    "Expected the batch to apply, got concurrent changes to the same stock "
                    f"{RETRIES} times; retry it.",
                ) from error
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) not in ("40001", "40P01"):
                raise
            attempt += 1
            if attempt == RETRIES:
                raise Conflict(
                    "stock.conflict", "Expected the batch to apply, got a deadlock."
                ) from error


def _unique_violation(error: IntegrityError) -> bool:
    """A concurrent writer inserted the same unit, container or event first."""
    return getattr(error.orig, "sqlstate", None) == "23505" or "UNIQUE" in str(error.orig)


class _Retry(Exception):
    """A conditional write matched no row: something changed since the locked read."""


class _Replayed(Exception):
    """An event refused without looking its id up was stored before: re-run with the lookup."""


_MOVES_WITHIN = frozenset({BizStep.STORING, BizStep.STOCKING, BizStep.RETURNING})
"""Steps that place goods somewhere without a change of possession: the actor must still be
allowed to hold them in the destination warehouse (a hospital in its own store always is)."""

StockKey = tuple[uuid.UUID, uuid.UUID, uuid.UUID, str, str, str]
"""owner, possessor, location, DI, lot, status."""


@dataclass
class _Balance:
    warehouse_id: uuid.UUID
    expiry: date | None
    quantity: int
    stored: int
    """Quantity in the database when read (0 for a new balance)."""

    id: uuid.UUID | None = None
    """Row id of a balance read from the database (None for a new one)."""


@dataclass
class _Plan:
    """Everything one event would change, staged until all its items pass."""

    event_row: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    units: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    stock: dict[StockKey, int] = field(default_factory=lambda: defaultdict(int))
    stock_meta: dict[StockKey, tuple[uuid.UUID, date | None]] = field(default_factory=dict)
    boxes: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipment: tuple[dict[str, Any], list[dict[str, Any]]] | None = None
    received: uuid.UUID | None = None
    discrepancies: list[dict[str, Any]] = field(default_factory=list)
    recall_holds: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Context:
    """The event being planned, with what was resolved for it."""

    event: NewEvent
    plan: _Plan
    actor: uuid.UUID
    step: BizStep
    disposition: Disposition
    on: date
    location: Mapping[str, Any] | None
    read_point: Mapping[str, Any] | None


def _check_size(batch: Sent) -> Sent:
    if len(batch) > MAX_BATCH:
        message = f"Expected at most {MAX_BATCH} events, got {len(batch)}."
        raise ValidationFailed("batch", [FieldError("events", "request.batch_too_large", message)])
    return batch


class _Batch:
    def __init__(
        self,
        session: Session,
        batch: Sequence[tuple[Principal, NewEvent | EventRefused]],
        *,
        look_up: bool = True,
    ) -> None:
        self.session = session
        self.look_up = look_up  # look the event ids up first (else a replay fails the insert)
        self.principals = [principal for principal, _ in batch]
        self.principal = self.principals[0] if batch else SYSTEM
        """The caller of the event being planned (set by :meth:`_one`)."""
        self.events = [event for _, event in batch]
        self.now = datetime.now(UTC)
        self.batch_id = new_id()
        self.units: dict[tuple[str, str], dict[str, Any]] = {}
        self.recalls: dict[str, list[tuple[uuid.UUID, frozenset[str], frozenset[str]]]] = {}
        self.stored_units: dict[uuid.UUID, dict[str, Any]] = {}
        self.dirty_units: set[tuple[str, str]] = set()
        self.stock: dict[StockKey, _Balance] = {}
        self.boxes: dict[str, dict[str, Any]] = {}
        self.box_existed: set[str] = set()
        self.dirty_boxes: set[str] = set()
        self.shipments: dict[uuid.UUID, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        self.received: list[tuple[uuid.UUID, uuid.UUID]] = []
        self.custody: dict[tuple[Any, ...], EventRefused | None] = {}
        self.out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.known: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
        self.referable: dict[uuid.UUID, tuple[uuid.UUID, bool, uuid.UUID | None]] = {}
        self.generation = ""
        """The master-data generation, read first in :meth:`_load` (custody facts are reused
        while it stays the same: warehouse/services/custody.py)."""

    # -- the run --

    def run(self, then: Then | None = None) -> BatchResult:
        new = [e for e in self.events if isinstance(e, NewEvent)]
        if self.look_up:
            self.known = rows.existing_events(self.session, [e.event_id for e in new])
        self._load(new)
        results = []
        for index, event in enumerate(self.events):
            if isinstance(event, EventRefused):
                results.append(EventResult(index, "rejected", None, event))
                continue
            self.principal = self.principals[index]
            results.append(self._one(index, event))
        if not self.look_up:
            refused = [
                event.event_id
                for event, result in zip(self.events, results, strict=True)
                if isinstance(event, NewEvent) and result.status == "rejected"
            ]
            if refused and rows.existing_events(self.session, refused):
                raise _Replayed()
        result = BatchResult(str(self.batch_id), tuple(results))
        self._write_rows(then, result)  # before the balances and the seal: their locks last
        self._write_balances_and_seal()
        return result

    def _one(self, index: int, event: NewEvent) -> EventResult:
        digest = event_hash(event)
        prior = self.known.get(event.event_id)
        if prior is not None:
            if prior[1] == digest:
                return EventResult(index, "duplicate", str(prior[0]))
            refusal = EventRefused(
                "event.id_reused",
                f"Expected event_id {event.event_id} to repeat the stored event {prior[0]}, "
                "got different content.",
                [FieldError("event_id", "event.id_reused", "Use a new event_id.")],
            )
            return EventResult(index, "rejected", None, refusal)
        try:
            plan = self._plan(event, digest)
        except EventRefused as refusal:
            return EventResult(index, "rejected", None, refusal)
        self._apply(plan)
        server_id = plan.event_row["id"]
        self.known[event.event_id] = (server_id, digest)
        return EventResult(index, "accepted", str(server_id))

    # -- loading the state the batch can touch --

    def _load(self, events: list[NewEvent]) -> None:
        s = self.session
        # Before any master data is read: facts remembered under this generation are then at
        # least as new as it (read after, a change committed in between would be remembered
        # under the new value while built from what was read before it).
        # Locations, organisations and catalogue devices are master data too: taken from what
        # this process read under the same generation (warehouse/services/remembered.py).
        if events:
            self.generation = master_data_generation(s)
        location_ids = {e.location_id for e in events} | {e.read_point_id for e in events}
        self.locations = _LOCATIONS.get_many(s, self.generation, {i for i in location_ids if i})
        parties = {
            p
            for e in events
            for p in (
                e.acting_org_id,
                e.owner_id,
                e.possessor_id,
                e.source_party_id,
                e.destination_party_id,
            )
            if p
        }
        parties |= {principal.organisation_id for principal in self.principals}
        found = _ORGANISATIONS.get_many(s, self.generation, parties)
        self.organisations = {str(org_id): org for org_id, org in found.items()}
        self.warehouse_ids = rows.existing_warehouses(
            s, {e.destination_warehouse_id for e in events if e.destination_warehouse_id}
        )
        dis = {i.di for e in events for i in e.items if i.di}
        known = _DEVICES.get_many(s, self.generation, dis)
        self.devices: dict[str, StoredDevice | None] = {di: known.get(di) for di in dis}
        # Goods of a recalled lot or serial received after the recall go straight on recall
        # hold (one query, only for batches that receive).
        received = {
            i.di for e in events if e.biz_step is BizStep.RECEIVING for i in e.items if i.di
        }
        if received:
            recall_locks.lock_for_receipt(s, received)  # a recall ordered now waits for us
            self.recalls = rows.recalls_of(s, received)
        refs = {r for e in events for r in (e.corrects_event_id, e.declares_event_id) if r}
        for client_id, (server_id, declared, actor) in rows.event_references(s, refs).items():
            self.referable[client_id] = (server_id, declared, actor)
        self.shipments = rows.shipments(s, {e.shipment_id for e in events if e.shipment_id})
        ssccs = {i.sscc for e in events for i in e.items if i.sscc}
        ssccs |= {e.parent_sscc for e in events if e.parent_sscc}
        self.boxes = rows.containers(s, ssccs)
        self.box_existed = set(self.boxes)
        serials = {(i.di, i.serial) for e in events for i in e.items if i.di and i.serial}
        self.units = rows.units_by_serial(s, serials)
        conditions = []
        if ssccs:
            conditions.append(rows.UNIT.c.container_sscc.in_(ssccs))
        if self.shipments:
            conditions.append(rows.UNIT.c.shipment_id.in_(list(self.shipments)))
        if conditions:
            for unit in rows.units_where(s, or_(*conditions)):
                self.units.setdefault((unit["di"], unit["serial"]), unit)
        # The rows as read (never mutated: changes are new dicts), for writing only what changed.
        self.stored_units = {u["id"]: u for u in self.units.values()}
        in_transit = {u["shipment_id"] for u in self.units.values() if u["shipment_id"]}
        more = rows.shipments(s, in_transit - set(self.shipments))
        self.shipments.update(more)
        lots = {(i.di, i.lot or "") for e in events for i in e.items if i.di}
        lots |= {(u["di"], u["lot"]) for u in self.units.values()}
        lots |= {(i["di"], i["lot"]) for _, items in self.shipments.values() for i in items}
        for row in rows.stock_by_lot(s, lots, lock=not _only_adds(events)):
            key = _stock_key(row)
            self.stock[key] = _Balance(
                row["warehouse_id"], row["expiry"], row["quantity"], row["quantity"], row["id"]
            )

    # -- planning one event --

    def _plan(self, event: NewEvent, digest: str) -> _Plan:
        actor = self._actor(event)
        step = event.biz_step
        disposition = event.disposition or DEFAULT_DISPOSITION[step]
        on = event.event_time.astimezone(CHINA_STANDARD_TIME).date()
        location = self._location(event.location_id, "location_id")
        read_point = self._location(event.read_point_id, "read_point_id")
        self._check_parties(event)
        server_id = new_id()
        place = location or read_point  # shipping has no bizLocation: where it left from
        plan = _Plan(self._event_row(event, server_id, actor, disposition, place, digest))
        if event.declares_event_id is not None:
            self._declaration(event, plan, actor)
            return plan
        if event.corrects_event_id is not None:
            plan.event_row["corrects_event_id"] = self._declared(event.corrects_event_id)
        context = _Context(event, plan, actor, step, disposition, on, location, read_point)
        self._check_event(context)
        if step in (BizStep.PACKING, BizStep.UNPACKING):
            self._aggregation(context)
        elif TRANSITIONS[step].creates:
            self._receive(context)
        else:
            if step is BizStep.SHIPPING:
                self._start_shipment(context)
            for index, item in enumerate(event.items):
                self._item(context, index, item)
        self._parties_of_goods(plan)
        return plan

    @staticmethod
    def _parties_of_goods(plan: _Plan) -> None:
        """Name the goods' owner and possessor on the event when the client did not."""
        for column, position in (("owner_id", 0), ("possessor_id", 1)):
            if plan.event_row[column] is not None:
                continue
            found = {unit[column] for unit in plan.units.values()}
            found |= {key[position] for key in plan.stock}
            if len(found) == 1:
                plan.event_row[column] = found.pop()

    def _actor(self, event: NewEvent) -> uuid.UUID:
        principal = self.principal
        actor = event.acting_org_id or principal.organisation_id
        if actor != principal.organisation_id and not is_admin(principal):
            raise EventRefused(
                "auth.not_own_organisation",
                f"Expected events of your own organisation {principal.organisation_id}, "
                f"got acting organisation {actor}.",
            )
        if principal.roles == {Role.HOSPITAL_USER} and event.biz_step not in HOSPITAL_STEPS:
            raise EventRefused(
                "auth.role_required",
                "Expected a warehouse_operator or scanner token for "
                f"{event.biz_step}, got hospital_user (department issue, use and return only).",
            )
        if str(actor) not in self.organisations:
            raise _unknown("acting_org_id", "organisation", actor)
        return actor

    def _location(self, location_id: uuid.UUID | None, name: str) -> Mapping[str, Any] | None:
        if location_id is None:
            return None
        found = self.locations.get(location_id)
        if found is None:
            raise _unknown(name, "location", location_id)
        return found

    def _check_parties(self, event: NewEvent) -> None:
        for name in ("owner_id", "possessor_id", "source_party_id", "destination_party_id"):
            value = getattr(event, name)
            if value is not None and str(value) not in self.organisations:
                raise _unknown(name, "organisation", value)
        warehouse = event.destination_warehouse_id
        if warehouse is not None and warehouse not in self.warehouse_ids:
            raise _unknown("destination_warehouse_id", "warehouse", warehouse)

    def _declared(self, client_id: uuid.UUID) -> uuid.UUID:
        found = self.referable.get(client_id)
        if found is None or not found[1]:
            raise EventRefused(
                "event.unknown_reference",
                f"Expected corrects_event_id to name an event declared erroneous, got {client_id}.",
                [FieldError("corrects_event_id", "event.unknown_reference", "Declare it first.")],
            )
        return found[0]

    def _declaration(self, event: NewEvent, plan: _Plan, actor: uuid.UUID) -> None:
        assert event.declares_event_id is not None
        found = self.referable.get(event.declares_event_id)
        if found is None or (found[2] != actor and not is_admin(self.principal)):
            raise EventRefused(
                "event.unknown_reference",
                f"Expected declares_event_id to name an event of {actor}, got "
                f"{event.declares_event_id}.",
                [FieldError("declares_event_id", "event.unknown_reference", "Unknown event.")],
            )
        if event.error_reason not in ("did_not_occur", "incorrect_data"):
            raise EventRefused(
                "request.validation",
                "Expected error_reason did_not_occur or incorrect_data, "
                f"got {event.error_reason!r}.",
                [FieldError("error_reason", "field.required", "did_not_occur|incorrect_data")],
            )
        plan.event_row["declared_event_id"] = found[0]
        plan.event_row["error_reason"] = event.error_reason

    def _check_event(self, c: _Context) -> None:
        event, step = c.event, c.step
        transition = TRANSITIONS[step]
        if status_after(step, c.disposition, S.AVAILABLE) is None:
            raise _refused(
                "movement.disposition",
                f"Expected a disposition that fits {step}, got {c.disposition}.",
                "disposition",
            )
        aggregation = step in (BizStep.PACKING, BizStep.UNPACKING)
        if aggregation != (event.event_type is EventType.AGGREGATION):
            raise _refused(
                "movement.container",
                f"Expected an aggregation event for packing/unpacking only, got {step} as "
                f"{event.event_type}.",
                "event_type",
            )
        if not event.items and not aggregation:
            raise _refused("movement.quantity", "Expected at least one item, got none.", "items")
        if transition.placement is Placement.TO_LOCATION and c.location is None:
            raise _refused(
                "movement.location", f"Expected a location_id for {step}, got none.", "location_id"
            )
        if step is BizStep.STOCKING:
            assert c.location is not None
            if c.location["purpose"] != LocationPurpose.DEPARTMENT.value:
                raise _refused(
                    "movement.location",
                    f"Expected a department location (科室二级库), got a {c.location['purpose']} "
                    "location.",
                    "location_id",
                )
        if step is BizStep.SHIPPING and event.destination_party_id is None:
            raise _refused(
                "movement.location",
                "Expected a destination_party_id for shipping, got none.",
                "destination_party_id",
            )
        if step is BizStep.DISPENSING:
            self._check_patient(c)
        seen: set[tuple[str | None, str | None, str | None]] = set()
        for index, item in enumerate(event.items):
            self._check_item(index, item, seen)

    def _check_patient(self, c: _Context) -> None:
        if c.event.patient_ref and c.event.encounter_ref:
            return
        for index, item in enumerate(c.event.items):
            # A whole container used on a patient names only its SSCC: look at what is inside.
            inside = [item.di] if item.di else [di for di, _ in self._box_units(c, item.sscc or "")]
            for di in inside:
                device = self._device(di)
                if device is not None and device.record.implantable:
                    where = f" in container {item.sscc}" if item.sscc else ""
                    raise _refused(
                        "movement.patient_required",
                        f"Expected patient_ref and encounter_ref for implantable DI {di}{where}, "
                        "got none.",
                        f"items[{index}]",
                    )

    def _device(self, di: str | None) -> StoredDevice | None:
        """The catalogue entry of ``di``, read now if the batch's items did not name it (a
        unit inside a container)."""
        if not di:
            return None
        if di not in self.devices:
            self.devices[di] = _DEVICES.get_many(self.session, self.generation, [di]).get(di)
        return self.devices.get(di)

    def _check_item(
        self, index: int, item: NewItem, seen: set[tuple[str | None, str | None, str | None]]
    ) -> None:
        where = f"items[{index}]"
        if item.quantity < 1 or (item.serial and item.quantity != 1):
            raise _refused(
                "movement.quantity",
                f"Expected a positive quantity (1 for a serial), got {item.quantity}.",
                where,
            )
        if item.sscc is not None:
            if item.di or item.serial or item.lot:
                raise _refused(
                    "movement.container",
                    "Expected a container item to carry only its sscc, got a DI too.",
                    where,
                )
            if not valid_sscc(item.sscc):
                raise _refused(
                    "movement.container",
                    f"Expected an 18-digit SSCC with a valid check digit, got {item.sscc!r}.",
                    where,
                )
        elif not item.di:
            raise _refused("movement.quantity", "Expected a di or an sscc, got neither.", where)
        else:
            self._check_pi(where, item)
        identity = (item.di, item.serial or item.lot, item.sscc)
        if identity in seen and (item.serial or item.sscc):
            raise _refused(
                "movement.quantity", f"Expected each unit once, got {identity} twice.", where
            )
        seen.add(identity)

    def _check_pi(self, where: str, item: NewItem) -> None:
        assert item.di is not None
        device = self.devices.get(item.di)
        if device is None:
            raise _refused(
                "movement.unknown_device",
                f"Expected a DI in the device catalogue, got {item.di!r}.",
                where,
            )
        label = device.record.label_pi
        missing = [
            name
            for name, required, carried in (
                ("lot", label.lot, item.lot),
                ("serial", label.serial, item.serial),
                ("expiry", label.expiry_date, item.expiry),
                ("production_date", label.production_date, item.production_date),
            )
            if required and not carried
        ]
        if missing:
            raise _refused(
                "movement.pi_mismatch",
                f"Expected the production identifiers DI {item.di} declares, got no "
                f"{', '.join(missing)}.",
                where,
            )

    # -- custody --

    def _custody(self, c: _Context, di: str, owner: uuid.UUID) -> None:
        assert c.location is not None
        warehouse_id = c.location["warehouse_id"]
        operator = c.location["operator_id"]
        actor_org = self.organisations.get(str(c.actor))
        if (
            operator == c.actor
            and actor_org is not None
            and actor_org.has_role(OrgRole.MEDICAL_INSTITUTION)
        ):
            return  # a hospital's own store: 使用单位 need no operation licence
        key = (c.actor, warehouse_id, di, owner, c.on)
        if key not in self.custody:
            self.custody[key] = self._custody_refusal(c, warehouse_id, di, owner)
        refusal = self.custody[key]
        if refusal is not None:
            raise refusal

    def _custody_refusal(
        self, c: _Context, warehouse_id: uuid.UUID, di: str, owner: uuid.UUID
    ) -> EventRefused | None:
        request = CustodyRequest(str(c.actor), str(warehouse_id), di, str(owner), c.on)
        try:
            device = self.devices.get(di) if di in self.devices else MISSING
            scope = (self.principal.organisation_id, is_admin(self.principal))
            facts = remembered_facts(self.session, request, device, self.generation, scope)
            decision = check_custody(request, facts)
        except UnknownFactError as error:
            return _unknown("items", error.kind, error.key)
        if decision.allowed:
            return None
        return EventRefused(
            "custody.refused",
            f"Expected {self._name(c.actor)} to be allowed to hold DI {di} owned by "
            f"{self._name(owner)} in warehouse {warehouse_id} on {c.on.isoformat()}, got "
            "refused by every rule.",
            [FieldError("location_id", r.code, r.message) for r in decision.reasons],
        )

    def _name(self, org_id: uuid.UUID) -> str:
        org = self.organisations.get(str(org_id))
        return org.name if org is not None else str(org_id)

    # -- units and lots --

    def _unit(self, c: _Context, key: tuple[str, str]) -> dict[str, Any] | None:
        return c.plan.units.get(key) or self.units.get(key)

    def _state(self, unit: Mapping[str, Any]) -> UnitState:
        destination = None
        if unit["status"] == S.IN_TRANSIT and unit["shipment_id"] in self.shipments:
            destination = str(self.shipments[unit["shipment_id"]][0]["destination_party_id"])
        return UnitState(
            status=UnitStatus(unit["status"]),
            expiry=unit["expiry"],
            possessor_id=str(unit["possessor_id"]),
            location_id=str(unit["location_id"]) if unit["location_id"] else None,
            shipment_destination_id=destination,
        )

    def _item(self, c: _Context, index: int, item: NewItem) -> None:
        if item.sscc is not None:
            self._container_item(c, index, item.sscc)
        elif item.serial:
            assert item.di is not None
            self._move_unit(c, index, (item.di, item.serial), item)
        else:
            self._move_lot(c, index, item)
        c.plan.items.append(_item_row(c.plan.event_row["id"], item))

    def _move_unit(
        self,
        c: _Context,
        index: int,
        key: tuple[str, str],
        item: NewItem | None,
        via_box: bool = False,
    ) -> None:
        unit = self._unit(c, key)
        read_point = str(c.read_point["id"]) if c.read_point and not via_box else None
        refusal = check_step(
            c.step,
            self._state(unit) if unit else None,
            actor_id=str(c.actor),
            on=c.on,
            read_point_id=read_point,
            disposition=c.disposition,
        )
        if refusal is not None:
            raise _from_refusal(refusal, f"{key[0]} serial {key[1]}", f"items[{index}]")
        assert unit is not None
        if item is not None and item.lot and item.lot != unit["lot"]:
            raise _refused(
                "movement.pi_mismatch",
                f"Expected lot {unit['lot']!r} recorded for serial {key[1]}, got {item.lot!r}.",
                f"items[{index}]",
            )
        new_status = status_after(c.step, c.disposition, UnitStatus(unit["status"]))
        assert new_status is not None
        transition = TRANSITIONS[c.step]
        changed = dict(unit)
        if transition.placement is Placement.TO_LOCATION:
            assert c.location is not None
            self._check_destination(c, index, unit)
            changed["location_id"] = c.location["id"]
            changed["warehouse_id"] = c.location["warehouse_id"]
        elif transition.placement is Placement.LEAVES:
            changed["location_id"] = changed["warehouse_id"] = None
        if c.step is BizStep.SHIPPING:
            assert c.plan.shipment is not None
            changed["shipment_id"] = c.plan.shipment[0]["id"]
            c.plan.shipment[1].append(
                _shipment_item(c.plan.shipment[0]["id"], key[0], unit["lot"], key[1], 1, unit)
            )
        if not via_box and transition.placement is not Placement.STAYS:
            changed["container_sscc"] = None
        if transition.takes_possession:
            changed["owner_id"] = c.event.owner_id or c.actor
            changed["possessor_id"] = c.event.possessor_id or c.actor
            changed["shipment_id"] = None
        changed["status"] = new_status.value
        self._restock(c, unit, changed)
        c.plan.units[key] = changed

    def _check_destination(self, c: _Context, index: int, unit: Mapping[str, Any]) -> None:
        assert c.location is not None
        if c.step in _MOVES_WITHIN:
            self._custody(c, unit["di"], unit["owner_id"])
        if c.step is BizStep.STORING:
            pickable = c.location["purpose"] == LocationPurpose.NORMAL.value
            blocked = blocked_reason(self._state(unit), c.on)
            if pickable and blocked is not None:
                raise _from_refusal(
                    blocked, f"{unit['di']} serial {unit['serial']}", f"items[{index}]"
                )
        if TRANSITIONS[c.step].takes_possession:
            self._custody(c, unit["di"], c.event.owner_id or c.actor)

    def _restock(self, c: _Context, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """Move one serialised unit's count between balances."""
        if before.get("location_id") and before["status"] in IN_STOCK:
            self._stock_delta(c, _unit_key(before), -1, before)
        if after.get("location_id") and after["status"] in IN_STOCK:
            self._stock_delta(c, _unit_key(after), 1, after)

    def _stock_delta(self, c: _Context, key: StockKey, delta: int, meta: Mapping[str, Any]) -> None:
        c.plan.stock[key] += delta
        if key not in self.stock and key not in c.plan.stock_meta:
            c.plan.stock_meta[key] = (meta["warehouse_id"], meta["expiry"])

    def _available(self, c: _Context, key: StockKey) -> int:
        balance = self.stock.get(key)
        return (balance.quantity if balance else 0) + c.plan.stock.get(key, 0)

    def _move_lot(self, c: _Context, index: int, item: NewItem) -> None:
        assert item.di is not None
        transition = TRANSITIONS[c.step]
        source = c.read_point or (c.location if transition.placement is Placement.STAYS else None)
        where = f"items[{index}]"
        if source is None:
            raise _refused(
                "movement.location",
                f"Expected read_point_id (where lot {item.lot!r} is taken from), got none.",
                "read_point_id",
            )
        lot = item.lot or ""
        candidates = [
            key
            for key in sorted(set(self.stock) | set(c.plan.stock), key=_order)
            if key[1] == c.actor
            and key[2] == source["id"]
            and key[3] == item.di
            and key[4] == lot
            and (c.event.owner_id is None or key[0] == c.event.owner_id)
            and self._available(c, key) > 0
        ]
        label = f"{item.di} lot {lot!r}"
        if not candidates and any(
            key[1:5] == (c.actor, source["id"], item.di, lot) for key in self.stock
        ):
            raise _refused(
                "stock.insufficient",
                f"Expected {item.quantity} of {label} at location {source['id']}, got none left.",
                where,
            )
        if not candidates:
            raise _refused(
                "movement.not_in_stock",
                f"Expected {label} in your stock at location {source['id']}, got none.",
                where,
            )
        usable, blocked = [], None
        for key in candidates:
            state = UnitState(UnitStatus(key[5]), self._expiry(c, key), str(c.actor), None)
            refusal = check_step(
                c.step, state, actor_id=str(c.actor), on=c.on, disposition=c.disposition
            )
            if refusal is None:
                usable.append(key)
            elif blocked is None and refusal.code != "stock.conflict":
                blocked = refusal  # an already-picked balance is simply not usable
        usable.sort(key=lambda key: key[5] != S.PICKED.value)  # what was picked goes first
        total = sum(self._available(c, key) for key in usable)
        if total < item.quantity:
            if total == 0 and blocked is not None:
                raise _from_refusal(blocked, label, where)
            raise _refused(
                "stock.insufficient",
                f"Expected {item.quantity} of {label} at location {source['id']}, got "
                f"{total} usable.",
                where,
            )
        wanted = item.quantity
        for key in usable:
            take = min(wanted, self._available(c, key))
            if take == 0:
                continue
            wanted -= take
            self._lot_to(c, index, key, take)
            if wanted == 0:
                break

    def _expiry(self, c: _Context, key: StockKey) -> date | None:
        balance = self.stock.get(key)
        return balance.expiry if balance else c.plan.stock_meta.get(key, (None, None))[1]

    def _lot_to(self, c: _Context, index: int, key: StockKey, quantity: int) -> None:
        owner, possessor, location_id, di, lot, status = key
        expiry = self._expiry(c, key)
        warehouse = self.stock[key].warehouse_id if key in self.stock else c.plan.stock_meta[key][0]
        meta = {"warehouse_id": warehouse, "expiry": expiry}
        self._stock_delta(c, key, -quantity, meta)
        new_status = status_after(c.step, c.disposition, UnitStatus(status))
        assert new_status is not None
        transition = TRANSITIONS[c.step]
        if transition.placement is Placement.LEAVES:
            if c.step is BizStep.SHIPPING:
                assert c.plan.shipment is not None
                shipment_id = c.plan.shipment[0]["id"]
                c.plan.shipment[1].append(
                    _shipment_item(shipment_id, di, lot, None, quantity, {"expiry": expiry})
                )
            return
        if transition.placement is Placement.TO_LOCATION:
            assert c.location is not None
            location_id = c.location["id"]
            meta["warehouse_id"] = c.location["warehouse_id"]
            if c.step in _MOVES_WITHIN:
                self._custody(c, di, owner)
            if c.step is BizStep.STORING:
                pickable = c.location["purpose"] == LocationPurpose.NORMAL.value
                state = UnitState(UnitStatus(status), expiry)
                blocked = blocked_reason(state, c.on)
                if pickable and blocked is not None:
                    raise _from_refusal(blocked, f"{di} lot {lot!r}", f"items[{index}]")
        new_key = (owner, possessor, location_id, di, lot, new_status.value)
        self._stock_delta(c, new_key, quantity, meta)

    # -- containers --

    def _box(self, c: _Context, sscc: str) -> dict[str, Any] | None:
        return c.plan.boxes.get(sscc) or self.boxes.get(sscc)

    def _box_units(self, c: _Context, sscc: str) -> list[tuple[str, str]]:
        keys = set(self.units) | set(c.plan.units)
        found = []
        for key in sorted(keys):
            unit = self._unit(c, key)
            if unit is not None and unit["container_sscc"] == sscc:
                found.append(key)
        return found

    def _container_item(self, c: _Context, index: int, sscc: str) -> list[tuple[str, str]]:
        box = self._box(c, sscc)
        expected = "in_transit" if TRANSITIONS[c.step].creates else "packed"
        if box is None or box["status"] != expected:
            got = box["status"] if box else "unknown"
            raise _refused(
                "movement.container",
                f"Expected container {sscc} {expected}, got {got}.",
                f"items[{index}]",
            )
        inside = self._box_units(c, sscc)
        for key in inside:
            self._move_unit(c, index, key, None, via_box=True)
        placement = TRANSITIONS[c.step].placement
        changed = dict(box)
        if placement is Placement.TO_LOCATION:
            assert c.location is not None
            changed.update(
                location_id=c.location["id"],
                warehouse_id=c.location["warehouse_id"],
                status="packed",
                possessor_id=c.actor,
            )
        elif placement is Placement.LEAVES:
            status = "in_transit" if c.step is BizStep.SHIPPING else "unpacked"
            changed.update(location_id=None, warehouse_id=None, status=status)
        changed.update(last_event_id=c.plan.event_row["id"], updated_at=self.now)
        c.plan.boxes[sscc] = changed
        return inside

    def _aggregation(self, c: _Context) -> None:
        event = c.event
        parent = event.parent_sscc
        if parent is None or not valid_sscc(parent):
            raise _refused(
                "movement.container",
                f"Expected parent_sscc: 18 digits with a valid check digit, got {parent!r}.",
                "parent_sscc",
            )
        packing = c.step is BizStep.PACKING
        if event.action is not (Action.ADD if packing else Action.DELETE):
            raise _refused(
                "movement.container",
                f"Expected action {'ADD' if packing else 'DELETE'} for {c.step}, "
                f"got {event.action}.",
                "action",
            )
        box = self._box(c, parent)
        if not packing and (box is None or box["status"] != "packed"):
            raise _refused(
                "movement.container", f"Expected packed container {parent}.", "parent_sscc"
            )
        keys: list[tuple[str, str]] = []
        for index, item in enumerate(event.items):
            if not (item.di and item.serial):
                raise _refused(
                    "movement.container",
                    "Expected serialised units as children, got a lot quantity or container.",
                    f"items[{index}]",
                )
            keys.append((item.di, item.serial))
            c.plan.items.append(_item_row(c.plan.event_row["id"], item))
        if not packing and not keys:
            keys = self._box_units(c, parent)
        if packing and not keys:
            raise _refused("movement.quantity", "Expected units to pack, got none.", "items")
        places = set()
        for index, key in enumerate(keys):
            unit = self._unit(c, key)
            refusal = check_step(
                c.step, self._state(unit) if unit else None, actor_id=str(c.actor), on=c.on
            )
            if refusal is not None:
                raise _from_refusal(refusal, f"{key[0]} serial {key[1]}", f"items[{index}]")
            assert unit is not None
            inside = unit["container_sscc"]
            if (packing and inside not in (None, parent)) or (not packing and inside != parent):
                raise _refused(
                    "movement.container",
                    f"Expected serial {key[1]} {'outside any' if packing else 'in'} container "
                    f"{'' if packing else parent}, got container {inside}.",
                    f"items[{index}]",
                )
            places.add((unit["location_id"], unit["warehouse_id"]))
            c.plan.units[key] = {**unit, "container_sscc": parent if packing else None}
        if packing:
            if len(places) != 1 or (
                box is not None
                and box["status"] == "packed"
                and (box["location_id"], box["warehouse_id"]) not in places
            ):
                raise _refused(
                    "movement.container",
                    "Expected every unit packed into one container to be at one location, "
                    "got several.",
                    "items",
                )
            location_id, warehouse_id = places.pop()
            status = "packed"
        else:
            remaining = [k for k in self._box_units(c, parent) if k not in keys]
            location_id, warehouse_id = box["location_id"], box["warehouse_id"]  # type: ignore[index]
            status = "packed" if remaining else "unpacked"
        c.plan.boxes[parent] = {
            "sscc": parent,
            "possessor_id": c.actor,
            "warehouse_id": warehouse_id,
            "location_id": location_id,
            "status": status,
            "last_event_id": c.plan.event_row["id"],
            "updated_at": self.now,
        }

    # -- shipping and receiving --

    def _start_shipment(self, c: _Context) -> None:
        event = c.event
        assert event.destination_party_id is not None
        shipment_id = new_id()
        desadv = next((d.id for d in event.documents if d.type == "desadv"), None)
        from_warehouse = c.read_point["warehouse_id"] if c.read_point else None
        c.plan.shipment = (
            {
                "id": shipment_id,
                "shipping_event_id": c.plan.event_row["id"],
                "from_org_id": c.actor,
                "from_warehouse_id": from_warehouse,
                "destination_party_id": event.destination_party_id,
                "destination_warehouse_id": event.destination_warehouse_id,
                "despatch_ref": desadv,
                "status": "in_transit",
                "shipped_at": event.event_time,
                "received_event_id": None,
            },
            [],
        )
        c.plan.event_row["shipment_id"] = shipment_id

    def _receive(self, c: _Context) -> None:
        event = c.event
        assert c.location is not None
        owner = event.owner_id or c.actor
        possessor = event.possessor_id or c.actor
        shipment = self._receipt_shipment(c)
        shipped_serials: set[tuple[str, str]] = set()
        remaining: dict[tuple[str, str], int] = defaultdict(int)
        if shipment is not None:
            for line in shipment[1]:
                if line["serial"]:
                    shipped_serials.add((line["di"], line["serial"]))
                else:
                    remaining[(line["di"], line["lot"])] += line["quantity"]
        shipped_dis = {di for di, _ in shipped_serials} | {di for di, _ in remaining}
        for index, item in enumerate(event.items):
            if item.sscc is not None:
                shipped_serials -= set(self._container_item(c, index, item.sscc))
                c.plan.items.append(_item_row(c.plan.event_row["id"], item))
                continue
            assert item.di is not None
            self._custody(c, item.di, owner)
            kind = None
            if shipment is not None and item.di not in shipped_dis:
                kind = "substitution"
            if item.serial:
                key = (item.di, item.serial)
                on_shipment = key in shipped_serials
                if shipment is not None and not on_shipment and kind is None:
                    kind = "unexpected_unit"
                shipped_serials.discard(key)
                self._receive_unit(c, index, item, owner, possessor, hold=kind is not None)
                if kind is not None:
                    self._discrepancy(c, shipment, kind, item, 0, 1, shipped_dis)
            else:
                lot_key = (item.di, item.lot or "")
                matched = item.quantity
                if shipment is not None:
                    matched = min(item.quantity, remaining.get(lot_key, 0))
                    remaining[lot_key] = remaining.get(lot_key, 0) - matched
                self._receive_lot(c, item, owner, possessor, matched, S.PENDING_ACCEPTANCE)
                extra = item.quantity - matched
                if extra:
                    self._receive_lot(c, item, owner, possessor, extra, S.ON_HOLD)
                    expected = matched if kind is None else 0
                    self._discrepancy(
                        c, shipment, kind or "over", item, expected, item.quantity, shipped_dis
                    )
            c.plan.items.append(_item_row(c.plan.event_row["id"], item))
        if shipment is None:
            return
        for di, serial in sorted(shipped_serials):
            short = NewItem(di=di, serial=serial, lot=self._lot_of(di, serial))
            self._discrepancy(c, shipment, "short", short, 1, 0, shipped_dis)
        for (di, lot), quantity in sorted(remaining.items()):
            if quantity > 0:
                shipped = sum(
                    line["quantity"]
                    for line in shipment[1]
                    if (line["di"], line["lot"]) == (di, lot) and not line["serial"]
                )
                short = NewItem(di=di, lot=lot, quantity=quantity)
                self._discrepancy(c, shipment, "short", short, shipped, shipped - quantity, set())
        c.plan.received = shipment[0]["id"]
        c.plan.event_row["shipment_id"] = shipment[0]["id"]

    def _lot_of(self, di: str, serial: str) -> str | None:
        unit = self.units.get((di, serial))
        return unit["lot"] if unit else None

    def _receipt_shipment(self, c: _Context) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        shipment_id = c.event.shipment_id
        if shipment_id is None:
            keys = [(i.di or "", i.serial or "") for i in c.event.items if i.serial]
            for sscc in {i.sscc for i in c.event.items if i.sscc}:
                keys += self._box_units(c, sscc)
            for key in keys:
                unit = self.units.get(key)
                if unit is not None and unit["status"] == S.IN_TRANSIT:
                    shipment_id = unit["shipment_id"]
                    break
        if shipment_id is None:
            return None
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            raise _unknown("shipment_id", "shipment", shipment_id)
        head = shipment[0]
        if head["destination_party_id"] != c.actor or head["status"] != "in_transit":
            raise _refused(
                "movement.not_in_stock",
                f"Expected shipment {shipment_id} in transit to {self._name(c.actor)}, got "
                f"status {head['status']} to {self._name(head['destination_party_id'])}.",
                "shipment_id",
            )
        return shipment

    def _receive_unit(
        self,
        c: _Context,
        index: int,
        item: NewItem,
        owner: uuid.UUID,
        possessor: uuid.UUID,
        *,
        hold: bool,
    ) -> None:
        assert c.location is not None
        assert item.di
        assert item.serial
        key = (item.di, item.serial)
        unit = self._unit(c, key)
        refusal = check_step(
            c.step, self._state(unit) if unit else None, actor_id=str(c.actor), on=c.on
        )
        if refusal is not None:
            raise _from_refusal(refusal, f"{item.di} serial {item.serial}", f"items[{index}]")
        status = S.ON_HOLD if hold else S.PENDING_ACCEPTANCE
        lot = unit["lot"] if unit is not None else item.lot or ""
        recall = self._recall_of(item.di, lot, item.serial)
        if recall is not None:
            status = S.RECALLED
            self._hold_for_recall(c, recall, owner, possessor, 1)
        if unit is not None and item.lot and item.lot != unit["lot"]:
            raise _refused(
                "movement.pi_mismatch",
                f"Expected lot {unit['lot']!r} shipped for serial {item.serial}, got {item.lot!r}.",
                f"items[{index}]",
            )
        base = unit or {
            "id": new_id(),
            "di": item.di,
            "serial": item.serial,
            "lot": item.lot or "",
            "expiry": item.expiry,
            "production_date": item.production_date,
            "version": 0,
            "container_sscc": None,
            "location_id": None,
            "status": S.IN_TRANSIT.value,
            "_new": True,
        }
        changed = {
            **base,
            "owner_id": owner,
            "possessor_id": possessor,
            "location_id": c.location["id"],
            "warehouse_id": c.location["warehouse_id"],
            "status": status.value,
            "shipment_id": None,
        }
        self._restock(c, base, changed)
        c.plan.units[key] = changed

    def _receive_lot(
        self,
        c: _Context,
        item: NewItem,
        owner: uuid.UUID,
        possessor: uuid.UUID,
        quantity: int,
        status: UnitStatus,
    ) -> None:
        assert c.location is not None
        assert item.di
        if quantity <= 0:
            return
        recall = self._recall_of(item.di, item.lot or "", None)
        if recall is not None:
            status = S.RECALLED
            self._hold_for_recall(c, recall, owner, possessor, quantity)
        key = (owner, possessor, c.location["id"], item.di, item.lot or "", status.value)
        meta = {"warehouse_id": c.location["warehouse_id"], "expiry": item.expiry}
        self._stock_delta(c, key, quantity, meta)

    def _recall_of(self, di: str, lot: str, serial: str | None) -> uuid.UUID | None:
        """The recall covering this lot or serial, if one was ordered."""
        for recall_id, lots, serials in self.recalls.get(di, ()):
            if lot in lots or (serial is not None and serial in serials):
                return recall_id
        return None

    def _hold_for_recall(
        self,
        c: _Context,
        recall_id: uuid.UUID,
        owner: uuid.UUID,
        possessor: uuid.UUID,
        quantity: int,
    ) -> None:
        """Count goods received on recall hold in the recall's progress (recall_holds)."""
        assert c.location is not None
        c.plan.recall_holds.append(
            {
                "recall_id": recall_id,
                "event_id": c.plan.event_row["id"],
                "owner_id": owner,
                "possessor_id": possessor,
                "warehouse_id": c.location["warehouse_id"],
                "location_id": c.location["id"],
                "quantity": quantity,
            }
        )

    def _discrepancy(
        self,
        c: _Context,
        shipment: tuple[dict[str, Any], list[dict[str, Any]]] | None,
        kind: str,
        item: NewItem,
        expected: int,
        received: int,
        shipped_dis: set[str],
    ) -> None:
        if shipment is None:
            return
        assert c.location is not None
        assert item.di
        substituted = sorted(shipped_dis - {i.di for i in c.event.items if i.di})
        c.plan.discrepancies.append(
            {
                "id": new_id(),
                "shipment_id": shipment[0]["id"],
                "receiving_event_id": c.plan.event_row["id"],
                "organisation_id": c.actor,
                "warehouse_id": c.location["warehouse_id"],
                "kind": kind,
                "di": item.di,
                "lot": item.lot or "",
                "serial": item.serial,
                "expected_di": substituted[0] if kind == "substitution" and substituted else None,
                "expected_quantity": expected,
                "received_quantity": received,
                "created_at": self.now,
            }
        )

    # -- rows --

    def _event_row(
        self,
        event: NewEvent,
        server_id: uuid.UUID,
        actor: uuid.UUID,
        disposition: Disposition,
        location: Mapping[str, Any] | None,
        digest: str,
    ) -> dict[str, Any]:
        action = event.action or {
            BizStep.PACKING: Action.ADD,
            BizStep.UNPACKING: Action.DELETE,
        }.get(event.biz_step, Action.OBSERVE)
        return {
            "id": server_id,
            "event_id": event.event_id,
            "event_type": event.event_type.value,
            "action": action.value,
            "biz_step": event.biz_step.value,
            "disposition": disposition.value,
            "event_time": event.event_time.astimezone(UTC),
            "event_time_offset": _offset(event.event_time),
            "recorded_at": self.now,
            "read_point_id": event.read_point_id,
            "location_id": event.location_id,
            "warehouse_id": location["warehouse_id"] if location else None,
            "acting_org_id": actor,
            "staff_id": event.staff_id,
            "scanner_device_id": event.scanner_device_id,
            "owner_id": event.owner_id,
            "possessor_id": event.possessor_id,
            "source_party_id": event.source_party_id,
            "destination_party_id": event.destination_party_id,
            "destination_warehouse_id": event.destination_warehouse_id,
            "shipment_id": event.shipment_id,
            "parent_sscc": event.parent_sscc,
            "documents": [{"type": d.type, "id": d.id} for d in event.documents],
            "patient_ref": event.patient_ref,
            "encounter_ref": event.encounter_ref,
            "corrects_event_id": None,
            "declared_event_id": None,
            "error_reason": None,
            "event_hash": digest,
            "batch_id": self.batch_id,
        }

    # -- applying and writing --

    def _apply(self, plan: _Plan) -> None:
        for key, unit in plan.units.items():
            self.units[key] = {**unit, "last_event_id": plan.event_row["id"]}
            self.dirty_units.add(key)
        for key, delta in plan.stock.items():
            if key not in self.stock:
                warehouse, expiry = plan.stock_meta[key]
                self.stock[key] = _Balance(warehouse, expiry, 0, 0)
            self.stock[key].quantity += delta
        self.boxes.update(plan.boxes)
        self.dirty_boxes.update(plan.boxes)
        if plan.shipment is not None:
            self.shipments[plan.shipment[0]["id"]] = plan.shipment
            self.out["shipments"].append(plan.shipment[0])
            self.out["shipment_items"] += plan.shipment[1]
        if plan.received is not None:
            head = self.shipments[plan.received][0]
            self.shipments[plan.received] = ({**head, "status": "received"}, [])
            self.received.append((plan.received, plan.event_row["id"]))
        declared = plan.event_row["declared_event_id"]
        if declared is not None:
            for client_id, (server_id, _, actor) in list(self.referable.items()):
                if server_id == declared:
                    self.referable[client_id] = (server_id, True, actor)
        event_id = plan.event_row["event_id"]
        self.referable[event_id] = (plan.event_row["id"], False, plan.event_row["acting_org_id"])
        self.out["events"].append(plan.event_row)
        self.out["event_items"] += plan.items
        self.out["discrepancies"] += plan.discrepancies
        self.out["recall_holds"] += plan.recall_holds

    def _recall_hold_rows(self) -> list[dict[str, Any]]:
        return _recall_hold_rows_of(self.out["recall_holds"], self.batch_id, self.now)

    def _write_rows(self, then: Then | None, result: BatchResult) -> None:
        """Insert and update the batch's own rows (events, items, units, containers…), and
        the rows ``then(result)`` returns with them; ``then`` runs once the events are stored
        (the EPCIS service looks them up to refuse recording an eventID an applied event has)."""
        s = self.session
        new_units, changed_units = [], []
        for key in sorted(self.dirty_units):
            unit = {k: v for k, v in self.units[key].items() if k != "_new"}
            unit["updated_at"] = self.now
            (new_units if self.units[key].get("_new") else changed_units).append(unit)
        # Two statements: the rows of the second are checked against their parents in the
        # first by row-level security (warehouse/repository/bulk.py).
        parents = [(tables.shipments, self.out["shipments"]), (tables.events, self.out["events"])]
        insert_together(s, parents)
        more = (then(result) or []) if then is not None else []
        insert_together(
            s,
            [
                rows.event_keys(self.out["events"]),
                (tables.event_items, self.out["event_items"]),
                (tables.shipment_items, self.out["shipment_items"]),
                (tables.units, new_units),
                *more,
            ],
        )
        if rows.update_units(s, changed_units, self.stored_units) != len(changed_units):
            raise _Retry()
        for sscc in sorted(self.dirty_boxes):
            rows.upsert_container(s, self.boxes[sscc], sscc in self.box_existed)
        for shipment_id, event_id in self.received:
            if not rows.mark_received(s, shipment_id, event_id):
                raise _Retry()
        insert_together(
            s,
            [
                (tables.discrepancies, self.out["discrepancies"]),
                (tables.recall_holds, self._recall_hold_rows()),
            ],
        )

    def _write_balances_and_seal(self) -> None:
        """Balances other batches may change too, and the chain's head, come last: their row
        locks are held from here to the commit only."""
        s = self.session
        additions, changes = [], []
        for key, balance in sorted(self.stock.items(), key=lambda kv: _order(kv[0])):
            delta = balance.quantity - balance.stored
            if delta == 0:
                continue
            if balance.id is not None:
                changes.append((balance.id, delta))
            elif delta < 0:
                raise _Retry()  # cannot happen: only balances read can be taken from
            else:
                additions.append(
                    {
                        "id": new_id(),
                        **_key_dict(key),
                        "warehouse_id": balance.warehouse_id,
                        "expiry": balance.expiry,
                        "quantity": delta,
                        "updated_at": self.now,
                    }
                )
        # Existing balances (locked when read on PostgreSQL) change by id in one executemany;
        # new ones are upserted, in case a concurrent batch created the same balance.
        if not rows.change_stock(s, changes, self.now):
            raise _Retry()
        rows.add_stock(s, additions)
        # Sealed last: the audit chain's head stays locked only from here to the commit.
        audit.seal_batch(s, self.batch_id, self.out["events"], self.out["event_items"])


def _only_adds(events: Sequence[NewEvent]) -> bool:
    """Whether every event is a receipt of loose goods (no shipment, no container): such a
    batch only adds stock, so its balances need no lock when read (an increment cannot fail),
    and concurrent receipts of one lot overlap instead of queueing for the whole transaction."""
    return all(
        e.biz_step is BizStep.RECEIVING
        and e.shipment_id is None
        and all(item.sscc is None for item in e.items)
        for e in events
    )


def _recall_hold_rows_of(
    holds: list[dict[str, Any]], batch_id: uuid.UUID, now: datetime
) -> list[dict[str, Any]]:
    """One row per holder and location of this batch (the table's key), quantities summed;
    a place receiving goods of two recalls in one batch is counted under the first."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for hold in holds:
        key = (hold["owner_id"], hold["possessor_id"], hold["location_id"])
        if key in merged:
            merged[key]["quantity"] += hold["quantity"]
        else:
            merged[key] = {**hold, "id": new_id(), "batch_id": batch_id, "created_at": now}
    return list(merged.values())


def _stock_key(row: Mapping[str, Any]) -> StockKey:
    return (
        row["owner_id"],
        row["possessor_id"],
        row["location_id"],
        row["di"],
        row["lot"],
        row["status"],
    )


def _unit_key(unit: Mapping[str, Any]) -> StockKey:
    return (
        unit["owner_id"],
        unit["possessor_id"],
        unit["location_id"],
        unit["di"],
        unit["lot"],
        unit["status"],
    )


_STATUS_ORDER = {s.value: n for n, s in enumerate(UnitStatus)}


def _order(key: StockKey) -> tuple[Any, ...]:
    # Available before picked, then by the other parts: the order a lot is drawn from.
    return (_STATUS_ORDER.get(key[5], 99), str(key[0]), str(key[1]), str(key[2]), key[3], key[4])


def _key_dict(key: StockKey) -> dict[str, Any]:
    names = ("owner_id", "possessor_id", "location_id", "di", "lot", "status")
    return dict(zip(names, key, strict=True))


def _item_row(event_id: uuid.UUID, item: NewItem) -> dict[str, Any]:
    return {
        "id": new_id(),
        "event_id": event_id,
        "di": item.di,
        "serial": item.serial,
        "lot": item.lot,
        "quantity": item.quantity,
        "expiry": item.expiry,
        "production_date": item.production_date,
        "sscc": item.sscc,
    }


def _shipment_item(
    shipment_id: uuid.UUID,
    di: str,
    lot: str,
    serial: str | None,
    quantity: int,
    source: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "shipment_id": shipment_id,
        "di": di,
        "lot": lot,
        "serial": serial,
        "quantity": quantity,
        "expiry": source.get("expiry"),
    }


def _refused(code: str, message: str, where: str) -> EventRefused:
    return EventRefused(code, message, [FieldError(where, code, message)])


def _from_refusal(refusal: Refusal, what: str, where: str) -> EventRefused:
    return _refused(refusal.code, f"{what}: {refusal.message}", where)


def _unknown(name: str, kind: str, key: object) -> EventRefused:
    message = f"Expected an existing {kind}, got {key}."
    return EventRefused(
        "reference.unknown", message, [FieldError(name, "reference.unknown", message)]
    )


# --- Reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFilter:
    """EPCIS-like event query parameters."""

    event_time_from: datetime | None = None
    event_time_to: datetime | None = None
    biz_step: BizStep | None = None
    disposition: Disposition | None = None
    location_id: uuid.UUID | None = None
    warehouse_id: uuid.UUID | None = None
    di: str | None = None
    lot: str | None = None
    serial: str | None = None
    sscc: str | None = None
    party_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    error_declaration: bool | None = None
    event_type: EventType | None = None


def _event_parties() -> tuple[Any, ...]:
    ev = rows.EV
    return (
        ev.c.acting_org_id,
        ev.c.owner_id,
        ev.c.possessor_id,
        ev.c.source_party_id,
        ev.c.destination_party_id,
    )


def get_event(session: Session, principal: Principal, event_id: str) -> dict[str, Any]:
    """One event by server id, if the caller may see it.

    Raises:
        NotFound: If there is no such event, or the caller is none of its parties.
    """
    ev = rows.EV
    conditions = _visible(principal, _event_parties(), ev.c.warehouse_id)
    conditions.append(ev.c.id == uuid.UUID(event_id))
    with read_transaction(session):
        page = rows.events_page(session, PageRequest(limit=1), conditions)
    if not page.items:
        raise NotFound("event", event_id)
    return page.items[0]


def list_events(
    session: Session, principal: Principal, page: PageRequest, where: EventFilter
) -> Page[dict[str, Any]]:
    """One page of the events the caller may see, in recording order."""
    ev = rows.EV
    parties = _event_parties()
    conditions = _visible(principal, parties, ev.c.warehouse_id)
    simple: list[tuple[Any, Any]] = [
        (ev.c.biz_step, where.biz_step),
        (ev.c.disposition, where.disposition),
        (ev.c.location_id, where.location_id),
        (ev.c.warehouse_id, where.warehouse_id),
        (ev.c.event_id, where.event_id),
        (ev.c.event_type, where.event_type),
    ]
    conditions += [column == value for column, value in simple if value is not None]
    # Stored as UTC; compare in UTC (SQLite keeps the wall-clock digits only).
    if where.event_time_from is not None:
        conditions.append(ev.c.event_time >= where.event_time_from.astimezone(UTC))
    if where.event_time_to is not None:
        conditions.append(ev.c.event_time < where.event_time_to.astimezone(UTC))
    if where.party_id is not None:
        conditions.append(or_(*(column == where.party_id for column in parties)))
    if where.error_declaration is not None:
        declared = ev.c.declared_event_id.is_not(None)
        conditions.append(declared if where.error_declaration else ~declared)
    items = rows.item_condition(where.di, where.lot, where.serial, where.sscc)
    if items is not None:
        conditions.append(items)
    with read_transaction(session):
        return rows.events_page(session, page, conditions)


@dataclass(frozen=True, slots=True)
class StockFilter:
    """Stock query parameters."""

    warehouse_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    possessor_id: uuid.UUID | None = None
    di: str | None = None
    lot: str | None = None
    status: UnitStatus | None = None
    expiring_before: date | None = None


def list_stock(
    session: Session, principal: Principal, page: PageRequest, where: StockFilter
) -> Page[dict[str, Any]]:
    """One page of on-hand balances the caller may see (owner, possessor or regulator)."""
    st = rows.STOCK
    conditions = _visible(principal, (st.c.owner_id, st.c.possessor_id), st.c.warehouse_id)
    simple: list[tuple[Any, Any]] = [
        (st.c.warehouse_id, where.warehouse_id),
        (st.c.location_id, where.location_id),
        (st.c.owner_id, where.owner_id),
        (st.c.possessor_id, where.possessor_id),
        (st.c.di, where.di),
        (st.c.lot, where.lot),
    ]
    conditions += [column == value for column, value in simple if value is not None]
    day = today()
    if where.status is S.EXPIRED:
        conditions += [st.c.status == S.AVAILABLE.value, st.c.expiry < day]
    elif where.status is S.AVAILABLE:
        conditions += [
            st.c.status == S.AVAILABLE.value,
            or_(st.c.expiry.is_(None), st.c.expiry >= day),
        ]
    elif where.status is not None:
        conditions.append(st.c.status == where.status.value)
    if where.expiring_before is not None:
        conditions.append(st.c.expiry < where.expiring_before)
    with read_transaction(session):
        return rows.stock_page(session, page, conditions)


def effective_status(status: str, expiry: date | None, on: date | None = None) -> UnitStatus:
    """The status shown: available goods past their expiry show as ``expired``."""
    if status == S.AVAILABLE.value and is_expired(expiry, on or today()):
        return S.EXPIRED
    return UnitStatus(status)


def fefo(
    session: Session,
    principal: Principal,
    di: str,
    quantity: int,
    warehouse_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """First-expiry-first-out pick suggestion: which lots and locations to take from.

    Skips blocked stock (on hold, recalled, pending acceptance, expired) and locations that
    are not pickable. Returns the suggestion lines and the quantity still missing.
    """
    st = rows.STOCK
    conditions = _visible(principal, (st.c.owner_id, st.c.possessor_id), st.c.warehouse_id)
    if warehouse_id is not None:
        conditions.append(st.c.warehouse_id == warehouse_id)
    if owner_id is not None:
        conditions.append(st.c.owner_id == owner_id)
    with read_transaction(session):
        found = rows.fefo(session, di, conditions, today(), limit=200)
    lines, wanted = [], quantity
    for row in found:
        if wanted <= 0:
            break
        take = min(wanted, row["quantity"])
        lines.append({**row, "take": take})
        wanted -= take
    return lines, max(wanted, 0)


def list_discrepancies(
    session: Session,
    principal: Principal,
    page: PageRequest,
    shipment_id: uuid.UUID | None = None,
    kind: str | None = None,
) -> Page[dict[str, Any]]:
    """One page of receipt discrepancies seen by the receiver, the shipper or a regulator."""
    disc = rows.DISC
    conditions: list[ColumnElement[bool]] = []
    if not is_admin(principal):
        org = principal.organisation_id
        shipped = select(rows.SHIP.c.id).where(rows.SHIP.c.from_org_id == org)
        options = [disc.c.organisation_id == org, disc.c.shipment_id.in_(shipped)]
        prefix = regulator_prefix(principal)
        if prefix:
            options.append(disc.c.warehouse_id.in_(_warehouses_within(prefix)))
        conditions.append(or_(*options))
    if shipment_id is not None:
        conditions.append(disc.c.shipment_id == shipment_id)
    if kind is not None:
        conditions.append(disc.c.kind == kind)
    with read_transaction(session):
        return rows.discrepancies_page(session, page, conditions)


def _visible(
    principal: Principal, parties: Sequence[Any], warehouse_column: Any
) -> list[ColumnElement[bool]]:
    if is_admin(principal):
        return []
    org = principal.organisation_id
    options = [column == org for column in parties]
    prefix = regulator_prefix(principal)
    if prefix:
        options.append(warehouse_column.in_(_warehouses_within(prefix)))
    return [or_(*options)]


def _warehouses_within(prefix: str) -> Any:
    wh = rows.WH
    return select(wh.c.id).where(wh.c.jurisdiction.startswith(prefix, autoescape=True))
