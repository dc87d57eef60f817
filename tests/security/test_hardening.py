"""Input hardening: body size, JSON depth, strict schemas (unknown fields rejected), Unicode."""

from __future__ import annotations

import re
import uuid
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from flask.testing import FlaskClient

import scanning.api
import warehouse.api
from tests.conftest import TokenFactory
from tests.e2e.test_service_basics import assert_problem
from warehouse.domain.roles import Role
from warehouse.web.hardening import DEFAULT_MAX_JSON_DEPTH, json_depth_exceeds

Headers = dict[str, str]
_PARAMETER = re.compile(r"\{[^}]+\}")
UNKNOWN = "h7_not_a_field"

# Reported, not fixed here (scanning/api/images.py belongs to the scanning work): the label
# endpoints parse their query without unknown=RAISE, so a misspelt option is ignored.
KNOWN_LENIENT_QUERIES = {"/api/v1/labels/{di}.png", "/api/v1/labels/{di}.svg"}


@pytest.fixture
def every_role(make_token: TokenFactory) -> Headers:
    """A token holding every role, so that no operation refuses it before its schema runs."""
    return make_token(*Role, jurisdiction="35")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("body", "limit", "deeper"),
    [
        (b"[]", 1, False),
        (b"[[]]", 1, True),
        (b'{"a": {"b": {"c": []}}}', 4, False),
        (b'{"a": {"b": {"c": []}}}', 3, True),
        (b'["[[[[[[", "\\"[[[[", {"x": "}}}}"}]', 2, False),  # brackets in strings are data
        (b"[[[[[[", 3, True),  # unbalanced: not JSON, refused
        (b"[1, [2], [3], [4], [5], [6]]", 2, False),  # many siblings, shallow
    ],
)
def test_json_depth_is_measured_on_raw_bytes(body: bytes, limit: int, deeper: bool) -> None:
    assert json_depth_exceeds(body, limit) is deeper


@pytest.mark.parametrize("depth", [DEFAULT_MAX_JSON_DEPTH + 1, 1_000, 200_000])
@pytest.mark.parametrize("path", ["/api/v1/udi/parse", "/api/v1/events", "/api/v1/warehouses"])
def test_deeply_nested_json_is_a_400_problem_not_a_500(
    client: FlaskClient, auth: Headers, path: str, depth: int
) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    response = client.post(path, data=nested(depth), headers=headers)
    problem = assert_problem(response, 400, "request.json_too_deep")
    assert str(DEFAULT_MAX_JSON_DEPTH) in problem["detail"]


def test_json_at_the_depth_limit_is_parsed_normally(client: FlaskClient, auth: Headers) -> None:
    body = {"scan": "]d20106901234567892", "config": nested(10)}
    response = client.post("/api/v1/udi/parse", json=body, headers=auth)
    assert response.status_code == 422  # the schema's answer, not the depth guard's
    assert response.get_json()["code"] == "request.validation"


def test_the_depth_limit_is_configurable(app: Flask, client: FlaskClient, auth: Headers) -> None:
    before = app.config["MAX_JSON_DEPTH"]
    app.config["MAX_JSON_DEPTH"] = 2
    try:
        response = client.post("/api/v1/udi/parse", json={"scan": [[1]]}, headers=auth)
    finally:
        app.config["MAX_JSON_DEPTH"] = before
    assert_problem(response, 400, "request.json_too_deep")


def test_a_body_over_max_content_length_is_a_413_problem(
    app: Flask, client: FlaskClient, auth: Headers
) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    body = b'{"scan": "' + b"0" * (app.config["MAX_CONTENT_LENGTH"] + 1) + b'"}'
    headers = {**auth, "Content-Type": "application/json"}
    response = client.post("/api/v1/udi/parse", data=body, headers=headers)
    assert_problem(response, 413, "request.too_large")


def test_an_anonymous_caller_is_refused_before_its_body_is_read(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/events", data=nested(100_000), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 401, "auth.missing_token")


# --- Strict schemas -------------------------------------------------------------------------


def _our_schemas() -> list[type[ma.Schema]]:
    """Every marshmallow schema class defined in the packages (imported with their APIs)."""
    assert warehouse.api  # imported so that every API schema is defined
    assert scanning.api
    found: dict[str, type[ma.Schema]] = {}
    stack: list[type[ma.Schema]] = [ma.Schema]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith(("warehouse.", "scanning.")):
                found[f"{sub.__module__}.{sub.__qualname__}"] = sub
    return list(found.values())


def test_every_schema_rejects_unknown_fields() -> None:
    schemas = _our_schemas()
    assert len(schemas) >= 40
    lenient = [s.__qualname__ for s in schemas if s().unknown != ma.RAISE]
    assert not lenient, f"schemas that do not raise on unknown fields: {lenient}"


def _operations(client: FlaskClient) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation, its path-level parameters merged into its own."""
    spec = client.get("/api/v1/openapi.json").get_json()
    return [
        (method, path, {**operation, "parameters": shared + operation.get("parameters", [])})
        for path, item in spec["paths"].items()
        for shared in [item.get("parameters", [])]
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _url(path: str, operation: dict[str, Any]) -> str:
    """``path`` with ids filled in: a GTIN for ``{di}``, an allowed value for enumerations."""
    fixed = {
        p["name"]: p["schema"]["enum"][0]
        for p in operation.get("parameters", [])
        if p.get("in") == "path" and p.get("schema", {}).get("enum")
    }
    fixed["di"] = "06901234567892"
    return _PARAMETER.sub(lambda m: fixed.get(m[0][1:-1], str(uuid.uuid4())), path)


def test_every_json_body_rejects_an_unknown_field(client: FlaskClient, every_role: Headers) -> None:
    checked = []
    for method, path, operation in _operations(client):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        response = client.open(
            _url(path, operation), method=method.upper(), json={UNKNOWN: 1}, headers=every_role
        )
        code = (response.get_json(silent=True) or {}).get("code")
        if response.status_code == 403 and code != "auth.role_required":
            # Refused before its body is read by a check of the caller itself (e.g. POST
            # /scans needs a registered scanner device); its schema is covered by the walk.
            continue
        assert response.status_code == 422, (method, path, response.status_code, code)
        fields = {(e["code"], e.get("field")) for e in response.get_json().get("errors", [])}
        assert ("field.unknown", UNKNOWN) in fields or any(
            code == "field.unknown" and (field or "").endswith(UNKNOWN) for code, field in fields
        ), (method, path, fields)
        checked.append(path)
    assert len(checked) >= 15


def test_every_declared_query_rejects_an_unknown_parameter(
    client: FlaskClient, every_role: Headers
) -> None:
    checked = []
    for method, path, operation in _operations(client):
        declared = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
        if method != "get" or not declared or path in KNOWN_LENIENT_QUERIES:
            continue
        response = client.get(f"{_url(path, operation)}?{UNKNOWN}=1", headers=every_role)
        assert response.status_code == 422, (path, response.status_code)
        errors = response.get_json()["errors"]
        assert {"code": "field.unknown", "message": "Unknown field.", "field": UNKNOWN} in errors
        checked.append(path)
    assert len(checked) >= 15


# --- Unicode ----------------------------------------------------------------------------------


def test_full_width_scan_text_is_not_silently_rewritten_by_parse(
    client: FlaskClient, auth: Headers
) -> None:
    # /udi/parse reads the scan exactly as sent, so error positions match the caller's text;
    # full-width repair (an IME left in full-width mode) is scanning.normalise's job, per device.
    full_width = "(０１)06901234567892"
    response = client.post("/api/v1/udi/parse", json={"scan": full_width}, headers=auth)
    assert response.status_code == 422
    assert response.get_json()["code"] != "server.internal"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events?di=%00",
        "/api/v1/stock?lot=a%00b",
        "/api/v1/epcis/events?serial=%00",
        "/api/v1/recalls/%00",
    ],
)
def test_a_nul_character_in_the_path_or_query_is_a_400_problem(
    client: FlaskClient, every_role: Headers, path: str
) -> None:
    assert_problem(client.get(path, headers=every_role), 400, "request.nul_character")
