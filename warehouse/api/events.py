"""``/api/v1/events``, ``/api/v1/stock`` and ``/api/v1/discrepancies``: movements and stock.

``POST /events`` takes one event, or ``{"events": [...]}`` (at most 1,000) answered per
event; every event is validated against its schema on its own, so one malformed event does
not refuse the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import marshmallow as ma
from flask import Response, jsonify, make_response, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.api.common import PageArgsSchema, list_schema, page_json, page_request, query_args
from warehouse.db import db
from warehouse.domain.movements import (
    REFUSAL_CODES,
    Action,
    BizStep,
    Disposition,
    EventType,
    UnitStatus,
)
from warehouse.repository.pages import PageRequest
from warehouse.services import movements as service
from warehouse.services.errors import FieldError
from warehouse.web.auth import current_principal, require_roles
from warehouse.web.problems import PROBLEM_TYPES, Problem, ProblemDetail, schema_errors

PROBLEM_TYPES.update(REFUSAL_CODES)
PROBLEM_TYPES["reference.unknown"] = "The event names a location, party or shipment not on file."
PROBLEM_TYPES["request.batch_too_large"] = "Send at most 1,000 events per request."

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/api/v1",
    description="Movement events (EPCIS 2.0 / CBV), stock on hand and receipt discrepancies.",
)

STEPS = [s.value for s in BizStep]
DISPOSITIONS = [d.value for d in Disposition]
DOCUMENT_TYPES = ["po", "poc", "desadv", "recadv", "inv", "rma", "bol", "cert", "prodorder"]
_TEXT = ma.validate.Length(min=1, max=100)


QUERY_YEARS = (1970, 9998)
"""Years (UTC) an event time or a time filter may name: any offset of them is a date Python
can hold."""


def _within_years(moment: datetime) -> None:
    """Refuse an aware time that has no UTC equivalent or lies outside :data:`QUERY_YEARS`.

    ``0001-01-01T00:00:00+14:00`` parses, but it falls before year 1 in UTC; without this
    check the listing's ``astimezone(UTC)`` raises OverflowError (a 500).
    """
    first, last = QUERY_YEARS
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:
        year = None
    if year is None or not first <= year <= last:
        raise ma.ValidationError(
            f"Expected a time in the years {first} to {last} (UTC), got {moment.isoformat()}."
        )


class ItemSchema(ma.Schema):
    di = ma.fields.String(validate=_TEXT, metadata={"example": "06931234100049"})
    serial = ma.fields.String(validate=_TEXT)
    lot = ma.fields.String(validate=_TEXT)
    quantity = ma.fields.Integer(load_default=1, metadata={"description": "1 for a serial"})
    expiry = ma.fields.Date()
    production_date = ma.fields.Date()
    sscc = ma.fields.String(
        validate=ma.validate.Length(max=18), metadata={"description": "a whole container"}
    )


class DocumentSchema(ma.Schema):
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(DOCUMENT_TYPES))
    id = ma.fields.String(required=True, validate=_TEXT)


class ErrorDeclarationSchema(ma.Schema):
    declared_event_id = ma.fields.UUID(
        required=True, metadata={"description": "event_id of the erroneous event"}
    )
    reason = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["did_not_occur", "incorrect_data"])
    )


class EventInSchema(ma.Schema):
    event_id = ma.fields.UUID(required=True, metadata={"description": "client-made, unique"})
    type = ma.fields.String(
        load_default="object", validate=ma.validate.OneOf([t.value for t in EventType])
    )
    action = ma.fields.String(validate=ma.validate.OneOf([a.value for a in Action]))
    biz_step = ma.fields.String(required=True, validate=ma.validate.OneOf(STEPS))
    disposition = ma.fields.String(validate=ma.validate.OneOf(DISPOSITIONS))
    event_time = ma.fields.AwareDateTime(
        required=True,
        validate=_within_years,
        metadata={"example": "2026-11-27T14:03:00+08:00"},
    )
    read_point_id = ma.fields.UUID(metadata={"description": "location scanned at / taken from"})
    location_id = ma.fields.UUID(metadata={"description": "business location after the event"})
    acting_org_id = ma.fields.UUID(metadata={"description": "admin only; default: yours"})
    staff_id = ma.fields.String(validate=_TEXT)
    scanner_device_id = ma.fields.String(validate=_TEXT)
    owner_id = ma.fields.UUID()
    possessor_id = ma.fields.UUID()
    source_party_id = ma.fields.UUID()
    destination_party_id = ma.fields.UUID()
    destination_warehouse_id = ma.fields.UUID()
    shipment_id = ma.fields.UUID()
    parent_sscc = ma.fields.String(validate=ma.validate.Length(max=18))
    items = ma.fields.List(ma.fields.Nested(ItemSchema), load_default=list)
    documents = ma.fields.List(ma.fields.Nested(DocumentSchema), load_default=list)
    patient_ref = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    encounter_ref = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    corrects_event_id = ma.fields.UUID(metadata={"description": "event_id declared erroneous"})
    error_declaration = ma.fields.Nested(ErrorDeclarationSchema)


class BatchInSchema(ma.Schema):
    events = ma.fields.List(
        ma.fields.Nested(EventInSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=service.MAX_BATCH),
    )


def _optional_text() -> ma.fields.String:
    return ma.fields.String(allow_none=True, required=True)


class EventSchema(ma.Schema):
    id = ma.fields.String(required=True)
    event_id = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    action = ma.fields.String(required=True)
    biz_step = ma.fields.String(required=True)
    biz_step_label_zh = ma.fields.String(required=True, metadata={"example": "验收"})
    disposition = ma.fields.String(required=True)
    disposition_label_zh = ma.fields.String(required=True)
    event_time = ma.fields.String(required=True, metadata={"description": "with its offset"})
    event_time_offset = ma.fields.String(required=True, metadata={"example": "+08:00"})
    recorded_at = ma.fields.String(required=True)
    event_hash = ma.fields.String(required=True)
    batch_id = ma.fields.String(required=True)
    items = ma.fields.List(ma.fields.Dict(), required=True)
    documents = ma.fields.List(ma.fields.Nested(DocumentSchema), required=True)
    read_point_id = _optional_text()
    location_id = _optional_text()
    warehouse_id = _optional_text()
    acting_org_id = _optional_text()
    owner_id = _optional_text()
    possessor_id = _optional_text()
    source_party_id = _optional_text()
    destination_party_id = _optional_text()
    destination_warehouse_id = _optional_text()
    shipment_id = _optional_text()
    corrects_event_id = _optional_text()
    declared_event_id = _optional_text()
    staff_id = _optional_text()
    scanner_device_id = _optional_text()
    parent_sscc = _optional_text()
    patient_ref = _optional_text()
    encounter_ref = _optional_text()
    error_reason = _optional_text()


class BatchResultSchema(ma.Schema):
    accepted = ma.fields.Integer(required=True)
    duplicates = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    batch_id = ma.fields.String(required=True)
    results = ma.fields.List(ma.fields.Dict(), required=True)


class EventArgsSchema(PageArgsSchema):
    event_time_from = ma.fields.AwareDateTime(validate=_within_years)
    event_time_to = ma.fields.AwareDateTime(validate=_within_years)
    biz_step = ma.fields.String(validate=ma.validate.OneOf(STEPS))
    disposition = ma.fields.String(validate=ma.validate.OneOf(DISPOSITIONS))
    location_id = ma.fields.UUID()
    warehouse_id = ma.fields.UUID()
    di = ma.fields.String()
    lot = ma.fields.String()
    serial = ma.fields.String()
    sscc = ma.fields.String()
    party_id = ma.fields.UUID(metadata={"description": "acting, owner, possessor, source or dest"})
    event_id = ma.fields.UUID()
    error_declaration = ma.fields.Boolean()


STATUSES = [s.value for s in UnitStatus]


class StockArgsSchema(PageArgsSchema):
    warehouse_id = ma.fields.UUID()
    warehouse = ma.fields.UUID(metadata={"description": "alias of warehouse_id"})
    location_id = ma.fields.UUID()
    owner_id = ma.fields.UUID()
    possessor_id = ma.fields.UUID()
    di = ma.fields.String()
    lot = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    expiring_before = ma.fields.Date()


class StockSchema(ma.Schema):
    id = ma.fields.String(required=True)
    owner_id = ma.fields.String(required=True)
    possessor_id = ma.fields.String(required=True)
    warehouse_id = ma.fields.String(required=True)
    location_id = ma.fields.String(required=True)
    di = ma.fields.String(required=True)
    lot = ma.fields.String(allow_none=True, required=True)
    status = ma.fields.String(required=True, metadata={"description": "expired is derived"})
    status_label_zh = ma.fields.String(required=True)
    expiry = ma.fields.Date(allow_none=True, required=True)
    quantity = ma.fields.Integer(required=True)


class FefoArgsSchema(ma.Schema):
    di = ma.fields.String(required=True)
    warehouse_id = ma.fields.UUID()
    warehouse = ma.fields.UUID(metadata={"description": "alias of warehouse_id"})
    owner_id = ma.fields.UUID()
    quantity = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))


class FefoSchema(ma.Schema):
    di = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    missing = ma.fields.Integer(required=True)
    lines = ma.fields.List(ma.fields.Dict(), required=True)


class DiscrepancyArgsSchema(PageArgsSchema):
    shipment_id = ma.fields.UUID()
    kind = ma.fields.String(
        validate=ma.validate.OneOf(["short", "over", "substitution", "unexpected_unit"])
    )


class DiscrepancySchema(ma.Schema):
    id = ma.fields.String(required=True)
    shipment_id = ma.fields.String(required=True)
    receiving_event_id = ma.fields.String(required=True)
    organisation_id = ma.fields.String(required=True)
    warehouse_id = _optional_text()
    kind = ma.fields.String(required=True, metadata={"example": "substitution"})
    di = ma.fields.String(required=True)
    lot = _optional_text()
    serial = _optional_text()
    expected_di = _optional_text()
    expected_quantity = ma.fields.Integer(required=True)
    received_quantity = ma.fields.Integer(required=True)
    created_at = ma.fields.DateTime(required=True)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def event_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event as the API shows it."""
    step, disposition = BizStep(row["biz_step"]), Disposition(row["disposition"])
    offset = row["event_time_offset"]
    local = _utc(row["event_time"]).astimezone(_tz(offset))
    body = {
        "id": str(row["id"]),
        "event_id": str(row["event_id"]),
        "type": row["event_type"],
        "action": row["action"],
        "biz_step": step.value,
        "biz_step_label_zh": step.label_zh,
        "disposition": disposition.value,
        "disposition_label_zh": disposition.label_zh,
        "event_time": local.isoformat(),
        "event_time_offset": offset,
        "recorded_at": _utc(row["recorded_at"]).isoformat(),
        "event_hash": row["event_hash"],
        "batch_id": str(row["batch_id"]),
        "documents": row["documents"],
        "items": [
            {
                key: (value.isoformat() if hasattr(value, "isoformat") else value)
                for key, value in item.items()
                if key not in ("event_id", "id") and value is not None
            }
            for item in row["items"]
        ],
    }
    for name in (
        "read_point_id",
        "location_id",
        "warehouse_id",
        "acting_org_id",
        "owner_id",
        "possessor_id",
        "source_party_id",
        "destination_party_id",
        "destination_warehouse_id",
        "shipment_id",
        "corrects_event_id",
        "declared_event_id",
    ):
        body[name] = _text(row[name])
    for name in (
        "staff_id",
        "scanner_device_id",
        "parent_sscc",
        "patient_ref",
        "encounter_ref",
        "error_reason",
    ):
        body[name] = row[name]
    return body


def _utc(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without their zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tz(offset: str) -> timezone:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def stock_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stock balance as the API shows it."""
    status = service.effective_status(row["status"], row["expiry"])
    return {
        "id": str(row["id"]),
        "owner_id": str(row["owner_id"]),
        "possessor_id": str(row["possessor_id"]),
        "warehouse_id": str(row["warehouse_id"]),
        "location_id": str(row["location_id"]),
        "di": row["di"],
        "lot": row["lot"] or None,
        "status": status.value,
        "status_label_zh": status.label_zh,
        "expiry": row["expiry"],
        "quantity": row["quantity"],
    }


def discrepancy_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A receipt discrepancy as the API shows it."""
    return {
        key: (str(value) if isinstance(value, uuid.UUID) else value) for key, value in row.items()
    } | {"lot": row["lot"] or None}


def problem_json(refusal: service.EventRefused) -> dict[str, Any]:
    """The problem document of one refused event."""
    return _problem(refusal).to_json()


def _problem(refusal: service.EventRefused) -> Problem:
    return Problem(
        refusal.status,
        refusal.code,
        refusal.detail,
        errors=[ProblemDetail(e.code, e.message, field=e.field) for e in refusal.errors],
    )


def _parse(raw: Any) -> service.NewEvent | service.EventRefused:
    try:
        body = EventInSchema().load(raw if isinstance(raw, Mapping) else {})
    except ma.ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"": error.messages}
        details = list(schema_errors(messages))
        return service.EventRefused(
            "request.validation",
            f"Expected an event matching the schema, got {len(details)} invalid field(s).",
            [FieldError(d.field or "", d.code, d.message) for d in details],
        )
    return to_new_event(body)


def to_new_event(body: Mapping[str, Any]) -> service.NewEvent:
    """The service's event from a loaded :class:`EventInSchema` body."""
    declaration = body.get("error_declaration") or {}
    fields = {
        name: body.get(name)
        for name in (
            "read_point_id",
            "location_id",
            "acting_org_id",
            "staff_id",
            "scanner_device_id",
            "owner_id",
            "possessor_id",
            "source_party_id",
            "destination_party_id",
            "destination_warehouse_id",
            "shipment_id",
            "parent_sscc",
            "patient_ref",
            "encounter_ref",
            "corrects_event_id",
        )
    }
    return service.NewEvent(
        event_id=body["event_id"],
        biz_step=BizStep(body["biz_step"]),
        event_time=body["event_time"],
        items=tuple(service.NewItem(**item) for item in body["items"]),
        event_type=EventType(body["type"]),
        action=Action(body["action"]) if body.get("action") else None,
        disposition=Disposition(body["disposition"]) if body.get("disposition") else None,
        documents=tuple(service.Document(d["type"], d["id"]) for d in body["documents"]),
        declares_event_id=declaration.get("declared_event_id"),
        error_reason=declaration.get("reason"),
        **fields,
    )


@blp.route("/events")
class Events(MethodView):
    @query_args(blp, EventArgsSchema)
    @blp.response(200, list_schema(EventSchema, "EventPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List events with EPCIS-like filters (time range, step, place, DI/lot/serial, party)."""
        where = service.EventFilter(
            **{
                **{k: v for k, v in args.items() if k not in ("limit", "cursor")},
                "biz_step": BizStep(args["biz_step"]) if "biz_step" in args else None,
                "disposition": Disposition(args["disposition"]) if "disposition" in args else None,
            }
        )
        page = service.list_events(db.session, current_principal(), page_request(args), where)
        return page_json(page, event_json)

    @require_roles(*service.WRITER_ROLES)
    @blp.doc(
        requestBody={
            "content": {"application/json": {"schema": EventInSchema}},
            "description": 'One event, or {"events": [...]} (at most 1,000).',
        }
    )
    @blp.response(200, BatchResultSchema, description="Batch: one result per event")
    @blp.alt_response(201, schema=EventSchema, description="One event, recorded")
    def post(self) -> Response:
        """Record one event or a batch; each event is accepted or rejected on its own."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Problem(400, "request.malformed", "Expected a JSON object, got another body.")
        if "events" in body:
            raw = body["events"]
            if not isinstance(raw, list) or not 1 <= len(raw) <= service.MAX_BATCH:
                raise Problem(
                    422,
                    "request.validation",
                    f"Expected events: a list of 1 to {service.MAX_BATCH} events.",
                    errors=[ProblemDetail("field.invalid", "1 to 1000 events", field="events")],
                )
            events = [_parse(item) for item in raw]
            result = service.record(db.session, current_principal(), events)
            batch = {
                "accepted": result.count("accepted"),
                "duplicates": result.count("duplicate"),
                "rejected": result.count("rejected"),
                "batch_id": result.batch_id,
                "results": [
                    {
                        "index": r.index,
                        "status": r.status,
                        "id": r.id,
                        "problem": problem_json(r.problem) if r.problem else None,
                    }
                    for r in result.results
                ],
            }
            return jsonify(batch)
        result = service.record(db.session, current_principal(), [_parse(body)])
        outcome = result.results[0]
        if outcome.problem is not None:
            raise _problem(outcome.problem)
        assert outcome.id is not None
        stored = event_json(service.get_event(db.session, current_principal(), outcome.id))
        location = url_for("events.EventResource", event_id=outcome.id)
        status = 201 if outcome.status == "accepted" else 200
        return make_response(jsonify(stored), status, {"Location": location})


@blp.route("/events/<uuid:event_id>")
class EventResource(MethodView):
    @blp.response(200, EventSchema)
    def get(self, event_id: uuid.UUID) -> dict[str, Any]:
        """Read one event by its server id."""
        return event_json(service.get_event(db.session, current_principal(), str(event_id)))


def _warehouse(args: Mapping[str, Any]) -> uuid.UUID | None:
    return args.get("warehouse_id") or args.get("warehouse")


@blp.route("/stock")
class Stock(MethodView):
    @query_args(blp, StockArgsSchema)
    @blp.response(200, list_schema(StockSchema, "StockPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """On-hand balances per owner, possessor, location, DI, lot and status."""
        where = service.StockFilter(
            warehouse_id=_warehouse(args),
            location_id=args.get("location_id"),
            owner_id=args.get("owner_id"),
            possessor_id=args.get("possessor_id"),
            di=args.get("di"),
            lot=args.get("lot"),
            status=UnitStatus(args["status"]) if "status" in args else None,
            expiring_before=args.get("expiring_before"),
        )
        page = service.list_stock(db.session, current_principal(), page_request(args), where)
        return page_json(page, stock_json)


@blp.route("/stock/fefo")
class StockFefo(MethodView):
    @query_args(blp, FefoArgsSchema)
    @blp.response(200, FefoSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """First-expiry-first-out pick suggestion; skips blocked and expired stock."""
        lines, missing = service.fefo(
            db.session,
            current_principal(),
            args["di"],
            args["quantity"],
            warehouse_id=_warehouse(args),
            owner_id=args.get("owner_id"),
        )
        return {
            "di": args["di"],
            "quantity": args["quantity"],
            "missing": missing,
            "lines": [
                {
                    **stock_json(line),
                    "location_code": line["location_code"],
                    "take": line["take"],
                }
                for line in lines
            ],
        }


@blp.route("/discrepancies")
class Discrepancies(MethodView):
    @query_args(blp, DiscrepancyArgsSchema)
    @blp.response(200, list_schema(DiscrepancySchema, "DiscrepancyPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Receipt discrepancies: short, over, substituted DI or unexpected unit."""
        page = service.list_discrepancies(
            db.session,
            current_principal(),
            PageRequest(args["limit"], args.get("cursor")),
            shipment_id=args.get("shipment_id"),
            kind=args.get("kind"),
        )
        return page_json(page, discrepancy_json)
