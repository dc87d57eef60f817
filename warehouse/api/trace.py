"""``/api/v1/trace/unit`` and ``/api/v1/trace/lot``: the lifecycle of a unit and a lot's flow.

A unit is named by a scan in any form the parser reads (``?udi=``, e.g. a GS1 element
string, HRI, Digital Link, HIBC or MA code) or by ``?di=&serial=``; a lot by ``?di=&lot=`` or
a scan carrying a lot. What the caller sees depends on its organisation (docs/trace.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

import udi
from warehouse.api.audit import proof_json
from warehouse.api.common import query_args
from warehouse.db import db
from warehouse.services import audit
from warehouse.services import trace as service
from warehouse.services.errors import NotFound
from warehouse.web.auth import current_principal
from warehouse.web.problems import PROBLEM_TYPES, Problem, ProblemDetail

PROBLEM_TYPES.update(
    {
        "trace.identifier_required": "Name the unit by ?udi= or ?di=&serial=, a lot by "
        "?di=&lot= or ?udi= with a lot.",
        "trace.udi_invalid": "The scan in ?udi= could not be parsed; errors[] says where.",
    }
)

blp = Blueprint(
    "trace",
    __name__,
    url_prefix="/api/v1/trace",
    description="Full-lifecycle traces: a unit's ordered history and a lot's flow between "
    "holders, with a quantity balance.",
)

_TEXT = ma.validate.Length(min=1, max=100)


class UnitTraceArgsSchema(ma.Schema):
    udi = ma.fields.String(
        validate=ma.validate.Length(min=1, max=500),
        metadata={
            "description": "a scan in any supported form",
            "example": "(01)06931234100049(21)SN1",
        },
    )
    di = ma.fields.String(validate=_TEXT)
    serial = ma.fields.String(validate=_TEXT)
    as_of = ma.fields.AwareDateTime(
        metadata={"description": "trace and state as they stood at this time"}
    )
    proofs = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "add the audit chain's inclusion proof of every event you may read"
        },
    )


class LotTraceArgsSchema(ma.Schema):
    udi = ma.fields.String(
        validate=ma.validate.Length(min=1, max=500),
        metadata={"description": "a scan carrying DI and lot"},
    )
    di = ma.fields.String(validate=_TEXT)
    lot = ma.fields.String(validate=ma.validate.Length(max=100))


def _party() -> ma.fields.Dict:
    return ma.fields.Dict(allow_none=True, metadata={"description": "{id, name}"})


class HopSchema(ma.Schema):
    event_id = ma.fields.String(required=True)
    client_event_id = ma.fields.String(allow_none=True)
    event_time = ma.fields.String(required=True, metadata={"description": "with its offset"})
    recorded_at = ma.fields.String()
    type = ma.fields.String()
    action = ma.fields.String()
    biz_step = ma.fields.String(required=True)
    biz_step_label_zh = ma.fields.String()
    disposition = ma.fields.String()
    disposition_label_zh = ma.fields.String()
    acting_party = _party()
    owner = _party()
    possessor = _party()
    source_party = _party()
    destination_party = _party()
    warehouse = ma.fields.Dict(allow_none=True)
    location = ma.fields.Dict(allow_none=True)
    destination_warehouse = ma.fields.Dict(allow_none=True)
    container = ma.fields.String(allow_none=True, metadata={"description": "SSCC"})
    via_container = ma.fields.Boolean()
    shipment_id = ma.fields.String(allow_none=True)
    documents = ma.fields.List(ma.fields.Dict())
    staff_id = ma.fields.String(allow_none=True)
    patient_ref = ma.fields.String(allow_none=True)
    encounter_ref = ma.fields.String(allow_none=True)
    patient_ref_hidden = ma.fields.Boolean()
    redacted = ma.fields.Boolean(
        metadata={"description": "a hop where the caller was no party: private details left out"}
    )
    after = ma.fields.Dict(metadata={"description": "status, owner, possessor after the event"})
    declared_erroneous = ma.fields.Boolean(
        metadata={"description": "an error declaration says this event is wrong"}
    )
    error_reason = ma.fields.String(
        allow_none=True, metadata={"description": "did_not_occur or incorrect_data"}
    )
    correction = ma.fields.Dict(
        allow_none=True,
        metadata={"description": "declared_by and corrected_by event ids (not on redacted hops)"},
    )


class UnitTraceSchema(ma.Schema):
    di = ma.fields.String(required=True)
    serial = ma.fields.String(required=True)
    lot = ma.fields.String(allow_none=True)
    expiry = ma.fields.String(allow_none=True)
    as_of = ma.fields.String(allow_none=True)
    device = ma.fields.Dict(allow_none=True, metadata={"description": "catalogue + registrant"})
    current = ma.fields.Dict(allow_none=True, metadata={"description": "status and holder"})
    timeline = ma.fields.List(ma.fields.Nested(HopSchema), required=True)
    containers = ma.fields.List(ma.fields.Dict())
    acceptance = ma.fields.List(ma.fields.Dict())
    patient_use = ma.fields.List(ma.fields.Dict())
    visibility = ma.fields.String(metadata={"description": "full or party"})
    proofs = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(),
        metadata={"description": "?proofs=true: event id -> inclusion proof (GET /audit/proof)"},
    )


class LotTraceSchema(ma.Schema):
    di = ma.fields.String(required=True)
    lot = ma.fields.String(required=True)
    device = ma.fields.Dict(allow_none=True)
    graph = ma.fields.Dict(
        required=True, metadata={"description": "nodes: holders; edges: shipments per pair"}
    )
    shipments = ma.fields.List(ma.fields.Dict(), required=True)
    totals = ma.fields.Dict()
    balance = ma.fields.Dict(
        metadata={"description": "received = on hand + shipped + used + destroyed - returned"}
    )
    backward = ma.fields.List(ma.fields.String(), allow_none=True)
    forward = ma.fields.List(ma.fields.String(), allow_none=True)
    visibility = ma.fields.String()


@dataclass(frozen=True, slots=True)
class Identified:
    """What a trace request names."""

    di: str
    serial: str | None
    lot: str | None


def identify(args: Mapping[str, Any], wanted: str) -> Identified:
    """The DI and the serial or lot from ``?udi=`` or ``?di=`` plus ``?serial=``/``?lot=``.

    Raises:
        Problem: 422 ``trace.udi_invalid`` for a scan the parser refuses,
            422 ``trace.identifier_required`` when the serial or lot is missing.
    """
    scan = args.get("udi")
    di, value = args.get("di"), args.get(wanted)
    if scan:
        result = udi.parse(scan)
        if not result.ok or result.udi is None or not result.udi.di:
            errors = [
                ProblemDetail(i.code, i.message, field="udi", position=i.position, length=i.length)
                for i in result.errors
            ]
            first = result.errors[0].message if result.errors else "no device identifier"
            raise Problem(
                422, "trace.udi_invalid", f"Expected a readable UDI, got: {first}", errors=errors
            )
        di = result.udi.di
        value = value or getattr(result.udi, wanted)
    if not di or value is None:
        need = (
            "?udi= with a serial, or ?di= and ?serial="
            if wanted == "serial"
            else ("?udi= with a lot, or ?di= and ?lot=")
        )
        raise Problem(
            422,
            "trace.identifier_required",
            f"Expected {need}, got {'no DI' if not di else f'no {wanted}'}.",
            errors=[ProblemDetail("field.required", f"Expected a {wanted}.", field=wanted)],
        )
    return Identified(di, value if wanted == "serial" else None, value if wanted == "lot" else None)


def unit_trace_for(args: Mapping[str, Any]) -> dict[str, Any]:
    """The unit trace a request asks for (shared with the HTML page)."""
    named = identify(args, "serial")
    assert named.serial is not None
    as_of: datetime | None = args.get("as_of")
    return service.unit_trace(db.session, current_principal(), named.di, named.serial, as_of)


def lot_trace_for(args: Mapping[str, Any]) -> dict[str, Any]:
    """The lot trace a request asks for (shared with the HTML page)."""
    named = identify(args, "lot")
    assert named.lot is not None
    return service.lot_trace(db.session, current_principal(), named.di, named.lot)


@blp.route("/unit")
class UnitTrace(MethodView):
    @query_args(blp, UnitTraceArgsSchema)
    @blp.response(200, UnitTraceSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ordered lifecycle of one unit: every custody change, container, acceptance,
        use on a patient, and its current state and holder (or as of ``as_of``)."""
        body = unit_trace_for(args)
        if args["proofs"]:
            body["proofs"] = inclusion_proofs(body["timeline"])
        return body


def inclusion_proofs(timeline: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The proof of each hop the caller may read as an event (GET /events' rules): another
    company's redacted hop has none, exactly as ``GET /audit/proof`` would answer 404."""
    principal, proofs = current_principal(), {}
    for hop in timeline:
        try:
            found = audit.proof(db.session, principal, uuid.UUID(hop["event_id"]))
        except NotFound:
            continue
        proofs[hop["event_id"]] = proof_json(found)
    return proofs


@blp.route("/lot")
class LotTrace(MethodView):
    @query_args(blp, LotTraceArgsSchema)
    @blp.response(200, LotTraceSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Where a lot came from and went: holders and shipments as a graph and a table,
        with a per-holder quantity balance and every imbalance."""
        return lot_trace_for(args)
