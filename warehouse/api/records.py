"""``/api/v1/records/{kind}``: statutory records as JSON pages, CSV or XLSX.

``kind`` is ``purchase-inspection`` (进货查验记录), ``acceptance`` (验收记录),
``outbound-review`` (出库复核记录) or ``sales`` (销售记录); ``.csv`` and ``.xlsx`` export every
line of the range with Chinese column headers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import marshmallow as ma
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.api.common import PageArgsSchema, list_schema, page_json, page_request, query_args
from warehouse.db import db
from warehouse.domain.records import RecordKind, RecordLine
from warehouse.services import records as service
from warehouse.web.auth import current_principal, require_roles
from warehouse.web.problems import PROBLEM_TYPES

PROBLEM_TYPES["records.too_many"] = "The export has too many lines; narrow the dates."

blp = Blueprint(
    "records",
    __name__,
    url_prefix="/api/v1/records",
    description="Statutory records (进货查验, 验收, 出库复核, 销售) with retention dates.",
)

KINDS = "any(" + ", ".join(f"'{kind.value}'" for kind in RecordKind) + "):kind"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RecordArgsSchema(ma.Schema):
    date_from = ma.fields.Date(data_key="from", metadata={"description": "first day (China)"})
    date_to = ma.fields.Date(data_key="to", metadata={"description": "last day, inclusive"})
    warehouse = ma.fields.UUID(metadata={"description": "only events in this warehouse"})


class RecordPageArgsSchema(PageArgsSchema, RecordArgsSchema):
    pass


class RecordLineSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "记录编号: the item id"})
    kind = ma.fields.String(required=True, metadata={"example": "purchase-inspection"})
    event_id = ma.fields.String(required=True, metadata={"description": "server id of the event"})
    record_date = ma.fields.Date(required=True)
    biz_step = ma.fields.String(required=True)
    result_zh = ma.fields.String(required=True, metadata={"example": "合格"})
    di = ma.fields.String(allow_none=True, required=True)
    name = ma.fields.String(allow_none=True, required=True)
    model_spec = ma.fields.String(allow_none=True, required=True)
    registration_number = ma.fields.String(allow_none=True, required=True)
    registrant = ma.fields.String(allow_none=True, required=True)
    registrant_licence = ma.fields.String(allow_none=True, required=True)
    lot = ma.fields.String(allow_none=True, required=True)
    serial = ma.fields.String(allow_none=True, required=True)
    sscc = ma.fields.String(allow_none=True, required=True)
    production_date = ma.fields.Date(allow_none=True, required=True)
    expiry = ma.fields.Date(allow_none=True, required=True)
    quantity = ma.fields.Integer(required=True)
    party = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "supplier, consignee or buyer"}
    )
    party_licence = ma.fields.String(allow_none=True, required=True)
    warehouse = ma.fields.String(allow_none=True, required=True)
    staff_id = ma.fields.String(allow_none=True, required=True)
    documents = ma.fields.String(required=True)
    implantable = ma.fields.Boolean(required=True)
    retention_until = ma.fields.String(
        required=True, metadata={"description": "YYYY-MM-DD or permanent"}
    )


def line_json(line: RecordLine) -> dict[str, Any]:
    """A record line as the API shows it."""
    return {
        "id": str(line.id),
        "kind": line.kind.value,
        "event_id": str(line.event_id),
        "record_date": line.record_date,
        "biz_step": line.step.value,
        "result_zh": line.result_zh,
        "di": line.di,
        "name": line.name,
        "model_spec": line.model_spec,
        "registration_number": line.registration_number,
        "registrant": line.registrant,
        "registrant_licence": line.registrant_licence,
        "lot": line.lot,
        "serial": line.serial,
        "sscc": line.sscc,
        "production_date": line.production_date,
        "expiry": line.expiry,
        "quantity": line.quantity,
        "party": line.party,
        "party_licence": line.party_licence,
        "warehouse": line.warehouse,
        "staff_id": line.staff_id,
        "documents": line.documents,
        "implantable": line.implantable,
        "retention_until": line.retention_text,
    }


def _filter(args: dict[str, Any]) -> service.RecordFilter:
    return service.RecordFilter(args.get("date_from"), args.get("date_to"), args.get("warehouse"))


@blp.route(f"/<{KINDS}>")
class Records(MethodView):
    @require_roles(*service.READER_ROLES)
    @query_args(blp, RecordPageArgsSchema)
    @blp.response(200, list_schema(RecordLineSchema, "RecordPage"))
    def get(self, args: dict[str, Any], kind: str) -> dict[str, Any]:
        """One page of a statutory record, oldest line first."""
        page = service.list_records(
            db.session, current_principal(), RecordKind(kind), _filter(args), page_request(args)
        )
        return page_json(page, line_json)


def _export(kind: RecordKind, args: dict[str, Any], extension: str) -> Response:
    lines = service.all_records(db.session, current_principal(), kind, _filter(args))
    if extension == "csv":
        body, mimetype = service.export_csv(kind, lines), "text/csv; charset=utf-8"
    else:
        body, mimetype = service.export_xlsx(kind, lines), XLSX
    dates = "_".join(str(args[k]) for k in ("date_from", "date_to") if k in args)
    stem = f"{kind.value}{'_' + dates if dates else ''}"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{stem}.{extension}"; '
        f"filename*=UTF-8''{quote(kind.label_zh)}{quote('_' + dates if dates else '')}.{extension}"
    )
    return response


@blp.route(f"/<{KINDS}>.csv")
class RecordsCsv(MethodView):
    @require_roles(*service.READER_ROLES)
    @query_args(blp, RecordArgsSchema)
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    def get(self, args: dict[str, Any], kind: str) -> Response:
        """The whole record for the dates as CSV (UTF-8 with BOM, Chinese headers)."""
        return _export(RecordKind(kind), args, "csv")


@blp.route(f"/<{KINDS}>.xlsx")
class RecordsXlsx(MethodView):
    @require_roles(*service.READER_ROLES)
    @query_args(blp, RecordArgsSchema)
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=XLSX)
    def get(self, args: dict[str, Any], kind: str) -> Response:
        """The whole record for the dates as an XLSX workbook (Chinese headers)."""
        return _export(RecordKind(kind), args, "xlsx")
