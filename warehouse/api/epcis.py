"""``/api/v1/epcis``: EPCIS 2.0 JSON-LD query and capture over our movement events.

``GET /epcis/events`` takes the filters of ``GET /events`` and answers one page as an
EPCISQueryDocument (``?document=EPCISDocument`` for a plain EPCIS document); the next page
is linked in ``Link: <…>; rel="next"``. ``POST /epcis/capture`` takes an EPCIS 2.0 document
(``application/json`` or ``application/ld+json``) and answers per event, like a batch of
``POST /events``; an event our movements cannot represent is recorded as sent (status
``recorded``, with ``not_applied`` saying why) and changes no stock or custody.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, current_app, jsonify, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.api.common import query_args
from warehouse.api.events import EventArgsSchema, problem_json
from warehouse.db import db
from warehouse.domain.epcis import NOT_APPLIED_CODES, NOT_APPLIED_DETAIL, REFUSAL_CODES, NotApplied
from warehouse.domain.movements import BizStep, Disposition
from warehouse.repository.pages import PageRequest
from warehouse.services import epcis as service
from warehouse.services import movements
from warehouse.web.auth import current_principal, require_roles
from warehouse.web.media import accepts
from warehouse.web.problems import PROBLEM_TYPES, Problem, ProblemDetail

PROBLEM_TYPES.update(REFUSAL_CODES)
PROBLEM_TYPES.update(NOT_APPLIED_CODES)

JSON_LD = "application/ld+json"

blp = Blueprint(
    "epcis",
    __name__,
    url_prefix="/api/v1/epcis",
    description="GS1 EPCIS 2.0 JSON-LD interchange: query our events, capture partners' events.",
)


class EpcisEventArgsSchema(EventArgsSchema):
    document = ma.fields.String(
        load_default="EPCISQueryDocument",
        validate=ma.validate.OneOf(["EPCISQueryDocument", "EPCISDocument"]),
        metadata={"description": "Envelope of the answer."},
    )
    event_type = ma.fields.String(
        validate=ma.validate.OneOf(service.EPCIS_TYPES),
        metadata={"description": "EPCIS event type (TransformationEvent… only as recorded)"},
    )


class CaptureResultSchema(ma.Schema):
    accepted = ma.fields.Integer(required=True)
    duplicates = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    recorded = ma.fields.Integer(
        required=True, metadata={"description": "recorded as sent, not applied to stock"}
    )
    batch_id = ma.fields.String(required=True)
    results = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata={
            "description": "{index, eventID, status, id, problem, not_applied} per event, in "
            "order; status accepted, recorded, duplicate or rejected"
        },
    )


def aliases() -> service.Aliases:
    """The identifier aliases configured as ``EPCIS_ALIASES`` (env ``UDI_EPCIS_ALIASES``)."""
    return service.Aliases.parse(current_app.config.get("EPCIS_ALIASES"))


def _media_type() -> str:
    best = request.accept_mimetypes.best_match(["application/json", JSON_LD])
    return JSON_LD if best == JSON_LD else "application/json"


@blp.route("/events")
class EpcisEvents(MethodView):
    @query_args(blp, EpcisEventArgsSchema)
    @blp.doc(
        responses={
            "200": {
                "description": "EPCISQueryDocument (or EPCISDocument) with one page of events",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    JSON_LD: {"schema": {"type": "object"}},
                },
            }
        }
    )
    def get(self, args: dict[str, Any]) -> Response:
        """Events as EPCIS 2.0 JSON-LD (CBV vocabulary, Digital Link identifiers)."""
        envelope = ("limit", "cursor", "document", "event_type")
        filters = {k: v for k, v in args.items() if k not in envelope}
        if "biz_step" in filters:
            filters["biz_step"] = BizStep(filters["biz_step"])
        if "disposition" in filters:
            filters["disposition"] = Disposition(filters["disposition"])
        exported = service.export(
            db.session,
            current_principal(),
            PageRequest(args["limit"], args.get("cursor")),
            movements.EventFilter(**filters),
            aliases(),
            query=args["document"] == "EPCISQueryDocument",
            event_type=args.get("event_type"),
        )
        response = jsonify(exported.document)
        response.mimetype = _media_type()
        if exported.next_cursor is not None:
            following = {k: v for k, v in request.args.items() if k != "cursor"}
            link = url_for(".EpcisEvents", **following, cursor=exported.next_cursor)
            response.headers["Link"] = f'<{link}>; rel="next"'
        return response


@blp.route("/capture")
class EpcisCapture(MethodView):
    @require_roles(*movements.WRITER_ROLES)
    @accepts("application/json", JSON_LD)
    @blp.doc(
        requestBody={
            "content": {
                JSON_LD: {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
            "description": "An EPCIS 2.0 EPCISDocument (at most 1,000 events).",
        }
    )
    @blp.response(200, CaptureResultSchema, description="One result per event")
    def post(self) -> dict[str, Any]:
        """Capture an EPCIS 2.0 document: schema-checked, then each event recorded or refused."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Problem(400, "request.malformed", "Expected a JSON object, got another body.")
        try:
            result = service.capture(db.session, current_principal(), body, aliases())
        except service.DocumentInvalid as invalid:
            raise Problem(
                422,
                invalid.code,
                str(invalid),
                errors=[
                    ProblemDetail(v.code, v.message, field=v.pointer) for v in invalid.violations
                ],
            ) from invalid
        return {
            "accepted": result.count("accepted"),
            "duplicates": result.count("duplicate"),
            "rejected": result.count("rejected"),
            "recorded": result.count("recorded"),
            "batch_id": result.batch_id,
            "results": [
                {
                    "index": r.index,
                    "eventID": r.event_id,
                    "status": r.status,
                    "id": r.id,
                    "problem": problem_json(r.problem) if r.problem else None,
                    "not_applied": _not_applied(r.not_applied),
                }
                for r in result.results
            ],
        }


def _not_applied(reason: NotApplied | None) -> dict[str, str] | None:
    """Why an event was recorded as sent rather than applied, and that nothing changed."""
    if reason is None:
        return None
    return {
        "code": reason.code,
        "type": f"/problems/{reason.code}",
        "field": reason.pointer,
        "message": reason.message,
        "detail": NOT_APPLIED_DETAIL,
    }
