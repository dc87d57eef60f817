"""``/api/v1/udi``: parse and validate UDI scans without recording anything."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

import udi
from warehouse.web.problems import Problem

blp = Blueprint(
    "udi",
    __name__,
    url_prefix="/api/v1/udi",
    description="Parse UDI barcodes (GS1, Digital Link, HIBC, ISBT 128, MA, AHM).",
)

MAX_SCAN_LENGTH = 4096
MAX_BATCH = 1000


class ParseRequestSchema(ma.Schema):
    scan = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_SCAN_LENGTH),
        metadata={
            "description": "The scan as the scanner sent it; GS as \\u001d or a remapping.",
            "example": "]d201069012345678921727123110LOT123\u001d21SN0001",
        },
    )


class ParseBatchRequestSchema(ma.Schema):
    scans = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=MAX_SCAN_LENGTH)),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_BATCH),
    )


class IssueSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "gs1.check_digit"})
    message = ma.fields.String(required=True)
    position = ma.fields.Integer(required=True, metadata={"description": "0-based offset"})
    length = ma.fields.Integer(required=True)
    format = ma.fields.String(allow_none=True)


class ElementSchema(ma.Schema):
    key = ma.fields.String(required=True, metadata={"example": "17"})
    title = ma.fields.String(required=True)
    value = ma.fields.String(required=True)
    position = ma.fields.Integer(required=True)
    length = ma.fields.Integer(required=True)


class DateDetailSchema(ma.Schema):
    date = ma.fields.String(required=True, metadata={"example": "2028-12-31"})
    original = ma.fields.String(required=True)
    format = ma.fields.String(required=True, metadata={"example": "YYMMDD"})
    precision = ma.fields.String(required=True, metadata={"example": "day"})
    time = ma.fields.String(allow_none=True)


class ParseResultSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    scan = ma.fields.String(required=True)
    symbology = ma.fields.String(allow_none=True, metadata={"example": "]d2"})
    symbology_name = ma.fields.String(allow_none=True)
    detected = ma.fields.String(allow_none=True, metadata={"example": "gs1"})
    agency = ma.fields.String(allow_none=True, metadata={"example": "GS1"})
    di = ma.fields.String(allow_none=True)
    gtin = ma.fields.String(allow_none=True)
    sscc = ma.fields.String(allow_none=True)
    lot = ma.fields.String(allow_none=True)
    serial = ma.fields.String(allow_none=True)
    production_date = ma.fields.String(allow_none=True)
    expiry_date = ma.fields.String(allow_none=True)
    production_date_detail = ma.fields.Nested(DateDetailSchema, allow_none=True)
    expiry_date_detail = ma.fields.Nested(DateDetailSchema, allow_none=True)
    quantity = ma.fields.Integer(allow_none=True)
    other = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    hri = ma.fields.String(allow_none=True)
    digital_link = ma.fields.String(allow_none=True)
    elements = ma.fields.List(ma.fields.Nested(ElementSchema), required=True)
    errors = ma.fields.List(ma.fields.Nested(IssueSchema), required=True)
    warnings = ma.fields.List(ma.fields.Nested(IssueSchema), required=True)


class ParseBatchResultSchema(ma.Schema):
    ok = ma.fields.Integer(required=True, metadata={"description": "Scans parsed without error"})
    failed = ma.fields.Integer(required=True)
    results = ma.fields.List(ma.fields.Nested(ParseResultSchema), required=True)


@blp.route("/parse")
class ParseScan(MethodView):
    @blp.arguments(ParseRequestSchema)
    @blp.response(200, ParseResultSchema)
    @blp.alt_response(422, description="The scan is not a valid UDI; errors say where and why")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Parse one scan; a bad scan answers 422 with every error and its position."""
        result = udi.parse(body["scan"])
        if not result.ok:
            raise _scan_problem(result)
        return result.to_json()


@blp.route("/parse-batch")
class ParseScanBatch(MethodView):
    @blp.arguments(ParseBatchRequestSchema)
    @blp.response(200, ParseBatchResultSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Parse up to 1,000 scans; each result stands on its own, in request order."""
        results = [udi.parse(scan).to_json() for scan in body["scans"]]
        ok = sum(1 for result in results if result["ok"])
        return {"ok": ok, "failed": len(results) - ok, "results": results}


def _scan_problem(result: udi.ParseResult) -> Problem:
    first = result.errors[0] if result.errors else None
    detail = first.message if first else "Expected a UDI, got a scan that could not be read."
    return Problem(
        422,
        first.code if first else "scan.unreadable",
        detail,
        title="Invalid UDI scan",
        errors=[issue.to_json() for issue in result.errors],
        extra={"parse": result.to_json()},
    )
