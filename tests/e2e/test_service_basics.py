"""The service foundation over real HTTP (Flask test client), on both database engines."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import update
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.roles import Role
from warehouse.tokens import hash_token
from wsgi import create_app

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"/problems/{code}"
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == response.request.path
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_healthz_answers_without_a_token(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_the_database_at_the_newest_migration(
    client: FlaskClient, engine_name: str
) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == engine_name
    assert body["revision"]


def test_openapi_document_is_valid_openapi_3(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_swagger_ui_is_served_without_a_token(client: FlaskClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"swagger" in response.data.lower()


def test_a_request_without_a_token_gets_a_401_problem(client: FlaskClient) -> None:
    response = client.get("/api/v1/tokens/current")
    body = assert_problem(response, 401, "auth.missing_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization" in body["detail"]


def test_a_basic_auth_header_gets_a_malformed_header_problem(client: FlaskClient) -> None:
    response = client.get("/api/v1/tokens/current", headers={"Authorization": "Basic abc"})
    assert_problem(response, 401, "auth.malformed_header")


def test_an_unknown_token_gets_a_401_problem(client: FlaskClient) -> None:
    headers = {"Authorization": "Bearer udi_not-a-real-token"}
    response = client.get("/api/v1/tokens/current", headers=headers)
    assert_problem(response, 401, "auth.invalid_token")


def test_a_valid_token_identifies_its_organisation_and_roles(
    client: FlaskClient, make_token
) -> None:
    headers = make_token(Role.WAREHOUSE_OPERATOR, Role.SCANNER)
    response = client.get("/api/v1/tokens/current", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["roles"] == ["scanner", "warehouse_operator"]


def test_a_revoked_token_is_refused(client: FlaskClient, db_session: Session, make_token) -> None:
    headers = make_token(Role.ADMIN)
    secret = headers["Authorization"].split()[1]
    db_session.execute(
        update(tables.api_tokens)
        .where(tables.api_tokens.c.token_sha256 == hash_token(secret))
        .values(revoked_at=datetime.now(UTC))
    )
    db_session.commit()
    response = client.get("/api/v1/tokens/current", headers=headers)
    body = assert_problem(response, 401, "auth.invalid_token")
    assert "revoked" in body["detail"]


def test_an_expired_token_is_refused(client: FlaskClient, db_session: Session, make_token) -> None:
    headers = make_token(Role.ADMIN)
    secret = headers["Authorization"].split()[1]
    db_session.execute(
        update(tables.api_tokens)
        .where(tables.api_tokens.c.token_sha256 == hash_token(secret))
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    db_session.commit()
    response = client.get("/api/v1/tokens/current", headers=headers)
    body = assert_problem(response, 401, "auth.invalid_token")
    assert "expired" in body["detail"]


def test_an_unknown_path_gets_a_404_problem(client: FlaskClient, auth) -> None:
    response = client.get("/api/v1/no-such-thing", headers=auth)
    assert_problem(response, 404, "request.not_found")


def test_an_unknown_path_without_token_still_needs_a_token(client: FlaskClient) -> None:
    # Paths are not enumerable without a token: 401 comes before 404.
    response = client.get("/api/v1/no-such-thing")
    assert_problem(response, 401, "auth.missing_token")


def test_a_wrong_method_gets_a_405_problem_with_allow(client: FlaskClient, auth) -> None:
    response = client.delete("/api/v1/tokens/current", headers=auth)
    assert_problem(response, 405, "request.method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_a_request_id_sent_by_the_client_is_echoed(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "scanner-42.batch-7"})
    assert response.headers["X-Request-ID"] == "scanner-42.batch-7"


def test_an_unsafe_request_id_is_replaced(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"})
    assert response.headers["X-Request-ID"] != "bad id <script>"
    assert len(response.headers["X-Request-ID"]) == 32


def test_problem_type_uris_are_served_as_pages(client: FlaskClient) -> None:
    response = client.get("/problems/auth.missing_token")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b"Bearer" in response.data


def test_an_unknown_problem_type_page_is_a_404_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/problems/no.such.code"), 404, "request.not_found")


def test_each_request_is_logged_as_one_line_without_the_token(
    client: FlaskClient, make_token
) -> None:
    headers = make_token(Role.ADMIN)
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("udi.requests")
    handler = Collect()
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        response = client.get("/api/v1/tokens/current", headers=headers)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    (record,) = records
    assert record.method == "GET"
    assert record.path == "/api/v1/tokens/current"
    assert record.status == 200
    assert record.token_id == response.get_json()["token_id"]
    assert record.request_id == response.headers["X-Request-ID"]
    assert record.ms >= 0
    secret = headers["Authorization"].split()[1]
    assert secret not in str(vars(record))


@pytest.fixture
def failing_client(database_url: str) -> FlaskClient:
    """A separate app with one extra route that crashes (routes must exist before requests)."""
    failing = create_app({"TESTING": True, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"})
    # Under /healthz so no token is needed: this test is about the 500 path, not auth.
    failing.add_url_rule("/healthz/boom", "boom", _boom)
    return failing.test_client()


def _boom() -> None:
    raise RuntimeError("secret internal detail: password=hunter2")


def test_an_unhandled_exception_is_a_500_problem_without_internals(
    failing_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("udi.errors")
    logger.propagate = True
    try:
        with caplog.at_level(logging.ERROR, logger="udi.errors"):
            response = failing_client.get("/healthz/boom")
    finally:
        logger.propagate = False
    body = assert_problem(response, 500, "server.internal")
    assert "hunter2" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    logged = [r for r in caplog.records if r.name == "udi.errors"]
    assert logged
    assert logged[0].request_id == body["request_id"]
    assert "hunter2" in caplog.text  # the log keeps what the client must not see


def test_a_database_outage_is_a_503_problem_with_retry_after(tmp_path) -> None:
    unreachable = f"sqlite:///{tmp_path}/missing-directory/udi.sqlite3"
    offline = create_app({"TESTING": True, "DATABASE_URL": unreachable, "LOG_LEVEL": "ERROR"})
    response = offline.test_client().get(
        "/api/v1/tokens/current", headers={"Authorization": "Bearer udi_anything"}
    )
    body = assert_problem(response, 503, "server.database_unavailable")
    assert response.headers["Retry-After"] == "2"
    assert "sqlite" not in body["detail"].lower()
