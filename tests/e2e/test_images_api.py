"""``POST /api/v1/scans/decode`` and ``GET /api/v1/labels/<di>.png|svg`` over HTTP."""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.e2e.test_service_basics import assert_problem
from tests.scanning_images import gs1_datamatrix_photo

GS1_DATA = "01069012345678921727123110LOT123\x1d21SN0001"
LABEL_QUERY = "lot=LOT123&serial=SN0001&expiry=2027-12-31"


def _upload(client: FlaskClient, auth: dict[str, str], data: bytes, name: str = "label.jpg"):
    return client.post(
        "/api/v1/scans/decode",
        data={"image": (io.BytesIO(data), name)},
        headers=auth,
        content_type="multipart/form-data",
    )


def test_a_label_photo_is_decoded_and_parsed(client: FlaskClient, auth) -> None:
    response = _upload(client, auth, gs1_datamatrix_photo())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["count"] == 1
    (symbol,) = body["symbols"]
    assert (symbol["text"], symbol["symbology"], symbol["format"]) == (
        GS1_DATA,
        "]d2",
        "DataMatrix",
    )
    assert symbol["decoder"] == "zxing-cpp"
    assert len(symbol["position"]["polygon"]) == 4
    assert set(symbol["position"]["bounding_box"]) == {"left", "top", "width", "height"}
    parsed = symbol["parse"]
    assert parsed["ok"] is True
    assert (parsed["gtin"], parsed["lot"], parsed["serial"], parsed["expiry_date"]) == (
        "06901234567892",
        "LOT123",
        "SN0001",
        "2027-12-31",
    )


def test_a_rendered_label_decodes_back_over_http(client: FlaskClient, auth) -> None:
    label = client.get(
        f"/api/v1/labels/06901234567892.png?{LABEL_QUERY}&symbology=gs1-128", headers=auth
    )
    assert label.status_code == 200, label.get_data(as_text=True)
    assert label.mimetype == "image/png"
    assert label.headers["UDI-HRI"] == "(01)06901234567892(17)271231(10)LOT123(21)SN0001"
    body = _upload(client, auth, label.data, "label.png").get_json()
    assert [s["symbology"] + s["text"] for s in body["symbols"]] == ["]C1" + GS1_DATA]


def test_an_hibc_label_defaults_to_datamatrix_and_svg_works(client: FlaskClient, auth) -> None:
    png = client.get("/api/v1/labels/A99912345.png?lot=LOT123", headers=auth)
    assert png.status_code == 200
    assert png.headers["UDI-Scan"].startswith("]d1+A99912345/$LOT123")
    svg = client.get(f"/api/v1/labels/06901234567892.svg?{LABEL_QUERY}", headers=auth)
    assert svg.status_code == 200
    assert svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data


def test_an_invalid_di_is_a_422_problem_naming_the_field(client: FlaskClient, auth) -> None:
    response = client.get("/api/v1/labels/06901234567893.png", headers=auth)
    body = assert_problem(response, 422, "label.gtin_check_digit")
    assert body["detail"] == "Expected check digit 2 for GTIN 06901234567893, got 3."
    assert body["errors"][0]["field"] == "di"


def test_an_invalid_query_is_a_422_validation_problem(client: FlaskClient, auth) -> None:
    response = client.get(
        "/api/v1/labels/06901234567892.png?expiry=31/12/2027&symbology=pdf417", headers=auth
    )
    body = assert_problem(response, 422, "request.validation")
    assert {error["field"] for error in body["errors"]} == {"expiry", "symbology"}


def test_a_non_image_upload_is_a_415_problem(client: FlaskClient, auth) -> None:
    response = _upload(client, auth, b"%PDF-1.7 not an image", "label.pdf")
    body = assert_problem(response, 415, "scan.unsupported_image")
    assert body["detail"].startswith("Expected a PNG or JPEG image, got data starting with 25 50")


def test_a_json_body_is_a_415_problem(client: FlaskClient, auth) -> None:
    response = client.post("/api/v1/scans/decode", json={"image": "x"}, headers=auth)
    body = assert_problem(response, 415, "request.unsupported_media_type")
    assert "multipart/form-data" in body["detail"]


def test_a_missing_image_field_is_a_422_problem(client: FlaskClient, auth) -> None:
    response = client.post(
        "/api/v1/scans/decode",
        data={"other": (io.BytesIO(b"x"), "x.png")},
        headers=auth,
        content_type="multipart/form-data",
    )
    body = assert_problem(response, 422, "request.validation")
    assert "image" in {error["field"] for error in body["errors"]}


def test_an_image_over_the_byte_limit_is_a_413_problem(
    app: Flask, client: FlaskClient, auth
) -> None:
    app.config["SCAN_IMAGE_MAX_BYTES"] = 1000
    try:
        response = _upload(client, auth, gs1_datamatrix_photo())
    finally:
        del app.config["SCAN_IMAGE_MAX_BYTES"]
    assert_problem(response, 413, "scan.image_too_large")


def test_an_image_over_the_pixel_limit_is_a_422_problem(
    app: Flask, client: FlaskClient, auth
) -> None:
    buffer = io.BytesIO()
    Image.new("L", (2000, 1000), 255).save(buffer, "PNG")
    app.config["SCAN_IMAGE_MAX_PIXELS"] = 1_000_000
    try:
        response = _upload(client, auth, buffer.getvalue(), "big.png")
    finally:
        del app.config["SCAN_IMAGE_MAX_PIXELS"]
    body = assert_problem(response, 422, "scan.image_too_many_pixels")
    assert body["detail"] == (
        "Expected an image of at most 1000000 pixels, got 2000x1000 = 2000000."
    )


def test_an_image_without_a_barcode_is_a_422_problem(client: FlaskClient, auth) -> None:
    buffer = io.BytesIO()
    Image.new("L", (300, 200), 255).save(buffer, "PNG")
    assert_problem(_upload(client, auth, buffer.getvalue(), "blank.png"), 422, "scan.no_symbol")


def test_both_endpoints_need_a_token(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/labels/06901234567892.png"), 401, "auth.missing_token")
    assert_problem(_upload(client, {}, b"x"), 401, "auth.missing_token")


def test_problem_pages_explain_the_new_codes(client: FlaskClient) -> None:
    for code in ("scan.no_symbol", "scan.unsupported_image", "label.gtin_check_digit"):
        assert client.get(f"/problems/{code}").status_code == 200


def test_the_openapi_documents_media_types(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    decode = spec["paths"]["/api/v1/scans/decode"]["post"]
    assert "multipart/form-data" in decode["requestBody"]["content"]
    assert "application/problem+json" in decode["responses"]["415"]["content"]
    png = spec["paths"]["/api/v1/labels/{di}.png"]["get"]
    assert "image/png" in png["responses"]["200"]["content"]
    svg = spec["paths"]["/api/v1/labels/{di}.svg"]["get"]
    assert "image/svg+xml" in svg["responses"]["200"]["content"]
