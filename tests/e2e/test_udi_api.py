"""``/api/v1/udi/parse`` and ``/parse-batch`` over HTTP, and the request errors around them."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient

from tests.e2e.test_service_basics import assert_problem

VALID = "]d201069012345678921727123110LOT123\x1d21SN0001"
BAD_CHECK = "]d201069012345678931727123110LOT123\x1d21SN0001"


def test_a_valid_scan_is_parsed(client: FlaskClient, auth) -> None:
    response = client.post("/api/v1/udi/parse", json={"scan": VALID}, headers=auth)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["ok"] is True
    assert body["agency"] == "GS1"
    assert body["symbology"] == "]d2"
    assert body["gtin"] == "06901234567892"
    assert body["lot"] == "LOT123"
    assert body["serial"] == "SN0001"
    assert body["expiry_date"] == "2027-12-31"
    assert body["hri"] == "(01)06901234567892(17)271231(10)LOT123(21)SN0001"
    assert [e["key"] for e in body["elements"]] == ["01", "17", "10", "21"]


def test_a_bad_check_digit_is_a_422_problem_with_its_position(client: FlaskClient, auth) -> None:
    response = client.post("/api/v1/udi/parse", json={"scan": BAD_CHECK}, headers=auth)
    body = assert_problem(response, 422, "gs1.check_digit")
    (error,) = body["errors"]
    assert error["code"] == "gs1.check_digit"
    assert (error["position"], error["length"]) == (18, 1)  # the check digit itself
    assert BAD_CHECK[error["position"]] == "3"
    assert body["parse"]["ok"] is False


def test_a_batch_keeps_each_result_in_order(client: FlaskClient, auth) -> None:
    scans = [VALID, BAD_CHECK, "+A99912345/$$52001510X33"]
    response = client.post("/api/v1/udi/parse-batch", json={"scans": scans}, headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["ok"], body["failed"]) == (2, 1)
    assert [r["ok"] for r in body["results"]] == [True, False, True]
    assert [r["scan"] for r in body["results"]] == scans
    assert body["results"][2]["agency"] == "HIBC"


def test_a_batch_over_1000_scans_is_refused(client: FlaskClient, auth) -> None:
    response = client.post("/api/v1/udi/parse-batch", json={"scans": [VALID] * 1001}, headers=auth)
    body = assert_problem(response, 422, "request.validation")
    assert body["errors"][0]["field"] == "scans"


def test_a_missing_field_is_named(client: FlaskClient, auth) -> None:
    response = client.post("/api/v1/udi/parse", json={}, headers=auth)
    body = assert_problem(response, 422, "request.validation")
    assert body["errors"] == [
        {"code": "field.required", "message": "Missing data for required field.", "field": "scan"}
    ]


def test_an_unknown_field_is_refused(client: FlaskClient, auth) -> None:
    response = client.post("/api/v1/udi/parse", json={"scan": VALID, "sacn": "x"}, headers=auth)
    body = assert_problem(response, 422, "request.validation")
    assert {"code": "field.unknown", "message": "Unknown field.", "field": "sacn"} in body["errors"]


def test_malformed_json_is_a_400_problem(client: FlaskClient, auth) -> None:
    response = client.post(
        "/api/v1/udi/parse",
        data='{"scan": "unterminated',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "request.malformed")


def test_a_non_json_body_is_a_415_problem(client: FlaskClient, auth) -> None:
    response = client.post(
        "/api/v1/udi/parse", data="scan=abc", headers={**auth, "Content-Type": "text/plain"}
    )
    body = assert_problem(response, 415, "request.unsupported_media_type")
    assert "application/json" in body["detail"]


def test_a_body_over_the_size_limit_is_a_413_problem(app: Flask, client: FlaskClient, auth) -> None:
    previous = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        body = json.dumps({"scans": [VALID] * 100})
        response = client.post(
            "/api/v1/udi/parse-batch",
            data=body,
            headers={**auth, "Content-Type": "application/json"},
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = previous
    assert_problem(response, 413, "request.too_large")


def test_parsing_needs_a_token(client: FlaskClient) -> None:
    response = client.post("/api/v1/udi/parse", json={"scan": VALID})
    assert_problem(response, 401, "auth.missing_token")
