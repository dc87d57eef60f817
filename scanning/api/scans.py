"""``/api/v1/scans``: scans from registered devices, one or a batch, and the exceptions queue.

Every scan is validated against its schema on its own, so one malformed scan does not refuse
the others; the answer lists, per scan, accepted (with the event id), duplicate (the first
answer again) or rejected (a problem with code, detail and position in the scan as sent).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import Response, current_app, jsonify, make_response, request
from flask.blueprints import BlueprintSetupState
from flask.views import MethodView
from flask_smorest import Blueprint

from scanning import devices, ingest, review
from scanning.combiner import Combiner
from scanning.ingest import InvalidScan, ScanIn
from scanning.normalise import MAX_SCAN_LENGTH
from scanning.operations import Operation
from warehouse.api.common import (
    NO_NUL,
    PageArgsSchema,
    list_schema,
    page_json,
    page_request,
    query_args,
)
from warehouse.api.events import DocumentSchema
from warehouse.db import db
from warehouse.domain.roles import Role
from warehouse.recent import Recent
from warehouse.web.auth import current_principal, require_roles
from warehouse.web.problems import PROBLEM_TYPES, Problem, ProblemDetail, schema_errors

PROBLEM_TYPES.update(
    {
        "scan.device_required": "Scans are sent with a registered scanner's own token "
        "(POST /api/v1/scanners issues it).",
        "scan.id_reused": "The scan_id was already used by this device for a scan with other "
        "content; give every scan a new UUID.",
        "scan.location_outside_warehouse": "A scanner records only in the warehouse it is "
        "registered for; the location is elsewhere or unknown.",
        "scan.quantity": "A serialised unit counts as one; send no quantity or 1.",
        "scan.quantity_required": "The label has no serial: send the quantity counted.",
        "scan.destination_required": "A ship scan names destination_party_id.",
        "scan.no_di": "The label carries no device identifier (DI).",
        "scan.count_operation": "count_id goes only with operation stock_count.",
        "scan.count_unknown": "The count session does not exist or is another organisation's.",
        "scan.count_closed": "The count session was confirmed, or is being confirmed; scan into"
        " an open one.",
        "scan.device_time_range": "device_time is outside 2000-01-01 to 9999-01-01 (UTC); check"
        " the scanner's clock.",
        "scan.count_location": "A count scan is made at its count session's location.",
        "scan.count_container": "Counts are made unit by unit, not by container SSCC.",
        "scan_exception.closed": "The exception was resolved or rejected already.",
    }
)

blp = Blueprint(
    "scans",
    __name__,
    url_prefix="/api/v1/scans",
    description="Scans from registered handheld scanners, and the exceptions review queue.",
)

_TEXT = ma.validate.Length(min=1, max=100)
_REF = [ma.validate.Length(min=1, max=64), NO_NUL]
OPERATIONS = [o.value for o in Operation]
REVIEWERS = (Role.ADMIN, Role.ORG_MANAGER, Role.WAREHOUSE_OPERATOR)


class ScanInSchema(ma.Schema):
    scan_id = ma.fields.UUID(required=True, metadata={"description": "client-made, per device"})
    scan = ma.fields.String(
        required=True,
        validate=ma.validate.Length(max=2 * MAX_SCAN_LENGTH),
        metadata={
            "description": "the text exactly as the scanner sent it",
            "example": "]d201069312341000481727123110L1\u001d21S1",
        },
    )
    device_time = ma.fields.AwareDateTime(
        required=True, metadata={"example": "2026-11-27T14:03:00+08:00"}
    )
    operation = ma.fields.String(required=True, validate=ma.validate.OneOf(OPERATIONS))
    location_id = ma.fields.UUID(
        required=True, metadata={"description": "in the device's warehouse"}
    )
    from_location_id = ma.fields.UUID(metadata={"description": "moves: where lots come from"})
    quantity = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=1_000_000),
        metadata={"description": "lot-level items; 1 or none for a serial"},
    )
    document = ma.fields.Nested(DocumentSchema)
    patient_ref = ma.fields.String(validate=_REF)
    encounter_ref = ma.fields.String(validate=_REF)
    destination_party_id = ma.fields.UUID(metadata={"description": "ship: the consignee"})
    destination_warehouse_id = ma.fields.UUID()
    owner_id = ma.fields.UUID(metadata={"description": "receive: the goods' owner"})
    staff_id = ma.fields.String(validate=[_TEXT, NO_NUL])
    count_id = ma.fields.UUID(metadata={"description": "stock_count: the count session"})


class ScanBatchInSchema(ma.Schema):
    scans = ma.fields.List(
        ma.fields.Nested(ScanInSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=ingest.MAX_BATCH),
    )


class ScanResultSchema(ma.Schema):
    index = ma.fields.Integer(required=True)
    scan_id = ma.fields.String(allow_none=True, required=True)
    status = ma.fields.String(required=True, metadata={"example": "accepted"})
    event_id = ma.fields.String(allow_none=True, required=True)
    exception_id = ma.fields.String(allow_none=True, required=True)
    original_status = ma.fields.String(allow_none=True, required=True)
    problem = ma.fields.Dict(allow_none=True, required=True)
    warnings = ma.fields.List(ma.fields.Dict(), required=True)


class ScanBatchResultSchema(ma.Schema):
    accepted = ma.fields.Integer(required=True)
    duplicates = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    exceptions = ma.fields.Integer(required=True, metadata={"description": "queued for review"})
    results = ma.fields.List(ma.fields.Nested(ScanResultSchema), required=True)


class ExceptionArgsSchema(PageArgsSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(review.STATUSES))


class ExceptionSchema(ma.Schema):
    id = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"example": "open"})
    problem = ma.fields.Dict(required=True)
    attempts = ma.fields.Integer(required=True)
    last_problem = ma.fields.Dict(allow_none=True, required=True)
    created_at = ma.fields.String(required=True)
    resolved_at = ma.fields.String(allow_none=True, required=True)
    resolution = ma.fields.String(allow_none=True, required=True)
    reason = ma.fields.String(allow_none=True, required=True)
    event_id = ma.fields.String(allow_none=True, required=True)
    scan = ma.fields.Dict(required=True, metadata={"description": "the scan as sent and read"})


class ResolveSchema(ma.Schema):
    action = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["resubmit", "accept"]),
        metadata={"description": "resubmit: record the movement now; accept: close it as is"},
    )
    reason = ma.fields.String(validate=[ma.validate.Length(min=1, max=500), NO_NUL])


class RejectSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=500), NO_NUL])


_SCAN_SCHEMA = ScanInSchema()  # built once: building a schema costs more than loading a scan


def parse_scan(raw: Any) -> ScanIn | InvalidScan:
    """A scan of the request body, or the schema's refusal of it."""
    if not isinstance(raw, Mapping):
        document = ingest.problem(422, "request.validation", "Expected a scan object, got another.")
        return InvalidScan(document)
    try:
        body = _SCAN_SCHEMA.load(raw)
    except ma.ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"": error.messages}
        details = schema_errors(messages)
        document = ingest.problem(
            422,
            "request.validation",
            f"Expected a scan matching the schema, got {len(details)} invalid field(s).",
            [d.to_json() for d in details],
        )
        text = raw.get("scan")
        return InvalidScan(
            document,
            scan_id=_uuid(raw.get("scan_id")),
            raw=text if isinstance(text, str) else "",
            payload={k: v for k, v in raw.items() if k != "scan"},
        )
    return to_scan(body)


def to_scan(body: Mapping[str, Any]) -> ScanIn:
    """The service's scan from a loaded :class:`ScanInSchema` body."""
    document = body.get("document")
    names = (
        "from_location_id",
        "quantity",
        "patient_ref",
        "encounter_ref",
        "destination_party_id",
        "destination_warehouse_id",
        "owner_id",
        "staff_id",
        "count_id",
    )
    return ScanIn(
        scan_id=body["scan_id"],
        raw=body["scan"],
        device_time=body["device_time"],
        operation=Operation(body["operation"]),
        location_id=body["location_id"],
        document=(document["type"], document["id"]) if document else None,
        **{name: body.get(name) for name in names},
    )


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def batch_json(result: ingest.IngestResult) -> dict[str, Any]:
    """Counts and per-scan results."""
    return {
        "accepted": result.count(ingest.ACCEPTED),
        "duplicates": result.count(ingest.DUPLICATE),
        "rejected": result.count(ingest.REJECTED),
        "exceptions": result.exceptions,
        "results": [r.to_json() for r in result.results],
    }


def _problem_of(result: ingest.ScanResult) -> Problem:
    assert result.problem is not None
    document = result.problem
    extra: dict[str, Any] = {"scan_id": result.scan_id}
    if result.status == ingest.DUPLICATE:
        extra["duplicate"] = True
    if result.exception_id:
        extra["exception_id"] = result.exception_id
    return Problem(
        document["status"],
        document["code"],
        document["detail"],
        errors=[_detail(e) for e in document.get("errors", ())],
        extra=extra,
    )


def _detail(error: Mapping[str, Any]) -> ProblemDetail:
    known = {"code", "message", "field", "position", "length"}
    return ProblemDetail(
        error["code"],
        error["message"],
        field=error.get("field"),
        position=error.get("position"),
        length=error.get("length"),
        extra={k: v for k, v in error.items() if k not in known},
    )


class ScanArgsSchema(PageArgsSchema):
    device_id = ma.fields.UUID()
    status = ma.fields.String(validate=ma.validate.OneOf(["accepted", "rejected", "exception"]))


class StoredScanSchema(ma.Schema):
    id = ma.fields.String(required=True)
    scan_id = ma.fields.String(required=True)
    device_id = ma.fields.String(required=True)
    scan = ma.fields.String(required=True, metadata={"description": "exactly as received"})
    operation = ma.fields.String(allow_none=True, required=True)
    location_id = ma.fields.String(allow_none=True, required=True)
    count_id = ma.fields.String(allow_none=True, required=True)
    device_time = ma.fields.String(allow_none=True, required=True, metadata={"description": "UTC"})
    received_at = ma.fields.String(required=True, metadata={"description": "server time, UTC"})
    status = ma.fields.String(required=True, metadata={"example": "exception"})
    event_id = ma.fields.String(allow_none=True, required=True)
    item = ma.fields.Dict(allow_none=True, required=True, metadata={"description": "as read"})
    problem = ma.fields.Dict(allow_none=True, required=True)
    warnings = ma.fields.List(ma.fields.Dict(), required=True)


def stored_scan_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored scan as the API shows it."""
    item = {
        name: ingest.iso(row[name]) if name in ("expiry", "production_date") else row[name]
        for name in ("di", "lot", "serial", "sscc", "expiry", "production_date", "quantity")
        if row[name] is not None
    }
    return {
        "id": str(row["id"]),
        "scan_id": str(row["scan_id"]),
        "device_id": str(row["device_id"]),
        "scan": row["raw"],
        "operation": row["operation"],
        "location_id": str(row["location_id"]) if row["location_id"] else None,
        "count_id": str(row["count_id"]) if row["count_id"] else None,
        "device_time": ingest.iso(row["device_time"]),
        "received_at": ingest.iso(row["received_at"]),
        "status": row["status"],
        "event_id": str(row["event_id"]) if row["event_id"] else None,
        "item": item or None,
        "problem": row["problem"],
        "warnings": row["warnings"] or [],
    }


@blp.route("")
class Scans(MethodView):
    @query_args(blp, ScanArgsSchema)
    @blp.response(200, list_schema(StoredScanSchema, "StoredScanPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every scan your organisation's devices sent, as first answered, oldest first."""
        page = ingest.list_page(
            db.session,
            current_principal(),
            page_request(args),
            device_id=args.get("device_id"),
            status=args.get("status"),
        )
        return page_json(page, stored_scan_json)

    @require_roles(Role.SCANNER)
    @blp.doc(requestBody={"content": {"application/json": {"schema": ScanInSchema}}})
    @blp.response(201, ScanResultSchema, description="Accepted: the movement event was recorded")
    @blp.alt_response(200, schema=ScanResultSchema, description="Duplicate: the first answer")
    @blp.alt_response(422, description="Rejected: problem with code and position in the scan")
    def post(self) -> Response:
        """Send one scan with a scanner device's token."""
        device = requesting_device()
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Problem(400, "request.malformed", "Expected a JSON object, got another body.")
        result = _ingest_single(device, parse_scan(body))
        if result.problem is not None:  # refused now, or a replay of a refused scan: the same
            raise _problem_of(result)
        status = 201 if result.status == ingest.ACCEPTED else 200
        return make_response(jsonify(result.to_json()), status)


def requesting_device() -> devices.Scanner:
    """The registered device whose token made this request, remembered for as long as the
    token's principal is (warehouse/recent.py; forgotten here when the device is revoked)."""
    principal = current_principal()
    recent = recent_devices()
    found = recent.get(principal.token_id)
    if found is None:
        read_at = recent.now()
        found = devices.require_device(db.session, principal)
        recent.put(principal.token_id, found, read_at)
    return found


def recent_devices() -> Recent[uuid.UUID, devices.Scanner]:
    """This app's memory of the devices of recently seen scanner tokens."""
    recent: Recent[uuid.UUID, devices.Scanner] = current_app.extensions["udi_recent_devices"]
    return recent


@blp.record_once
def _set_up(state: BlueprintSetupState) -> None:
    """Once per app: the device memory (as long-lived as the token memory of
    warehouse/web/auth.py, registered before the blueprints) and the single-scan combiner."""
    seconds = state.app.extensions["udi_recent_principals"].seconds
    state.app.extensions["udi_recent_devices"] = Recent[uuid.UUID, devices.Scanner](seconds)
    state.app.extensions["udi_scan_combiner"] = Combiner()


COMBINE_CONFIG = "COMBINE_SCANS"
"""Config key (environment: ``UDI_COMBINE_SCANS=false``): group-commit concurrent single scans
(scanning/combiner.py); on by default."""


def _ingest_single(device: devices.Scanner, scan: ScanIn | InvalidScan) -> ingest.ScanResult:
    """Ingest one scan, together with the other single scans this process is receiving."""
    if not current_app.config.get(COMBINE_CONFIG, True):
        return ingest.ingest(db.session, device, [scan]).results[0]
    combiner: Combiner = current_app.extensions["udi_scan_combiner"]
    session = db.session  # the leading request's own session ingests the whole round
    answer = combiner.ingest((device, [scan]), lambda sends: ingest.ingest_many(session, sends))
    return answer.results[0]


@blp.route("/batch")
class ScanBatch(MethodView):
    @require_roles(Role.SCANNER)
    @blp.doc(requestBody={"content": {"application/json": {"schema": ScanBatchInSchema}}})
    @blp.response(200, ScanBatchResultSchema)
    def post(self) -> dict[str, Any]:
        """Send up to 1,000 scans (an offline sync); each is answered on its own."""
        device = requesting_device()
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Problem(400, "request.malformed", "Expected a JSON object, got another body.")
        raw = body.get("scans")
        if not isinstance(raw, list) or not 1 <= len(raw) <= ingest.MAX_BATCH:
            raise Problem(
                422,
                "request.validation",
                f"Expected scans: a list of 1 to {ingest.MAX_BATCH} scans.",
                errors=[ProblemDetail("field.invalid", "1 to 1000 scans", field="scans")],
            )
        result = ingest.ingest(db.session, device, [parse_scan(item) for item in raw])
        return batch_json(result)


def exception_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """An exception with the scan it holds."""
    scan = {
        "scan_id": str(row["scan_id"]),
        "device_id": str(row["device_id"]),
        "scan": row["raw"],
        "operation": row["operation"],
        "location_id": str(row["location_id"]) if row["location_id"] else None,
        "device_time": row["payload"].get("device_time"),
        "received_at": ingest.iso(row["received_at"]),
        "di": row["di"],
        "lot": row["lot"],
        "serial": row["serial"],
        "sscc": row["sscc"],
        "expiry": ingest.iso(row["expiry"]),
        "production_date": ingest.iso(row["production_date"]),
        "quantity": row["quantity"],
    }
    return {
        "id": str(row["id"]),
        "status": row["status"],
        "problem": row["problem"],
        "attempts": row["attempts"],
        "last_problem": row["last_problem"],
        "created_at": ingest.iso(row["created_at"]),
        "resolved_at": ingest.iso(row["resolved_at"]),
        "resolution": row["resolution"],
        "reason": row["reason"],
        "event_id": str(row["event_id"]) if row["event_id"] else None,
        "scan": scan,
    }


@blp.route("/exceptions")
class Exceptions(MethodView):
    @query_args(blp, ExceptionArgsSchema)
    @blp.response(200, list_schema(ExceptionSchema, "ScanExceptionPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Scans a stock rule refused, waiting for review (your organisation's), oldest first."""
        page = review.list_page(
            db.session, current_principal(), page_request(args), status=args.get("status")
        )
        return page_json(page, exception_json)


@blp.route("/exceptions/<uuid:exception_id>")
class ExceptionResource(MethodView):
    @blp.response(200, ExceptionSchema)
    def get(self, exception_id: uuid.UUID) -> dict[str, Any]:
        """Read one exception."""
        return exception_json(review.get(db.session, current_principal(), exception_id))


@blp.route("/exceptions/<uuid:exception_id>/resolve")
class ExceptionResolve(MethodView):
    @require_roles(*REVIEWERS)
    @blp.arguments(ResolveSchema)
    @blp.response(200, ExceptionSchema)
    def post(self, body: dict[str, Any], exception_id: uuid.UUID) -> dict[str, Any]:
        """Re-submit the scan's movement (e.g. after fixing stock), or accept it with a reason."""
        resolution = review.Resolution(body["action"], body.get("reason"))
        found = review.resolve(db.session, current_principal(), exception_id, resolution)
        return exception_json(found)


@blp.route("/exceptions/<uuid:exception_id>/reject")
class ExceptionReject(MethodView):
    @require_roles(*REVIEWERS)
    @blp.arguments(RejectSchema)
    @blp.response(200, ExceptionSchema)
    def post(self, body: dict[str, Any], exception_id: uuid.UUID) -> dict[str, Any]:
        """Close the exception without recording the scan, with a reason."""
        return exception_json(
            review.reject(db.session, current_principal(), exception_id, body["reason"])
        )
