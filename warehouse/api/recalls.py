"""``/api/v1/recalls``: order a recall (blast radius + hold), follow it, export it per holder;
``/api/v1/regulator/queries``: the log of every regulator request, for admins (all of it) and
auditors (their own organisation's regulator tokens).

The log is written by an after-request hook registered app-wide from this blueprint, so no
shared middleware changes: every request carrying a regulator token is recorded with its
path, arguments, status and result count.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import marshmallow as ma
from flask import Response, g, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.api.common import (
    NO_NUL,
    PageArgsSchema,
    created,
    list_schema,
    page_json,
    page_request,
    query_args,
)
from warehouse.db import db
from warehouse.domain.movements import UnitStatus
from warehouse.domain.recalls import MAX_LOTS, MAX_SERIALS, RecallClass
from warehouse.services import recalls as service
from warehouse.services import regulator_log
from warehouse.web.auth import current_principal, require_roles
from warehouse.web.problems import PROBLEM_TYPES

log = logging.getLogger(__name__)

PROBLEM_TYPES.update(
    {
        "recall.scope": "A recall names one DI and at least one lot or serial (at most 100 lots"
        " and 10,000 serials), and a reason.",
        "recall.unknown_device": "The recalled DI is not in the device catalogue.",
    }
)

blp = Blueprint(
    "recalls",
    __name__,
    url_prefix="/api/v1",
    description="Recalls: blast radius, recall hold, progress per holder, exports; the "
    "regulator query log.",
)


# PostgreSQL text cannot hold NUL: refuse it in every text that reaches a query or a row.


def _text(**kwargs: Any) -> ma.fields.String:
    """A string field that refuses NUL (plus any further validators)."""
    more = kwargs.pop("validate", [])
    return ma.fields.String(validate=[NO_NUL, *more], **kwargs)


class RecallInSchema(ma.Schema):
    di = _text(required=True, metadata={"example": "06931234100041"})
    lots = ma.fields.List(_text(), load_default=list, validate=ma.validate.Length(max=MAX_LOTS))
    serials = ma.fields.List(
        _text(), load_default=list, validate=ma.validate.Length(max=MAX_SERIALS)
    )
    reason = _text(required=True, validate=[ma.validate.Length(min=1, max=2000)])
    recall_class = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([c.value for c in RecallClass]),
        metadata={"description": "I (一级), II (二级) or III (三级)"},
    )


class RecallSummarySchema(ma.Schema):
    id = ma.fields.String(required=True)
    di = ma.fields.String(required=True)
    lots = ma.fields.List(ma.fields.String(), required=True)
    serials = ma.fields.List(ma.fields.String(), required=True)
    reason = ma.fields.String(required=True)
    recall_class = ma.fields.String(required=True)
    registrant_id = ma.fields.String(required=True)
    ordered_by_org_id = ma.fields.String(required=True)
    held_quantity = ma.fields.Integer(required=True)
    created_at = ma.fields.String(required=True)


class RecallSchema(RecallSummarySchema):
    recall_class_label_zh = ma.fields.String(required=True, metadata={"example": "一级召回"})
    notify_within_days = ma.fields.Integer(required=True)
    blast_radius = ma.fields.Dict(
        required=True,
        metadata={
            "description": "as of the order: in_stock, in_transit, in_container, dispensed, "
            "destroyed, returned (lists) and totals"
        },
    )
    progress = ma.fields.Dict(
        required=True,
        metadata={
            "description": "totals and holders[]: held, returned, destroyed, accounted_for, "
            "outstanding, done, places"
        },
    )


class RecallArgsSchema(PageArgsSchema):
    di = _text()


class QueryLogArgsSchema(PageArgsSchema):
    token_id = ma.fields.UUID()
    organisation_id = ma.fields.UUID()
    jurisdiction = ma.fields.String(validate=ma.validate.Regexp(r"\A\d{1,6}\Z"))
    path_prefix = _text()
    requested_from = ma.fields.AwareDateTime()
    requested_to = ma.fields.AwareDateTime()


class QueryLogSchema(ma.Schema):
    id = ma.fields.String(required=True)
    token_id = ma.fields.String(required=True)
    organisation_id = ma.fields.String(required=True)
    jurisdiction = ma.fields.String(allow_none=True, required=True)
    method = ma.fields.String(required=True)
    path = ma.fields.String(required=True)
    query_args = ma.fields.Dict(required=True)
    status = ma.fields.Integer(required=True)
    result_count = ma.fields.Integer(allow_none=True, required=True)
    requested_at = ma.fields.String(required=True)


@blp.route("/recalls")
class Recalls(MethodView):
    @query_args(blp, RecallArgsSchema)
    @blp.response(200, list_schema(RecallSummarySchema, "RecallPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Recalls the caller may see: its own, ones it holds goods of, or (regulators) ones
        of its jurisdiction."""
        page = service.list_recalls(
            db.session, current_principal(), page_request(args), di=args.get("di")
        )
        return page_json(page, service.summary)

    @require_roles(*service.ORDER_ROLES)
    @blp.arguments(RecallInSchema)
    @blp.response(201, RecallSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Order a recall: computes the blast radius and puts every matched unit or lot
        balance in stock on recall hold, in one transaction."""
        new = service.NewRecall(
            di=body["di"],
            reason=body["reason"],
            recall_class=RecallClass(body["recall_class"]),
            lots=tuple(body["lots"]),
            serials=tuple(body["serials"]),
        )
        recall = service.create(db.session, current_principal(), new)
        return created(recall, url_for("recalls.RecallResource", recall_id=recall["id"]))


@blp.route("/recalls/<uuid:recall_id>")
class RecallResource(MethodView):
    @blp.response(200, RecallSchema)
    def get(self, recall_id: uuid.UUID) -> dict[str, Any]:
        """A recall: its blast radius as ordered, and progress per holder now."""
        return service.get(db.session, current_principal(), recall_id)


@blp.route("/recalls/<uuid:recall_id>/sweep")
class RecallSweep(MethodView):
    @require_roles(*service.ORDER_ROLES)
    @blp.response(200, RecallSchema)
    def post(self, recall_id: uuid.UUID) -> dict[str, Any]:
        """Hold what has come into stock since (e.g. received from transit)."""
        return service.sweep(db.session, current_principal(), recall_id)


def _export(recall_id: uuid.UUID, kind: str) -> Response:
    recall = service.get(db.session, current_principal(), recall_id)
    name = f"recall-{recall['id']}.{kind}"
    if kind == "csv":
        body, mimetype = service.export_csv(recall), "text/csv; charset=utf-8"
    else:
        body = service.export_xlsx(recall)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@blp.route("/recalls/<uuid:recall_id>/export.csv")
class RecallCsv(MethodView):
    @blp.response(200, description="CSV, one row per holder (UTF-8 with BOM)")
    def get(self, recall_id: uuid.UUID) -> Response:
        """The recall per holder as CSV: on hold (with progress), in transit, used, destroyed."""
        return _export(recall_id, "csv")


@blp.route("/recalls/<uuid:recall_id>/export.xlsx")
class RecallXlsx(MethodView):
    @blp.response(200, description="XLSX workbook: holders and recall sheets")
    def get(self, recall_id: uuid.UUID) -> Response:
        """The recall per holder as an XLSX workbook."""
        return _export(recall_id, "xlsx")


@blp.route("/regulator/queries")
class RegulatorQueries(MethodView):
    @require_roles(*regulator_log.READER_ROLES)
    @query_args(blp, QueryLogArgsSchema)
    @blp.response(200, list_schema(QueryLogSchema, "RegulatorQueryPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Requests made with regulator tokens: admins read all, an auditor those of its own
        organisation's regulator tokens."""
        where = regulator_log.LogFilter(
            **{k: v for k, v in args.items() if k not in ("limit", "cursor")}
        )
        page = regulator_log.list_queries(
            db.session, current_principal(), page_request(args), where
        )
        return page_json(page, _log_json)


class UnitArgsSchema(PageArgsSchema):
    di = _text()
    serial = _text()
    lot = _text()
    owner_id = ma.fields.UUID()
    possessor_id = ma.fields.UUID()
    warehouse_id = ma.fields.UUID()
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in UnitStatus]))


class UnitSchema(ma.Schema):
    id = ma.fields.String(required=True)
    di = ma.fields.String(required=True)
    serial = ma.fields.String(required=True)
    lot = ma.fields.String(allow_none=True, required=True)
    expiry = ma.fields.Date(allow_none=True, required=True)
    production_date = ma.fields.Date(allow_none=True, required=True)
    owner_id = ma.fields.String(required=True)
    possessor_id = ma.fields.String(required=True)
    warehouse_id = ma.fields.String(allow_none=True, required=True)
    location_id = ma.fields.String(allow_none=True, required=True)
    status = ma.fields.String(required=True)
    container_sscc = ma.fields.String(allow_none=True, required=True)
    shipment_id = ma.fields.String(allow_none=True, required=True)
    last_event_id = ma.fields.String(required=True)
    updated_at = ma.fields.String(required=True)


@blp.route("/regulator/units")
class RegulatorUnits(MethodView):
    @require_roles(*regulator_log.UNIT_READER_ROLES)
    @query_args(blp, UnitArgsSchema)
    @blp.response(200, list_schema(UnitSchema, "RegulatedUnitPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Serialised units in warehouses of the regulator's jurisdiction, by DI, serial, lot,
        organisation, warehouse or status (the serial-level view /stock does not give)."""
        where = regulator_log.UnitFilter(
            **{k: v for k, v in args.items() if k not in ("limit", "cursor")}
        )
        page = regulator_log.list_units(db.session, current_principal(), page_request(args), where)
        return page_json(page, _unit_json)


def _unit_json(row: dict[str, Any]) -> dict[str, Any]:
    body = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in row.items()}
    body.pop("version", None)
    return {
        **body,
        "lot": row["lot"] or None,
        "updated_at": service.as_utc(row["updated_at"]).isoformat(),
    }


def _log_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in row.items()},
        "requested_at": service.as_utc(row["requested_at"]).isoformat(),
    }


# --- The regulator query log hook -----------------------------------------------------------------


@blp.after_app_request
def _log_regulator_query(response: Response) -> Response:
    """Record every request of a regulator token; if that fails the answer is withheld."""
    principal = g.get("principal")
    if not regulator_log.is_logged(principal):
        return response
    view_session = g.get("udi_session")
    if view_session is not None:
        view_session.rollback()  # the view's transaction is over; SQLite needs its lock freed
    query = regulator_log.Query(
        method=request.method,
        path=request.path,
        args=request.args.to_dict(flat=False),
        status=response.status_code,
        result_count=_result_count(response),
    )
    try:
        regulator_log.record(db.session, principal, query)
    except Exception:
        log.exception("regulator query log failed", extra={"path": request.path})
        # Regulator reads must leave a trace: no log, no answer.
        failed = Response(
            '{"type": "/problems/server.error", "title": "Internal Server Error", '
            '"status": 500, "code": "server.error", '
            '"detail": "Expected to record the regulator query, got a database error."}',
            status=500,
            mimetype="application/problem+json",
        )
        return failed
    return response


def _result_count(response: Response) -> int | None:
    """Items in a list answer, 1 for one object, 0 for an error; None for a file."""
    if response.status_code >= 400:
        return 0
    if response.is_streamed or not response.is_json:
        return None
    body = response.get_json(silent=True)
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return len(body["items"])
    return 1 if body is not None else None
