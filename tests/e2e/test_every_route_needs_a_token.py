"""Every operation in the OpenAPI document refuses a request without a token.

Enumerated from the document itself, so a new endpoint cannot skip authentication unnoticed.
(The full route x role x organisation matrix comes with the roles work.)
"""

from __future__ import annotations

import re
import uuid

from flask.testing import FlaskClient

from tests.e2e.test_service_basics import assert_problem

PUBLIC = {"/healthz", "/readyz"}
_PARAMETER = re.compile(r"\{[^}]+\}")


def operations(client: FlaskClient) -> list[tuple[str, str]]:
    spec = client.get("/api/v1/openapi.json").get_json()
    found = []
    for path, item in spec["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method, path))
    return found


def test_the_document_lists_the_main_resources(client: FlaskClient) -> None:
    paths = {path for _, path in operations(client)}
    for expected in ("/api/v1/udi/parse", "/api/v1/events", "/api/v1/rules/custody-check"):
        assert expected in paths


def test_every_operation_without_a_token_is_a_401_problem(client: FlaskClient) -> None:
    checked = 0
    for method, path in operations(client):
        if path in PUBLIC:
            continue
        url = _PARAMETER.sub(str(uuid.uuid4()), path)
        response = client.open(url, method=method.upper(), json={} if method == "post" else None)
        assert response.status_code == 401, (method, path, response.status_code)
        assert_problem(response, 401, "auth.missing_token")
        checked += 1
    assert checked >= 40
