"""``/api/v1/stock-counts``: count sessions at a location, their report and confirmation.

Scans are added to a session through ``POST /api/v1/scans`` with operation ``stock_count``
and the session's ``count_id``.
"""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from scanning import counts as service
from warehouse.api.common import created
from warehouse.db import db
from warehouse.domain.roles import Role
from warehouse.web.auth import current_principal, require_roles
from warehouse.web.problems import PROBLEM_TYPES

PROBLEM_TYPES.update(
    {
        "stock_count.confirmed": "The count session was confirmed already; open a new one.",
        "stock_count.confirming": "Another confirmation of the count session is under way.",
        "stock_count.adjustment_refused": "A movement rule refused an adjustment; the problem's"
        " adjustments list each one. Fix it and confirm again: recorded ones are not repeated.",
    }
)

blp = Blueprint(
    "stock_counts",
    __name__,
    url_prefix="/api/v1/stock-counts",
    description="Stock count sessions (盘点): scanned units against the stock projection.",
)

COUNTERS = (Role.ADMIN, Role.ORG_MANAGER, Role.WAREHOUSE_OPERATOR, Role.SCANNER)
CONFIRMERS = (Role.ADMIN, Role.ORG_MANAGER, Role.WAREHOUSE_OPERATOR)


class CountInSchema(ma.Schema):
    location_id = ma.fields.UUID(required=True)
    organisation_id = ma.fields.UUID(metadata={"description": "admin only; default: yours"})


class LineSchema(ma.Schema):
    kind = ma.fields.String(required=True, metadata={"example": "missing"})
    di = ma.fields.String(required=True)
    lot = ma.fields.String(allow_none=True, required=True)
    serial = ma.fields.String(allow_none=True, required=True)
    counted = ma.fields.Integer(required=True)
    on_hand = ma.fields.Integer(required=True)
    difference = ma.fields.Integer(required=True, metadata={"description": "counted - on_hand"})
    expiry = ma.fields.String(allow_none=True, required=True)
    note = ma.fields.String(allow_none=True, required=True)


class CountSchema(ma.Schema):
    id = ma.fields.String(required=True)
    organisation_id = ma.fields.String(required=True)
    warehouse_id = ma.fields.String(required=True)
    location_id = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"example": "open"})
    created_at = ma.fields.String(required=True)
    confirmed_at = ma.fields.String(allow_none=True, required=True)
    scans = ma.fields.Integer(required=True, metadata={"description": "count scans accepted"})
    missing = ma.fields.List(ma.fields.Nested(LineSchema), required=True)
    unexpected = ma.fields.List(ma.fields.Nested(LineSchema), required=True)
    mismatched = ma.fields.List(ma.fields.Nested(LineSchema), required=True)


class ConfirmedSchema(CountSchema):
    adjustments = ma.fields.List(ma.fields.Dict(), required=True)


@blp.route("")
class Counts(MethodView):
    @require_roles(*COUNTERS)
    @blp.arguments(CountInSchema)
    @blp.response(201, CountSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Open a count session at a location."""
        principal = current_principal()
        opened = service.create(
            db.session, principal, body["location_id"], body.get("organisation_id")
        )
        found = service.report(db.session, principal, uuid.UUID(str(opened["id"])))
        return created(found, url_for("stock_counts.CountResource", count_id=found["id"]))


@blp.route("/<uuid:count_id>")
class CountResource(MethodView):
    @blp.response(200, CountSchema)
    def get(self, count_id: uuid.UUID) -> dict[str, Any]:
        """The count's report: missing, unexpected and mismatched against the projection."""
        return service.report(db.session, current_principal(), count_id)


@blp.route("/<uuid:count_id>/confirm")
class CountConfirm(MethodView):
    @require_roles(*CONFIRMERS)
    @blp.response(200, ConfirmedSchema)
    def post(self, count_id: uuid.UUID) -> dict[str, Any]:
        """Record the adjustment events and close the session."""
        return service.confirm(db.session, current_principal(), count_id)
