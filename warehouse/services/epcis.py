"""EPCIS 2.0 capture and query over our movement events (docs/epcis.md).

:func:`capture` validates a document against the vendored EPCIS 2.0 JSON schema, maps each
event (:mod:`warehouse.domain.epcis`), resolves its parties and places, and records the batch
through :func:`warehouse.services.movements.record`: the same rules, the same per-event
answers, the same idempotency (eventIDs map to our event_id, see
:func:`warehouse.domain.epcis.event_uuid`).

:func:`export` reads a page with :func:`warehouse.services.movements.list_events` (same
filters, same visibility) and renders it as one EPCIS document.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from sqlalchemy import select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain import epcis
from warehouse.domain.epcis import CapturedEvent, MappingRefused, Ref
from warehouse.domain.roles import Principal
from warehouse.errors import WarehouseError
from warehouse.repository import movements as movement_rows
from warehouse.repository.pages import PageRequest
from warehouse.services import movements, read_transaction
from warehouse.services.errors import FieldError, NotFound, ValidationFailed
from warehouse.services.movements import Document, EventFilter, EventRefused, NewEvent

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "epcis" / "EPCIS-JSON-Schema.json"
MAX_SCHEMA_ERRORS = 50

USCC_URN = "urn:udi-trace:uscc:"
"""A party by its unified social credit code: ``urn:udi-trace:uscc:91350200MA2XXXXXXX``."""

KINDS = ("org", "location", "warehouse")
"""What an identifier may name: an organisation (party), a location, or a warehouse."""


# --- Schema validation ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One place where a document breaks the EPCIS schema."""

    pointer: str
    """JSON pointer (RFC 6901) into the document."""

    message: str
    code: str = "epcis.schema"
    """``field.unknown`` for a member the schema does not allow, else ``epcis.schema``."""


class DocumentInvalid(WarehouseError):
    """The document does not validate against the EPCIS 2.0 JSON schema (422)."""

    code = "epcis.schema"

    def __init__(self, violations: Sequence[SchemaViolation]) -> None:
        self.violations = tuple(violations)
        first = self.violations[0]
        super().__init__(
            f"Expected an EPCIS 2.0 document, got {len(self.violations)} schema violation(s); "
            f"first at {first.pointer or '/'}: {first.message}"
        )


def _is_uri(instance: object, plain: Any) -> bool:
    """RFC 3986 ``uri``, or a JSON-LD blank node id.

    The GS1 examples name documents ``_:document1``: a blank node identifier, which JSON-LD
    allows wherever an IRI is expected but RFC 3986 does not.
    """
    if isinstance(instance, str) and instance.startswith("_:") and len(instance) > 2:
        return True
    return bool(plain(instance))


def _format_checker() -> FormatChecker:
    """The standard format checks, with ``uri`` as :func:`_is_uri`."""
    checker = FormatChecker()
    plain = checker.checkers["uri"][0]

    @checker.checks("uri", raises=ValueError)
    def _uri(instance: object) -> bool:
        return _is_uri(instance, plain)

    return checker


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@functools.cache
def validator() -> Draft7Validator:
    """The EPCIS 2.0 JSON schema (vendored in warehouse/data/epcis), with format checks."""
    return Draft7Validator(_schema(), format_checker=_format_checker())


@functools.cache
def _fast() -> jsonschema_rs.Draft7Validator:
    """The same schema and formats compiled by jsonschema-rs: ~100× faster on valid documents
    (6 s → 50 ms for 1,000 events), which are the common case."""
    plain = _format_checker().checkers["uri"][0]

    def uri(instance: str) -> bool:
        try:
            return _is_uri(instance, plain)
        except ValueError:
            return False

    return jsonschema_rs.Draft7Validator(_schema(), validate_formats=True, formats={"uri": uri})


def validate(document: Any) -> list[SchemaViolation]:
    """Every schema violation of ``document`` (at most :data:`MAX_SCHEMA_ERRORS`).

    A valid document is confirmed by jsonschema-rs; an invalid one is explained by
    jsonschema, whose errors lead to the deepest failing branch of an anyOf.
    """
    if _fast().is_valid(document):
        return []
    found = []
    for error in validator().iter_errors(document):
        found.append(_violation(error))
        if len(found) >= MAX_SCHEMA_ERRORS:
            break
    if not found:  # the two validators disagree on a format: report what the fast one saw
        found = [
            SchemaViolation(_pointer(e.instance_path), e.message[:300])
            for e in _fast().iter_errors(document)
        ][:MAX_SCHEMA_ERRORS]
    return sorted(set(found), key=lambda v: (v.pointer, v.message))


def _violation(error: ValidationError) -> SchemaViolation:
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        # The error sits on the object; the pointer names the member that is not allowed.
        name = str(error.instance)
        pointer = _pointer([*error.absolute_path, name])
        return SchemaViolation(pointer, f"Expected an EPCIS field, got {name!r}.", "field.unknown")
    # anyOf/oneOf errors say only "not valid under any of the given schemas": the branch that
    # got furthest names the real fault.
    while error.context:
        error = best_match(error.context)
    return SchemaViolation(_pointer(error.absolute_path), error.message[:300])


def _pointer(path: Iterable[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


# --- Identifier aliases ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Aliases:
    """The deployment's map from partners' identifiers (SGLN, PGLN…) to our records.

    Configured as ``EPCIS_ALIASES = {"urn:epc:id:sgln:0614141.07346.1234": "location:<uuid>"}``
    (values ``org:``, ``location:`` or ``warehouse:`` and a uuid). Keys may be URNs or Digital
    Links; both spellings of the same GLN match. Documents we write use the first alias (in
    key order) of a record, or our URN ``urn:udi-trace:<kind>:<uuid>``.
    """

    by_uri: Mapping[str, tuple[str, uuid.UUID]]
    names: Mapping[tuple[str, uuid.UUID], str]

    @classmethod
    def parse(cls, config: Mapping[str, str] | None) -> Aliases:
        """Read the configured mapping.

        Raises:
            ValueError: A value is not ``<kind>:<uuid>``.
        """
        by_uri: dict[str, tuple[str, uuid.UUID]] = {}
        names: dict[tuple[str, uuid.UUID], str] = {}
        for uri, target in sorted((config or {}).items()):
            kind, _, value = str(target).partition(":")
            if kind not in KINDS:
                raise ValueError(
                    f"Expected EPCIS alias org:|location:|warehouse:<uuid>, got {target}."
                )
            key = (kind, uuid.UUID(value))
            by_uri[epcis.canonical(uri)] = key
            names.setdefault(key, uri)
        return cls(by_uri, names)

    def lookup(self, uri: str) -> tuple[str, uuid.UUID] | None:
        """What a canonical identifier names: an alias, or one of our URNs."""
        return self.by_uri.get(uri) or epcis.parse_own_urn(uri)

    def namer(self) -> epcis.Namer:
        """How documents name our records."""

        def name(kind: str) -> Any:
            return lambda value: self.names.get((kind, value)) or epcis.own_urn(kind, value)

        return epcis.Namer(
            party=name("org"), location=name("location"), warehouse=name("warehouse")
        )


# --- Capture --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaptureOutcome:
    """What became of one event of a captured document."""

    index: int
    event_id: str | None
    """The eventID as sent (our made-up one when it had none)."""

    status: str
    """``accepted``, ``duplicate`` or ``rejected``."""

    id: str | None
    """Server id of the stored event."""

    problem: EventRefused | None = None


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """Per-event outcomes in document order."""

    batch_id: str
    results: tuple[CaptureOutcome, ...]

    def count(self, status: str) -> int:
        """How many events ended with ``status``."""
        return sum(1 for r in self.results if r.status == status)


def capture(
    session: Session, principal: Principal, document: Any, aliases: Aliases
) -> CaptureResult:
    """Record every event of an EPCIS 2.0 document; each is accepted or rejected on its own.

    Raises:
        DocumentInvalid: The document breaks the EPCIS schema (nothing is recorded).
        ValidationFailed: More than :data:`movements.MAX_BATCH` events.
    """
    violations = validate(document)
    if violations:
        raise DocumentInvalid(violations)
    base, raw_events = epcis.event_list(document)
    if len(raw_events) > movements.MAX_BATCH:
        message = f"Expected at most {movements.MAX_BATCH} events, got {len(raw_events)}."
        raise ValidationFailed("document", [FieldError(base, "request.batch_too_large", message)])
    parsed: list[CapturedEvent | EventRefused] = []
    ids: list[str | None] = []
    for index, raw in enumerate(raw_events):
        pointer = f"{base}/{index}"
        try:
            event = epcis.parse_event(raw, pointer)
        except MappingRefused as refused:
            parsed.append(_refusal(refused.code, refused.message, refused.pointer))
            ids.append(raw.get("eventID"))
            continue
        parsed.append(event)
        ids.append(event.epcis_event_id)
    corrected = {
        target: event.declares_event_id
        for event in parsed
        if isinstance(event, CapturedEvent) and event.declares_event_id
        for target in event.corrective_event_ids
    }
    resolver = _Resolver(session, aliases, parsed)
    events = [
        event if isinstance(event, EventRefused) else resolver.new_event(event, corrected)
        for event in parsed
    ]
    stored = _stored_alike(session, principal, events, aliases)
    fresh = [index for index in range(len(events)) if index not in stored]
    result = movements.record(session, principal, [events[i] for i in fresh])
    outcomes = {
        index: CaptureOutcome(index, ids[index], "duplicate", server_id)
        for index, server_id in stored.items()
    }
    for r in result.results:
        index = fresh[r.index]
        outcomes[index] = CaptureOutcome(index, ids[index], r.status, r.id, r.problem)
    return CaptureResult(result.batch_id, tuple(outcomes[i] for i in range(len(events))))


DERIVED = ("owner_id", "possessor_id", "acting_org_id", "disposition", "action", "shipment_id")
"""Fields the service fills in when an event leaves them out (the goods' owner and possessor,
the caller, the step's default disposition, the shipment it starts): our documents name them,
so an event we wrote, sent back, must still count as the same event."""


def _stored_alike(
    session: Session,
    principal: Principal,
    events: Sequence[NewEvent | EventRefused],
    aliases: Aliases,
) -> dict[int, str]:
    """Events already stored whose content differs from the stored hash only by what the
    service derives: EPCIS duplicates (index → server id). The rest go to ``record``, which
    answers exact duplicates itself and refuses a changed event as ``event.id_reused``."""
    new = {i: e for i, e in enumerate(events) if isinstance(e, NewEvent)}
    if not new:
        return {}
    with read_transaction(session):
        known = movement_rows.existing_events(session, [e.event_id for e in new.values()])
    names = aliases.namer()
    found = {}
    for index, event in new.items():
        prior = known.get(event.event_id)
        if prior is None or prior[1] == movements.event_hash(event):
            continue
        again = _as_written(session, principal, str(prior[0]), names, aliases)
        if again is not None and _same(event, again):
            found[index] = str(prior[0])
    return found


def _as_written(
    session: Session, principal: Principal, server_id: str, names: epcis.Namer, aliases: Aliases
) -> NewEvent | None:
    """A stored event as our document writes it, read back."""
    try:
        row = movements.get_event(session, principal, server_id)
        declared = None
        if row["declared_event_id"] is not None:
            declared = movements.get_event(session, principal, str(row["declared_event_id"]))
    except NotFound:
        return None
    written = (
        epcis.export_event(declared, names, declaration=row)
        if declared is not None
        else epcis.export_event(row, names)
    )
    try:
        parsed = epcis.parse_event(written, "")
    except MappingRefused:
        return None
    again = _Resolver(session, aliases, [parsed]).new_event(parsed, {})
    return again if isinstance(again, NewEvent) else None


def _same(sent: NewEvent, stored: NewEvent) -> bool:
    ours, theirs = movements.canonical(sent), movements.canonical(stored)
    for name in DERIVED:
        if name not in ours:
            theirs.pop(name, None)
    for body in (ours, theirs):
        # Corrections are linked from the declaration, not from the corrective event itself;
        # items come back grouped (units, then quantities), so their order is not content.
        body.pop("corrects_event_id", None)
        body["items"] = sorted(json.dumps(i, sort_keys=True) for i in body.get("items", []))
    return ours == theirs


def _refusal(code: str, message: str, pointer: str) -> EventRefused:
    return EventRefused(code, message, [FieldError(pointer, code, message)])


class _Resolver:
    """Turns a captured event's identifiers into our ids; unknown ones refuse the event."""

    def __init__(
        self, session: Session, aliases: Aliases, events: Sequence[CapturedEvent | EventRefused]
    ) -> None:
        self.aliases = aliases
        # A destination "location" may name a location: its warehouse is what we record.
        wanted = set()
        for event in events:
            if isinstance(event, CapturedEvent) and event.destination_warehouse is not None:
                found = aliases.lookup(event.destination_warehouse.uri)
                if found is not None and found[0] == "location":
                    wanted.add(found[1])
        # Parties may also be named by their unified social credit code (统一社会信用代码).
        codes = {
            ref.uri[len(USCC_URN) :]
            for event in events
            if isinstance(event, CapturedEvent)
            for ref in (
                event.acting_party,
                event.owner,
                event.possessor,
                event.source_party,
                event.destination_party,
            )
            if ref is not None and ref.uri.startswith(USCC_URN)
        }
        self.warehouse_of: dict[uuid.UUID, uuid.UUID] = {}
        self.org_by_code: dict[str, uuid.UUID] = {}
        if not (wanted or codes):
            return
        loc, org = tables.locations, tables.organisations
        with read_transaction(session):
            if wanted:
                query = select(loc.c.id, loc.c.warehouse_id).where(loc.c.id.in_(wanted))
                self.warehouse_of = {row[0]: row[1] for row in session.execute(query)}
            if codes:
                query = select(org.c.credit_code, org.c.id).where(org.c.credit_code.in_(codes))
                self.org_by_code = {row[0]: row[1] for row in session.execute(query)}

    def new_event(
        self, event: CapturedEvent, corrected: Mapping[uuid.UUID, uuid.UUID]
    ) -> NewEvent | EventRefused:
        try:
            return NewEvent(
                event_id=event.event_id,
                biz_step=event.biz_step,
                event_time=event.event_time,
                items=event.items,
                event_type=event.event_type,
                action=event.action,
                disposition=event.disposition,
                read_point_id=self.id(event.read_point, "location"),
                location_id=self.id(event.location, "location"),
                acting_org_id=self.id(event.acting_party, "org"),
                staff_id=event.staff_id,
                scanner_device_id=event.scanner_device_id,
                owner_id=self.id(event.owner, "org"),
                possessor_id=self.id(event.possessor, "org"),
                source_party_id=self.id(event.source_party, "org"),
                destination_party_id=self.id(event.destination_party, "org"),
                destination_warehouse_id=self.warehouse(event.destination_warehouse),
                shipment_id=event.shipment_id,
                parent_sscc=event.parent_sscc,
                documents=tuple(Document(kind, value) for kind, value in event.documents),
                patient_ref=event.patient_ref,
                encounter_ref=event.encounter_ref,
                corrects_event_id=corrected.get(event.event_id),
                declares_event_id=event.declares_event_id,
                error_reason=event.error_reason,
            )
        except MappingRefused as refused:
            return _refusal(refused.code, refused.message, refused.pointer)

    def id(self, ref: Ref | None, kind: str) -> uuid.UUID | None:
        if ref is None:
            return None
        if kind == "org" and ref.uri.startswith(USCC_URN):
            code = self.org_by_code.get(ref.uri[len(USCC_URN) :])
            if code is None:
                raise _unknown(ref, kind)
            return code
        found = self.aliases.lookup(ref.uri)
        if found is None or found[0] != kind:
            raise _unknown(ref, kind)
        return found[1]

    def warehouse(self, ref: Ref | None) -> uuid.UUID | None:
        if ref is None:
            return None
        found = self.aliases.lookup(ref.uri)
        if found is not None and found[0] == "warehouse":
            return found[1]
        if found is not None and found[0] == "location" and found[1] in self.warehouse_of:
            return self.warehouse_of[found[1]]
        raise _unknown(ref, "warehouse")


_KIND_NAMES = {"org": "party", "location": "location", "warehouse": "warehouse or location"}


def _unknown(ref: Ref, kind: str) -> MappingRefused:
    return MappingRefused(
        "epcis.unknown_identifier",
        f"Expected a known {_KIND_NAMES[kind]} identifier, got {ref.given!r}.",
        ref.pointer,
    )


# --- Query ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exported:
    """One page of events as an EPCIS document, and the cursor of the next page."""

    document: dict[str, Any]
    next_cursor: str | None


def export(
    session: Session,
    principal: Principal,
    page: PageRequest,
    where: EventFilter,
    aliases: Aliases,
    *,
    query: bool = True,
) -> Exported:
    """The events the caller may see, as GET /api/v1/events finds them, as one document.

    An error declaration is written the EPCIS way: the declared event again, with an
    ``errorDeclaration`` naming its corrective events.
    """
    found = movements.list_events(session, principal, page, where)
    names = aliases.namer()
    declarations = [row for row in found.items if row["declared_event_id"] is not None]
    declared = _declared_rows(session, principal, declarations)
    corrective = _corrective(session, [row["declared_event_id"] for row in declarations])
    events = []
    for row in found.items:
        target = row["declared_event_id"]
        if target is None:
            events.append(epcis.export_event(row, names))
        elif target in declared:
            events.append(
                epcis.export_event(
                    declared[target],
                    names,
                    declaration=row,
                    corrective=corrective.get(target, ()),
                )
            )
    document = epcis.document(events, datetime.now(UTC), query=query)
    return Exported(document, found.next_cursor)


def _declared_rows(
    session: Session, principal: Principal, declarations: Sequence[Mapping[str, Any]]
) -> dict[uuid.UUID, Mapping[str, Any]]:
    found: dict[uuid.UUID, Mapping[str, Any]] = {}
    for row in declarations:
        target = row["declared_event_id"]
        try:
            found[target] = movements.get_event(session, principal, str(target))
        except NotFound:
            continue  # declared event outside the caller's view: the declaration is left out
    return found


def _corrective(
    session: Session, declared: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    if not declared:
        return {}
    ev = tables.events
    query = (
        select(ev.c.corrects_event_id, ev.c.event_id)
        .where(ev.c.corrects_event_id.in_(set(declared)))
        .order_by(ev.c.id)
    )
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    with read_transaction(session):
        for target, event_id in session.execute(query):
            found.setdefault(target, []).append(event_id)
    return found
