"""Scan ingestion: quirks undone, UDI parsed, movement recorded, every scan stored and answered.

For one batch from one device (:func:`ingest`), or the single scans of several devices of one
organisation combined (:func:`ingest_many`, scanning/combiner.py)::

    1. read   which scan ids the device sent before, the locations and count sessions named
    2. decide per scan, in request order: duplicate (stored before: the stored answer again),
              refused before recording (schema, quirks, parse, location, quantity), or an event
    3. record every event of the batch in ONE movements.record_as call, in device-time order;
              event ids are uuid5(device, scan_id), so a replay is a duplicate down the stack
    4. store  every scan with its answer; a scan a stock-state rule refused opens an exception

All four are one transaction (steps 1-2 run again if it is retried): a batch is all or
nothing, and the replay of a batch that died answers every scan as the first attempt would
have. A scan a concurrent request stores between 1 and 4 fails the unique (device, scan_id)
key, and the retry reads it in step 1 and answers it ``duplicate``. Even so, event ids that
derive from scan ids keep a replay exact if a scan row were ever missing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http import HTTPStatus
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

import udi
from scanning import tables as scan_tables
from scanning.devices import Scanner
from scanning.normalise import ScanInputError, normalise
from scanning.operations import STEPS, Operation, event_id_for, is_exception
from warehouse import tables
from warehouse.domain.catalogue import ProductionIdentifiers
from warehouse.domain.roles import Principal
from warehouse.ids import new_id
from warehouse.repository import devices as device_rows
from warehouse.repository.bulk import Write
from warehouse.repository.pages import Page, PageRequest, paginate
from warehouse.services import movements, read_transaction
from warehouse.services.access import is_admin
from warehouse.services.errors import FieldError, ValidationFailed

MAX_BATCH = movements.MAX_BATCH
SCANS = scan_tables.scans
EXCEPTIONS = scan_tables.scan_exceptions
COUNTS = scan_tables.stock_counts

ACCEPTED, DUPLICATE, REJECTED, EXCEPTION = "accepted", "duplicate", "rejected", "exception"


# --- What the service receives ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanIn:
    """One scan as a device sends it (validated by the API schema or the CLI)."""

    scan_id: uuid.UUID
    raw: str
    """The scan text exactly as received, device prefix, suffix and line endings included."""

    device_time: datetime
    """Aware: when the trigger was pulled, by the device's clock."""

    operation: Operation
    location_id: uuid.UUID
    """Where the goods end up (receive, put_away, issue_to_department, return) or where they
    were scanned (accept, pick, ship, use_on_patient, stock_count)."""

    from_location_id: uuid.UUID | None = None
    """For moves: where lot quantities are taken from."""

    quantity: int | None = None
    """Required for lot-level items (no serial) unless the label carries AI (30)."""

    document: tuple[str, str] | None = None
    """Reference document ``(type, id)``: po, desadv, inv…"""

    patient_ref: str | None = None
    encounter_ref: str | None = None
    destination_party_id: uuid.UUID | None = None
    destination_warehouse_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    staff_id: str | None = None
    count_id: uuid.UUID | None = None
    """The stock count session a ``stock_count`` scan belongs to."""

    def payload(self) -> dict[str, Any]:
        """Every field but the scan id and raw text, as JSON values, without empty ones."""
        body: dict[str, Any] = {
            "operation": self.operation.value,
            "device_time": self.device_time.isoformat(),
            "location_id": str(self.location_id),
        }
        for name in (
            "from_location_id",
            "destination_party_id",
            "destination_warehouse_id",
            "owner_id",
            "count_id",
        ):
            value = getattr(self, name)
            if value is not None:
                body[name] = str(value)
        for name in ("quantity", "patient_ref", "encounter_ref", "staff_id"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.document is not None:
            body["document"] = {"type": self.document[0], "id": self.document[1]}
        return body

    @classmethod
    def from_payload(cls, scan_id: uuid.UUID, raw: str, payload: Mapping[str, Any]) -> ScanIn:
        """The scan back from its stored row (:meth:`payload` read back)."""
        ids = {
            name: uuid.UUID(payload[name])
            for name in (
                "from_location_id",
                "destination_party_id",
                "destination_warehouse_id",
                "owner_id",
                "count_id",
            )
            if payload.get(name)
        }
        document = payload.get("document")
        return cls(
            scan_id=scan_id,
            raw=raw,
            device_time=datetime.fromisoformat(payload["device_time"]),
            operation=Operation(payload["operation"]),
            location_id=uuid.UUID(payload["location_id"]),
            quantity=payload.get("quantity"),
            document=(document["type"], document["id"]) if document else None,
            patient_ref=payload.get("patient_ref"),
            encounter_ref=payload.get("encounter_ref"),
            staff_id=payload.get("staff_id"),
            **ids,
        )

    def fingerprint(self) -> str:
        """SHA-256 of the scan as sent: a scan id reused for other content is refused."""
        return fingerprint({"scan_id": str(self.scan_id), "scan": self.raw, **self.payload()})


@dataclass(frozen=True, slots=True)
class InvalidScan:
    """A scan the request schema refused; stored when it has a usable scan id."""

    problem: dict[str, Any]
    scan_id: uuid.UUID | None = None
    raw: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    """The fields as received (JSON values), for the record and the fingerprint."""

    def fingerprint(self) -> str:
        """SHA-256 of the scan as sent."""
        return fingerprint({"scan": self.raw, **self.payload})


def stored_text(raw: str) -> str:
    """The raw scan as stored: NUL, which PostgreSQL text cannot hold, shown as U+2400 (␀).

    Only the stored copy changes; the scan is answered, fingerprinted and positioned on the
    text as received (a NUL is refused as a control character anyway)."""
    return raw.replace("\x00", "\u2400")


def fingerprint(body: Mapping[str, Any]) -> str:
    """SHA-256 of a JSON body with sorted keys."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- What it answers ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The answer for one scan of a batch."""

    index: int
    scan_id: str | None
    status: str
    """``accepted``, ``duplicate`` (stored before; the fields repeat the first answer) or
    ``rejected`` (``exception_id`` set when it waits in the review queue)."""

    event_id: str | None = None
    """Server id of the movement event (``events.id``)."""

    problem: dict[str, Any] | None = None
    exception_id: str | None = None
    original_status: str | None = None
    """For a duplicate: how the scan was first answered (accepted, rejected or exception)."""

    warnings: tuple[dict[str, Any], ...] = ()
    """Oddities accepted while reading the scan (a configured prefix absent, non-ASCII
    characters kept…), positions in the raw text."""

    def to_json(self) -> dict[str, Any]:
        """The result as the API shows it."""
        return {
            "index": self.index,
            "scan_id": self.scan_id,
            "status": self.status,
            "event_id": self.event_id,
            "exception_id": self.exception_id,
            "original_status": self.original_status,
            "problem": self.problem,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Per-scan answers in request order."""

    results: tuple[ScanResult, ...]

    def count(self, status: str) -> int:
        """How many scans ended with ``status``."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def exceptions(self) -> int:
        """How many scans were queued for review by this request."""
        return sum(1 for r in self.results if r.status == REJECTED and r.exception_id)


def problem(
    status: int, code: str, detail: str, errors: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """A problem document (RFC 9457) for one scan, without request-specific members."""
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    errors = [dict(e) for e in errors]
    if errors:
        body["errors"] = errors
    return body


class Refused(Exception):
    """A scan refused before recording; carries its problem document."""

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__(document["detail"])
        self.problem = document


def _refuse(code: str, detail: str, field_name: str | None = None, **extra: Any) -> Refused:
    error: dict[str, Any] = {"code": code, "message": detail, **extra}
    if field_name is not None:
        error["field"] = field_name
    return Refused(problem(422, code, detail, [error]))


# --- From raw text to an item -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parsed:
    """A scan's item as its label reads, after the device's quirks were undone."""

    item: movements.NewItem
    warnings: tuple[dict[str, Any], ...] = ()


def parse_item(device: Scanner, scan: ScanIn) -> Parsed:
    """Normalise, parse and turn the label into an item, or raise :class:`Refused`.

    Every position in a refusal indexes the raw text as received.
    """
    try:
        normalised = normalise(scan.raw, device.quirks)
    except ScanInputError as error:
        raise Refused(problem(422, error.code, error.message, [error.issue.to_json()])) from None
    result = udi.parse(normalised.text, config=normalised.parse_config())
    offset = normalised.raw_offset
    if not result.ok or result.udi is None:
        issues = [issue.shifted(offset).to_json() for issue in result.errors]
        first = issues[0] if issues else None
        code = first["code"] if first else "scan.unreadable"
        detail = first["message"] if first else "Expected a UDI, got a scan that was not one."
        raise Refused(problem(422, code, detail, issues))
    label = result.udi
    warnings = [w.to_json() for w in normalised.warnings]
    warnings += [w.shifted(offset).to_json() for w in result.warnings]
    if label.di is None:
        if label.sscc:
            return Parsed(movements.NewItem(sscc=label.sscc), tuple(warnings))
        raise _refuse(
            "scan.no_di",
            f"Expected a label with a device identifier (DI), got {label.agency} data without one.",
            position=0,
            length=len(scan.raw),
        )
    quantity = _quantity(scan, label)
    item = movements.NewItem(
        di=label.di,
        serial=label.serial,
        lot=label.lot,
        quantity=quantity,
        expiry=label.expiry_date.value if label.expiry_date else None,
        production_date=label.production_date.value if label.production_date else None,
    )
    return Parsed(item, tuple(warnings))


def _quantity(scan: ScanIn, label: udi.Udi) -> int:
    if label.serial:
        if scan.quantity not in (None, 1):
            raise _refuse(
                "scan.quantity",
                f"Expected quantity 1 (or none) for serial {label.serial}, got {scan.quantity}.",
                "quantity",
            )
        return 1
    quantity = scan.quantity or label.quantity
    if quantity is None:
        raise _refuse(
            "scan.quantity_required",
            f"Expected a quantity for lot {label.lot or '(none)'} of DI {label.di} (the label has"
            " no serial), got none.",
            "quantity",
        )
    return quantity


def build_event(device: Scanner, scan: ScanIn, item: movements.NewItem) -> movements.NewEvent:
    """The movement event of a scan; the same scan always gives the same event."""
    mapping = STEPS[scan.operation]
    if mapping.to_location:
        places = {"location_id": scan.location_id, "read_point_id": scan.from_location_id}
    else:
        places = {"read_point_id": scan.location_id}
    documents = (movements.Document(*scan.document),) if scan.document else ()
    return movements.NewEvent(
        event_id=event_id_for(device.id, scan.scan_id),
        biz_step=mapping.step,
        event_time=scan.device_time,
        items=(item,),
        acting_org_id=device.organisation_id,
        scanner_device_id=str(device.id),
        staff_id=scan.staff_id,
        owner_id=scan.owner_id,
        destination_party_id=scan.destination_party_id,
        destination_warehouse_id=scan.destination_warehouse_id,
        documents=documents,
        patient_ref=scan.patient_ref,
        encounter_ref=scan.encounter_ref,
        **places,
    )


def event_problem(refusal: movements.EventRefused) -> dict[str, Any]:
    """The problem document of a refused movement."""
    errors = [{"code": e.code, "message": e.message, "field": e.field} for e in refusal.errors]
    return problem(refusal.status, refusal.code, refusal.detail, errors)


# --- The batch ----------------------------------------------------------------------------------


@dataclass
class _Row:
    """One scan to store, with its answer."""

    index: int
    scan_id: uuid.UUID
    values: dict[str, Any]
    event: movements.NewEvent | None = None
    exception_problem: dict[str, Any] | None = None
    counted: movements.NewItem | None = None
    """A stock count scan's item, checked against the catalogue before it is stored."""


@dataclass
class _Context:
    device: Scanner
    locations: dict[uuid.UUID, uuid.UUID]
    """location id -> warehouse id, for the locations the batch names."""

    counts: dict[uuid.UUID, Mapping[str, Any]]


def ingest(
    session: Session, device: Scanner, scans: Sequence[ScanIn | InvalidScan]
) -> IngestResult:
    """Ingest a batch of scans from ``device``; see the module documentation.

    Raises:
        ValidationFailed: With more than :data:`MAX_BATCH` scans.
    """
    return ingest_many(session, [(device, scans)])[0]


def ingest_many(
    session: Session, sends: Sequence[tuple[Scanner, Sequence[ScanIn | InvalidScan]]]
) -> list[IngestResult]:
    """Ingest what several requests sent, in one transaction for all of them (the combiner
    of concurrent single scans, scanning/combiner.py); one answer per send, as if each had
    been ingested alone after the ones before it. Sends of one device are read as one batch,
    so a scan id sent twice concurrently is recorded once and answered ``duplicate`` the
    second time.

    Raises:
        ValidationFailed: With more than :data:`MAX_BATCH` scans in all.
    """
    total = sum(len(scans) for _, scans in sends)
    if total > MAX_BATCH:
        message = f"Expected at most {MAX_BATCH} scans, got {total}."
        raise ValidationFailed("batch", [FieldError("scans", "request.batch_too_large", message)])
    by_device = _by_device(sends)
    attempt = _Attempt(session, by_device)
    if session.get_bind().dialect.name == "sqlite":
        # One writer at a time: decide (parse, normalise, check) before taking the write
        # lock, so that other requests' decisions overlap it; in the transaction, only the
        # reads are made again (scans stored meanwhile are then answered duplicate).
        with read_transaction(session):
            attempt.plan(session)
        attempt.decide_ahead()
    movements.record_as(session, attempt.plan, then=attempt.store)
    answers = {d: _answers(by_device[d][1], *attempt.triaged[d]) for d in by_device}
    return _split(sends, answers)


class _Attempt:
    """The decisions of one ingest, made afresh in each attempt of its one transaction.

    Reading which scans are stored already in the writing transaction itself, rather than in
    a read transaction before it, spares two round trips (its BEGIN and ROLLBACK) and a
    re-read before storing: a scan a concurrent request stores meanwhile fails the unique
    (device, scan_id) key, and the retry finds it stored and answers ``duplicate``.
    """

    def __init__(
        self,
        session: Session,
        by_device: Mapping[uuid.UUID, tuple[Scanner, list[ScanIn | InvalidScan]]],
    ) -> None:
        self.session = session
        self.by_device = by_device
        self.triaged: dict[uuid.UUID, tuple[dict[int, ScanResult], list[_Row], Any]] = {}
        self.rows: list[tuple[Scanner, _Row]] = []
        self.pending: list[tuple[Scanner, _Row]] = []
        self.ahead: dict[uuid.UUID, dict[int, _Row]] = {}

    def decide_ahead(self) -> None:
        """Keep the decisions of the plan made so far for the next ones."""
        self.ahead = {}
        for device, row in self.rows:
            self.ahead.setdefault(device.id, {})[row.index] = row

    def plan(self, session: Session) -> movements.Sent:
        """First thing in the transaction: answer what is known, decide the rest, and return
        the events to record, in device-time order, each as its device's principal."""
        everything = [scan for _, scans in self.by_device.values() for scan in scans]
        locations, counts = _locations(session, everything), _counts(session, everything)
        sent = {device.id: [s.scan_id for s in scans] for device, scans in self.by_device.values()}
        stored = _stored(session, sent)
        self.triaged = {
            device.id: _triage(
                _Context(device, locations, counts),
                scans,
                stored[device.id],
                self.ahead.get(device.id, {}),
            )
            for device, scans in self.by_device.values()
        }
        self.rows = [
            (self.by_device[d][0], row)
            for d, (_, found, _) in self.triaged.items()
            for row in found
        ]
        _check_catalogue(session, [row for _, row in self.rows])
        self.pending = sorted(
            ((d, r) for d, r in self.rows if r.event is not None), key=_device_time
        )
        return [(device.principal, row.event) for device, row in self.pending]  # type: ignore[misc]

    def store(self, outcome: movements.BatchResult) -> list[Write]:
        """Every scan with its answer, inserted with the events."""
        for (_, row), result in zip(self.pending, outcome.results, strict=True):
            _answered(row, result)
        fresh = [row for _, row in self.rows]
        _recheck_counts(self.session, fresh)
        return _inserts(fresh)


def _by_device(
    sends: Sequence[tuple[Scanner, Sequence[ScanIn | InvalidScan]]],
) -> dict[uuid.UUID, tuple[Scanner, list[ScanIn | InvalidScan]]]:
    """Every device's scans in the order they were sent."""
    grouped: dict[uuid.UUID, tuple[Scanner, list[ScanIn | InvalidScan]]] = {}
    for device, scans in sends:
        grouped.setdefault(device.id, (device, []))[1].extend(scans)
    return grouped


def _answers(
    scans: Sequence[ScanIn | InvalidScan],
    answers: dict[int, ScanResult],
    rows: list[_Row],
    first_in_batch: Mapping[uuid.UUID, tuple[int, str]],
) -> list[ScanResult]:
    """One device's answers in request order, from the stored rows and the triage."""
    for row in rows:
        answers[row.index] = _answer(row.index, row.values, row.values.get("_exception_id"))
    for index, scan in enumerate(scans):
        if index not in answers:  # a repeat within the batch: the first occurrence's answer
            first = answers[first_in_batch[scan.scan_id][0]]  # type: ignore[index]
            answers[index] = _as_duplicate(index, first)
    return [answers[i] for i in range(len(scans))]


def _split(
    sends: Sequence[tuple[Scanner, Sequence[ScanIn | InvalidScan]]],
    answers: Mapping[uuid.UUID, list[ScanResult]],
) -> list[IngestResult]:
    """Cut each device's answers back into its sends, indexes counted within each send."""
    taken = dict.fromkeys(answers, 0)
    results = []
    for device, scans in sends:
        start = taken[device.id]
        taken[device.id] = start + len(scans)
        mine = answers[device.id][start : start + len(scans)]
        results.append(
            IngestResult(tuple(dataclasses.replace(r, index=r.index - start) for r in mine))
        )
    return results


def _triage(
    context: _Context,
    scans: Sequence[ScanIn | InvalidScan],
    stored: Mapping[uuid.UUID, Mapping[str, Any]],
    ahead: Mapping[int, _Row],
) -> tuple[dict[int, ScanResult], list[_Row], dict[uuid.UUID, tuple[int, str]]]:
    """Answer what is known already (no scan id, stored before, reused id) and decide the
    rest (or take the decision made ``ahead``); a scan repeated within the batch is left
    unanswered until its first occurrence is."""
    answers: dict[int, ScanResult] = {}
    rows: list[_Row] = []
    first_in_batch: dict[uuid.UUID, tuple[int, str]] = {}
    now = datetime.now(UTC)
    for index, scan in enumerate(scans):
        if scan.scan_id is None:
            assert isinstance(scan, InvalidScan)
            answers[index] = ScanResult(index, None, REJECTED, problem=scan.problem)
            continue
        digest = scan.fingerprint()
        earlier = stored.get(scan.scan_id)
        if earlier is not None:
            answers[index] = _again(index, earlier, digest)
            continue
        if scan.scan_id in first_in_batch:
            reused = _repeated(index, scan.scan_id, digest, first_in_batch)
            if reused is not None:
                answers[index] = reused
            continue
        first_in_batch[scan.scan_id] = (index, digest)
        decided = ahead.get(index)
        if decided is not None:  # a copy: the attempt writes its answer into the values
            rows.append(dataclasses.replace(decided, values=dict(decided.values)))
        else:
            rows.append(_decide(context, index, scan, digest, now))
    return answers, rows, first_in_batch


def _decide(
    context: _Context, index: int, scan: ScanIn | InvalidScan, digest: str, now: datetime
) -> _Row:
    values: dict[str, Any] = {
        "id": new_id(),
        "device_id": context.device.id,
        "organisation_id": context.device.organisation_id,
        "scan_id": scan.scan_id,
        "fingerprint": digest,
        "raw": stored_text(scan.raw),
        "received_at": now,
        "status": REJECTED,
        "event_id": None,
        "problem": None,
    }
    assert scan.scan_id is not None
    row = _Row(index, scan.scan_id, values)
    if isinstance(scan, InvalidScan):
        values["payload"] = dict(scan.payload)
        values["problem"] = scan.problem
        return row
    values.update(
        payload=scan.payload(),
        operation=scan.operation.value,
        location_id=scan.location_id,
        device_time=device_time_utc(scan.device_time),
        count_id=scan.count_id,
    )
    try:
        _check_time(scan, values["device_time"])
        _check_places(context, scan)
        parsed = parse_item(context.device, scan)
        item = parsed.item
        values["warnings"] = list(parsed.warnings) or None
        values.update(
            di=item.di,
            lot=item.lot,
            serial=item.serial,
            sscc=item.sscc,
            expiry=item.expiry,
            production_date=item.production_date,
            quantity=item.quantity,
        )
        if scan.operation is Operation.STOCK_COUNT:
            _check_count(context, scan, item)
            row.counted = item
        else:
            _check_operation(scan)
            row.event = build_event(context.device, scan, item)
    except Refused as refused:
        values["problem"] = refused.problem
    return row


EARLIEST_DEVICE_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_DEVICE_TIME = datetime(9999, 1, 1, tzinfo=UTC)
"""Device times accepted: [2000-01-01, 9999-01-01) UTC. Earlier is a scanner whose clock was
reset (and predates any UDI); the upper bound keeps every time and offset arithmetic on it
inside what Python and the databases can represent."""


def device_time_utc(value: datetime) -> datetime | None:
    """The device time in UTC, or None when it is outside the accepted range (converting
    0001-01-01T00:00+14:00 or 9999-12-31T23:59-14:00 overflows)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return None
    return utc if EARLIEST_DEVICE_TIME <= utc < LATEST_DEVICE_TIME else None


def _check_time(scan: ScanIn, utc: datetime | None) -> None:
    if utc is None:
        raise _refuse(
            "scan.device_time_range",
            f"Expected device_time from {EARLIEST_DEVICE_TIME.isoformat()} to before "
            f"{LATEST_DEVICE_TIME.isoformat()}, got {scan.device_time.isoformat()}.",
            "device_time",
        )


def _check_places(context: _Context, scan: ScanIn) -> None:
    """The scan's locations must be in the device's own warehouse (else: refused, and an
    unknown location is answered exactly like another organisation's)."""
    for name in ("location_id", "from_location_id"):
        location = getattr(scan, name)
        if location is None:
            continue
        if context.locations.get(location) != context.device.warehouse_id:
            raise _refuse(
                "scan.location_outside_warehouse",
                f"Expected a location in the device's warehouse {context.device.warehouse_id},"
                f" got {location}.",
                name,
            )


def _check_operation(scan: ScanIn) -> None:
    if scan.operation is Operation.SHIP and scan.destination_party_id is None:
        raise _refuse(
            "scan.destination_required",
            "Expected destination_party_id for ship, got none.",
            "destination_party_id",
        )
    if scan.count_id is not None:
        raise _refuse(
            "scan.count_operation",
            f"Expected operation stock_count with a count_id, got {scan.operation}.",
            "count_id",
        )


def _check_count(context: _Context, scan: ScanIn, item: movements.NewItem) -> None:
    count = context.counts.get(scan.count_id) if scan.count_id else None
    if count is None or count["organisation_id"] != context.device.organisation_id:
        raise _refuse(
            "scan.count_unknown",
            f"Expected count_id of an open count session of your organisation, got "
            f"{scan.count_id}.",
            "count_id",
        )
    if count["status"] != "open":
        raise _count_closed(scan.count_id, count["status"])
    if count["location_id"] != scan.location_id:
        raise _refuse(
            "scan.count_location",
            f"Expected location {count['location_id']} of count {scan.count_id}, got "
            f"{scan.location_id}.",
            "location_id",
        )
    if item.di is None:
        raise _refuse(
            "scan.count_container",
            "Expected a device label in a count (scan each unit), got a container SSCC.",
            "scan",
        )


def _count_closed(count_id: Any, status: str) -> Refused:
    return _refuse(
        "scan.count_closed",
        f"Expected an open count session, got count {count_id} {status}.",
        "count_id",
    )


def _recheck_counts(session: Session, rows: list[_Row]) -> None:
    """Inside the storing transaction: the count sessions of the accepted count scans must
    still be open. They were read before; a confirmation may have started since, and a scan
    slipped into a session being confirmed would be lost (its unit written off as missing).
    FOR SHARE waits for a confirmation's claim to commit and blocks the next claim until this
    transaction ends (SQLite: the write transaction is exclusive already)."""
    counted = [r for r in rows if r.values.get("count_id") and r.values["status"] == ACCEPTED]
    if not counted:
        return
    wanted = sorted({r.values["count_id"] for r in counted})
    query = (
        select(COUNTS.c.id, COUNTS.c.status)
        .where(COUNTS.c.id.in_(wanted))
        .order_by(COUNTS.c.id)
        .with_for_update(read=True)
    )
    status = {row.id: row.status for row in session.execute(query)}
    for row in counted:
        now = status.get(row.values["count_id"], "gone")
        if now != "open":
            row.values.update(
                status=REJECTED, problem=_count_closed(row.values["count_id"], now).problem
            )


def _check_catalogue(session: Session, rows: list[_Row]) -> None:
    """Count scans record no movement, so the movement rules never see them: resolve their DI
    in the catalogue and check the production identifiers it declares here instead."""
    counted = [r for r in rows if r.counted is not None]
    if not counted:
        return
    dis = {r.counted.di or "" for r in counted if r.counted is not None}
    found = device_rows.find_many_by_di(session, dis)
    for row in counted:
        item = row.counted
        assert item is not None
        # Decided here, afresh: SQLite checks a row decided ahead a second time.
        row.values.update(status=REJECTED, problem=None)
        device = found.get(item.di or "")
        if device is None:
            error = _refuse(
                "movement.unknown_device",
                f"Expected a DI in the device catalogue, got {item.di!r}.",
                "scan",
            )
            row.values["problem"] = error.problem
            continue
        carried = ProductionIdentifiers(
            lot=bool(item.lot),
            serial=bool(item.serial),
            production_date=item.production_date is not None,
            expiry_date=item.expiry is not None,
        )
        missing = device.record.check_production_identifiers(carried).missing
        if missing:
            names = ", ".join(sorted(str(name) for name in missing))
            error = _refuse(
                "movement.pi_mismatch",
                f"Expected the production identifiers DI {item.di} declares, got no {names}.",
                "scan",
            )
            row.values["problem"] = error.problem
            continue
        row.values["status"] = ACCEPTED


def _answered(row: _Row, result: movements.EventResult) -> None:
    """The scan's answer from its event's."""
    row.values["status"], row.values["event_id"] = REJECTED, None
    row.exception_problem = None
    if result.status in (ACCEPTED, DUPLICATE):
        assert result.id is not None
        row.values.update(status=ACCEPTED, event_id=uuid.UUID(result.id), problem=None)
        return
    assert result.problem is not None
    document = event_problem(result.problem)
    row.values["problem"] = document
    if is_exception(result.problem.code):
        row.values["status"] = EXCEPTION
        row.exception_problem = document


def _device_time(pair: tuple[Scanner, _Row]) -> tuple[datetime, int]:
    event = pair[1].event
    assert event is not None
    return event.event_time, pair[1].index


def _inserts(rows: list[_Row]) -> list[Write]:
    """The scan rows, then the exceptions that refer to them."""
    exceptions = []
    for row in rows:
        if row.exception_problem is None:
            continue
        exception_id = new_id()
        row.values["_exception_id"] = exception_id
        exceptions.append(
            {
                "id": exception_id,
                "scan_row_id": row.values["id"],
                "organisation_id": row.values["organisation_id"],
                "status": "open",
                "problem": row.exception_problem,
                "attempts": 0,
                "created_at": row.values["received_at"],
            }
        )
    return [(SCANS, [_columns(r.values) for r in rows]), (EXCEPTIONS, exceptions)]


_COLUMNS = tuple(c.name for c in SCANS.columns)


def _columns(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: values.get(name) for name in _COLUMNS}


_STORED = (
    select(SCANS, EXCEPTIONS.c.id.label("_exception_id"))
    .outerjoin(EXCEPTIONS, EXCEPTIONS.c.scan_row_id == SCANS.c.id)
    .where(
        SCANS.c.device_id.in_(bindparam("devices", expanding=True)),
        SCANS.c.scan_id.in_(bindparam("ids", expanding=True)),
    )
)
"""Built once: a combined ingest of ten handhelds' scans asks once, not ten times."""


def _stored(
    session: Session, wanted: Mapping[uuid.UUID, Iterable[uuid.UUID | None]]
) -> dict[uuid.UUID, dict[uuid.UUID, dict[str, Any]]]:
    """Stored scans by device and scan id (each with its exception id), for the scan ids
    ``wanted`` of each device, in one query (per 500 scan ids)."""
    found: dict[uuid.UUID, dict[uuid.UUID, dict[str, Any]]] = {d: {} for d in wanted}
    pairs = {(d, i) for d, ids in wanted.items() for i in ids if i is not None}
    unique = sorted({scan_id for _, scan_id in pairs})
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        for row in session.execute(_STORED, {"devices": list(wanted), "ids": chunk}).mappings():
            if (row["device_id"], row["scan_id"]) in pairs:
                found[row["device_id"]][row["scan_id"]] = dict(row)
    return found


_LOCATIONS = select(tables.locations.c.id, tables.locations.c.warehouse_id).where(
    tables.locations.c.id.in_(bindparam("ids", expanding=True))
)
_COUNTS = select(COUNTS).where(COUNTS.c.id.in_(bindparam("ids", expanding=True)))


def _locations(session: Session, scans: Sequence[ScanIn | InvalidScan]) -> dict[uuid.UUID, Any]:
    wanted = {
        place
        for s in scans
        if isinstance(s, ScanIn)
        for place in (s.location_id, s.from_location_id)
        if place is not None
    }
    if not wanted:
        return {}
    return {row.id: row.warehouse_id for row in session.execute(_LOCATIONS, {"ids": list(wanted)})}


def _counts(
    session: Session, scans: Sequence[ScanIn | InvalidScan]
) -> dict[uuid.UUID, Mapping[str, Any]]:
    wanted = {s.count_id for s in scans if isinstance(s, ScanIn) and s.count_id is not None}
    if not wanted:
        return {}
    found = session.execute(_COUNTS, {"ids": list(wanted)}).mappings()
    return {row["id"]: row for row in found}


def list_page(
    session: Session,
    principal: Principal,
    page: PageRequest,
    *,
    device_id: uuid.UUID | None = None,
    status: str | None = None,
) -> Page[dict[str, Any]]:
    """Stored scans of the caller's organisation (admins: all), oldest first."""
    query = select(SCANS)
    if not is_admin(principal):
        query = query.where(SCANS.c.organisation_id == principal.organisation_id)
    if device_id is not None:
        query = query.where(SCANS.c.device_id == device_id)
    if status is not None:
        query = query.where(SCANS.c.status == status)
    with read_transaction(session):
        return paginate(session, query, SCANS.c.id, page, lambda rows: [dict(r) for r in rows])


# --- Answers ------------------------------------------------------------------------------------


def _answer(index: int, values: Mapping[str, Any], exception_id: Any) -> ScanResult:
    """The answer a stored scan gives (a duplicate when it was stored by an earlier request)."""
    status = values["status"]
    duplicate = bool(values.get("_duplicate"))
    return ScanResult(
        index=index,
        scan_id=str(values["scan_id"]),
        status=DUPLICATE if duplicate else (ACCEPTED if status == ACCEPTED else REJECTED),
        event_id=str(values["event_id"]) if values.get("event_id") else None,
        problem=values.get("problem"),
        exception_id=str(exception_id) if exception_id else None,
        original_status=status if duplicate else None,
        warnings=tuple(values.get("warnings") or ()),
    )


def _again(index: int, earlier: Mapping[str, Any], digest: str) -> ScanResult:
    if earlier["fingerprint"] != digest:
        return _reused(index, earlier["scan_id"])
    return _answer(index, {**earlier, "_duplicate": True}, earlier.get("_exception_id"))


def _repeated(
    index: int, scan_id: uuid.UUID, digest: str, first: Mapping[uuid.UUID, tuple[int, str]]
) -> ScanResult | None:
    if first[scan_id][1] != digest:
        return _reused(index, scan_id)
    return None  # answered once the first occurrence is


def _reused(index: int, scan_id: uuid.UUID) -> ScanResult:
    detail = (
        f"Expected scan_id {scan_id} to repeat the scan stored under it, got different content."
    )
    document = problem(
        422,
        "scan.id_reused",
        detail,
        [{"code": "scan.id_reused", "message": "Use a new scan_id.", "field": "scan_id"}],
    )
    return ScanResult(index, str(scan_id), REJECTED, problem=document)


def _as_duplicate(index: int, first: ScanResult) -> ScanResult:
    original = first.original_status
    if first.status != DUPLICATE:
        original = EXCEPTION if first.exception_id else first.status
    return dataclasses.replace(first, index=index, status=DUPLICATE, original_status=original)


def iso(value: date | datetime | None) -> str | None:
    """ISO text of a stored date or UTC time (SQLite returns naive UTC times)."""
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()
