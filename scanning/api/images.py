"""``/api/v1/scans/decode`` reads UDI barcodes from a photo; ``/api/v1/labels/<di>.png|svg``
draws a label.

Both only compute: nothing is recorded. Any valid token may call them. Limits come from the
app config (``SCAN_IMAGE_MAX_BYTES``, ``SCAN_IMAGE_MAX_PIXELS``; ``UDI_``-prefixed in the
environment), defaulting to those of :mod:`scanning.decoding`.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from werkzeug.datastructures import FileStorage

import udi
from scanning import decoding, labels
from scanning.api.udi import ParseResultSchema
from warehouse.web.api import ProblemSchema
from warehouse.web.media import accepts
from warehouse.web.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES, Problem, ProblemDetail

blp = Blueprint(
    "images",
    __name__,
    url_prefix="/api/v1",
    description="Read UDI barcodes from label photos; render UDI labels as PNG or SVG.",
)

PROBLEM_TYPES.update(
    {
        "scan.unsupported_image": "Upload the label photo as a PNG or JPEG file.",
        "scan.image_too_large": "The image file is over the byte limit; send a smaller one.",
        "scan.image_too_many_pixels": "The image has too many pixels; downscale it and retry.",
        "scan.no_symbol": "No barcode was found: retake the photo closer, sharper and flatter.",
        **labels.ERROR_CODES,
    }
)

# Status per decoding error: a body we cannot read at all is a media-type problem (415); one
# that is readable but too big to process is 413 (bytes) or 422 (pixels).
_DECODING_STATUS: dict[type[decoding.DecodingError], int] = {
    decoding.UnsupportedImage: 415,
    decoding.ImageTooLarge: 413,
    decoding.TooManyPixels: 422,
}


def _problem_response(status: int, description: str) -> dict[str, Any]:
    return {
        "status_code": status,
        "schema": ProblemSchema,
        "content_type": PROBLEM_MEDIA_TYPE,
        "description": description,
    }


# --- decode -------------------------------------------------------------------------------


class DecodeFilesSchema(ma.Schema):
    image = Upload(
        required=True,
        metadata={"description": "The label photo, PNG or JPEG (read by content, not name)."},
    )


class PointSchema(ma.Schema):
    left = ma.fields.Integer(required=True)
    top = ma.fields.Integer(required=True)
    width = ma.fields.Integer(required=True)
    height = ma.fields.Integer(required=True)


class PositionSchema(ma.Schema):
    polygon = ma.fields.List(
        ma.fields.List(ma.fields.Integer()),
        required=True,
        metadata={"description": "Corners [x, y] in pixels of the uploaded image"},
    )
    bounding_box = ma.fields.Nested(PointSchema, required=True)


class DecodedSymbolSchema(ma.Schema):
    text = ma.fields.String(
        required=True,
        metadata={
            "description": "Data as a scanner transmits it: GS (\\u001d) between GS1 fields.",
            "example": "01069012345678921727123110LOT123\u001d21SN0001",
        },
    )
    symbology = ma.fields.String(allow_none=True, metadata={"example": "]d2"})
    format = ma.fields.String(required=True, metadata={"example": "DataMatrix"})
    position = ma.fields.Nested(PositionSchema, required=True)
    decoder = ma.fields.String(required=True, metadata={"example": "zxing-cpp"})
    attempt = ma.fields.String(
        required=True,
        metadata={"description": "Image variant it was read in: original, upscale-2x, rotate+15…"},
    )
    parse = ma.fields.Nested(ParseResultSchema, required=True)


class DecodeResultSchema(ma.Schema):
    symbols = ma.fields.List(ma.fields.Nested(DecodedSymbolSchema), required=True)
    count = ma.fields.Integer(required=True)


@blp.route("/scans/decode")
class DecodeImage(MethodView):
    @accepts("multipart/form-data")
    @blp.arguments(DecodeFilesSchema, location="files")
    @blp.response(200, DecodeResultSchema)
    @blp.alt_response(**_problem_response(413, "The image is over the byte limit"))
    @blp.alt_response(**_problem_response(415, "Not a multipart upload, or not a PNG/JPEG"))
    @blp.alt_response(
        **_problem_response(422, "Too many pixels (scan.image_too_many_pixels) or no barcode")
    )
    def post(self, files: dict[str, FileStorage]) -> dict[str, Any]:
        """Read every UDI barcode in a photo and parse each one.

        Send ``multipart/form-data`` with the file in field ``image``. Each symbol comes with
        its symbology identifier and its ``udi.parse`` result (which may itself be ``ok:
        false``: the barcode was read but is not a valid UDI).
        """
        symbols = _decode(files["image"])
        if not symbols:
            raise Problem(
                422,
                "scan.no_symbol",
                "Expected at least one barcode in the image, got none.",
                title="No barcode found",
            )
        return {"symbols": [_symbol_json(symbol) for symbol in symbols], "count": len(symbols)}


def _decode(upload: FileStorage) -> list[decoding.DecodedSymbol]:
    config = current_app.config
    max_bytes = int(config.get("SCAN_IMAGE_MAX_BYTES", decoding.DEFAULT_MAX_BYTES))
    max_pixels = int(config.get("SCAN_IMAGE_MAX_PIXELS", decoding.DEFAULT_MAX_PIXELS))
    # One byte over the limit is enough to refuse; never buffer more than that.
    data = upload.stream.read(max_bytes + 1)
    try:
        return decoding.decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    except decoding.DecodingError as error:
        raise Problem(_DECODING_STATUS.get(type(error), 422), error.code, str(error)) from None


def _symbol_json(symbol: decoding.DecodedSymbol) -> dict[str, Any]:
    return {**symbol.to_json(), "parse": udi.parse(symbol.scan).to_json()}


# --- labels -------------------------------------------------------------------------------


class LabelQuerySchema(ma.Schema):
    lot = ma.fields.String(metadata={"example": "LOT123"})
    serial = ma.fields.String(metadata={"example": "SN0001"})
    expiry = ma.fields.Date(metadata={"description": "YYYY-MM-DD", "example": "2027-12-31"})
    production_date = ma.fields.Date(metadata={"description": "YYYY-MM-DD"})
    symbology = ma.fields.String(
        validate=ma.validate.OneOf([item.value for item in labels.Symbology]),
        metadata={
            "description": "Default: datamatrix for a GTIN (all digits), hibc-datamatrix for an"
            " HIBC DI (LIC + product + unit of measure)."
        },
    )
    scale = ma.fields.Integer(
        load_default=labels.DEFAULT_SCALE,
        validate=ma.validate.Range(1, labels.MAX_SCALE),
        metadata={"description": "Pixels per module (PNG), SVG user units per module"},
    )


_DI_DOC = {"description": "GTIN (8, 12, 13 or 14 digits) or HIBC DI such as A99912345"}
_LABEL_INVALID = _problem_response(422, "Invalid DI or field (code label.*, errors[].field)")


@blp.route("/labels/<di>.png", parameters=[{"in": "path", "name": "di", **_DI_DOC}])
class LabelPng(MethodView):
    @blp.arguments(LabelQuerySchema, location="query")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="image/png")
    @blp.alt_response(**_LABEL_INVALID)
    def get(self, query: dict[str, Any], di: str) -> Response:
        """Draw a UDI label as PNG; the symbol reads back to exactly the requested data."""
        return _label_response(di, query, labels.ImageFormat.PNG)


@blp.route("/labels/<di>.svg", parameters=[{"in": "path", "name": "di", **_DI_DOC}])
class LabelSvg(MethodView):
    @blp.arguments(LabelQuerySchema, location="query")
    @blp.response(200, {"type": "string"}, content_type="image/svg+xml")
    @blp.alt_response(**_LABEL_INVALID)
    def get(self, query: dict[str, Any], di: str) -> Response:
        """Draw a UDI label as SVG."""
        return _label_response(di, query, labels.ImageFormat.SVG)


def _label_response(di: str, query: dict[str, Any], image_format: labels.ImageFormat) -> Response:
    data = labels.LabelData(
        di=di,
        lot=query.get("lot"),
        serial=query.get("serial"),
        expiry=query.get("expiry"),
        production_date=query.get("production_date"),
    )
    symbology = labels.Symbology(query["symbology"]) if "symbology" in query else None
    try:
        label = labels.render_label(data, symbology, image_format, scale=query["scale"])
    except labels.LabelError as error:
        raise Problem(
            422,
            error.code,
            error.message,
            title="Invalid label data",
            errors=[ProblemDetail(error.code, error.message, field=error.field)],
        ) from None
    response = Response(label.content, mimetype=label.media_type)
    # What a scanner will send, for a client that wants to check its own printout; GS is
    # escaped because it is not allowed in a header value.
    response.headers["UDI-Scan"] = label.scan.replace("\x1d", "\\x1d")
    response.headers["UDI-HRI"] = label.hri
    response.headers["Content-Disposition"] = (
        f'inline; filename="{di}.{image_format.value}"' if di.isalnum() else "inline"
    )
    return response
