"""Idempotency-Key on POST over HTTP, on both engines: replay, reuse, in flight, scope, expiry."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.e2e.test_service_basics import assert_problem
from warehouse import tables
from warehouse.demo import credit_code
from warehouse.domain.roles import Role
from warehouse.services import organisations as organisation_service
from warehouse.web.idempotency import fingerprint

Headers = dict[str, str]
ORGS = "/api/v1/organisations"
OTHER_ORG_CODE = credit_code("91350102MA31FX0L5")


def org_body(seed: str = "91350206MA2Y4TL0Q", name: str = "鹭通供应链") -> dict[str, Any]:
    return {
        "name": name,
        "credit_code": credit_code(seed),
        "jurisdiction": "350206",
        "roles": ["distributor"],
    }


def post(
    client: FlaskClient, body: dict[str, Any], headers: Headers, key: str | None = "k-1"
) -> Any:
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post(ORGS, json=body, headers={**headers, **extra})


def organisations_named(db_session: Session, name: str) -> int:
    query = select(func.count()).where(tables.organisations.c.name == name)
    return db_session.execute(query).scalar_one()


def caller_org(client: FlaskClient, headers: Headers) -> uuid.UUID:
    current = client.get("/api/v1/tokens/current", headers=headers).get_json()
    return uuid.UUID(current["organisation_id"])


def test_a_repeat_replays_the_201_without_creating_a_second_organisation(
    client: FlaskClient, auth: Headers, db_session: Session
) -> None:
    first = post(client, org_body(), auth, key='"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    assert first.status_code == 201, first.get_data(as_text=True)
    assert "Idempotent-Replayed" not in first.headers

    again = post(client, org_body(), auth, key='"8e03978e-40d5-43e8-bc93-6894a57f9324"')

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.mimetype == first.mimetype == "application/json"
    assert organisations_named(db_session, "鹭通供应链") == 1
    listed = client.get(f"{ORGS}?limit=500", headers=auth).get_json()["items"]
    assert [o["id"] for o in listed if o["name"] == "鹭通供应链"] == [first.get_json()["id"]]


def test_the_quoted_and_the_bare_form_are_the_same_key(client: FlaskClient, auth: Headers) -> None:
    first = post(client, org_body(), auth, key='"abc-123"')
    again = post(client, org_body(), auth, key="abc-123")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"


def test_without_the_header_a_repeat_runs_again(client: FlaskClient, auth: Headers) -> None:
    assert post(client, org_body(), auth, key=None).status_code == 201
    repeat = post(client, org_body(), auth, key=None)
    assert repeat.status_code != 201
    assert "Idempotent-Replayed" not in repeat.headers


def test_the_same_key_with_another_body_is_a_422_key_reused(
    client: FlaskClient, auth: Headers, db_session: Session
) -> None:
    assert post(client, org_body(), auth).status_code == 201
    other = post(client, org_body(name="另一家"), auth)
    assert_problem(other, 422, "idempotency.key_reused")
    assert organisations_named(db_session, "另一家") == 0


def test_the_same_key_on_another_path_is_a_422_key_reused(
    client: FlaskClient, auth: Headers
) -> None:
    assert post(client, org_body(), auth).status_code == 201
    response = client.post(
        "/api/v1/warehouses", json=org_body(), headers={**auth, "Idempotency-Key": "k-1"}
    )
    assert_problem(response, 422, "idempotency.key_reused")


def test_a_key_still_in_flight_is_a_409_with_retry_after(
    client: FlaskClient, auth: Headers, db_session: Session
) -> None:
    body = json.dumps(org_body()).encode()
    now = datetime.now(UTC)
    db_session.execute(
        insert(tables.idempotency_keys).values(
            id=uuid.uuid4(),
            organisation_id=caller_org(client, auth),
            key="busy",
            token_id=None,
            fingerprint=fingerprint("POST", ORGS, b"", body),
            state="in_flight",
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
    )
    db_session.commit()

    response = client.post(
        ORGS,
        data=body,
        content_type="application/json",
        headers={**auth, "Idempotency-Key": "busy"},
    )

    assert_problem(response, 409, "idempotency.in_flight")
    assert int(response.headers["Retry-After"]) >= 1
    assert organisations_named(db_session, "鹭通供应链") == 0


@pytest.mark.parametrize(("started_ago", "status"), [(timedelta(minutes=10), 201), (None, 409)])
def test_an_abandoned_claim_is_taken_over_after_its_lease(
    client: FlaskClient,
    auth: Headers,
    db_session: Session,
    started_ago: timedelta | None,
    status: int,
) -> None:
    body = json.dumps(org_body()).encode()
    started = datetime.now(UTC) - (started_ago or timedelta(seconds=5))
    db_session.execute(
        insert(tables.idempotency_keys).values(
            id=uuid.uuid4(),
            organisation_id=caller_org(client, auth),
            key="died",
            token_id=None,
            fingerprint=fingerprint("POST", ORGS, b"", body),
            state="in_flight",
            created_at=started,
            expires_at=started + timedelta(hours=24),
        )
    )
    db_session.commit()

    response = client.post(
        ORGS,
        data=body,
        content_type="application/json",
        headers={**auth, "Idempotency-Key": "died"},
    )

    assert response.status_code == status, response.get_data(as_text=True)
    assert organisations_named(db_session, "鹭通供应链") == (1 if status == 201 else 0)


def test_keys_are_scoped_per_organisation(
    client: FlaskClient, auth: Headers, make_token: Any, db_session: Session
) -> None:
    other_admin = make_token(Role.ADMIN, credit_code=OTHER_ORG_CODE)
    mine = post(client, org_body(), auth, key="shared")
    theirs = post(client, org_body("91350203MA2XN7K02", name="另一家"), other_admin, key="shared")

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.get_json()["id"] != theirs.get_json()["id"]
    assert organisations_named(db_session, "另一家") == 1


@pytest.mark.parametrize(
    "key",
    [
        "",
        '""',
        "x" * 256,
        '"' + "x" * 256 + '"',
        "has space",
        "naïve",
        '"unterminated',
        '"bad \\n escape"',
        '"a" "b"',
    ],
)
def test_an_invalid_key_is_a_400_problem(
    client: FlaskClient, auth: Headers, db_session: Session, key: str
) -> None:
    response = client.post(ORGS, json=org_body(), headers=[*auth.items(), ("Idempotency-Key", key)])
    assert_problem(response, 400, "idempotency.invalid_key")
    assert organisations_named(db_session, "鹭通供应链") == 0


def test_two_key_headers_are_a_400_problem(client: FlaskClient, auth: Headers) -> None:
    headers = [*auth.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    response = client.post(ORGS, json=org_body(), headers=headers)
    assert_problem(response, 400, "idempotency.invalid_key")


def test_authentication_comes_first(client: FlaskClient) -> None:
    response = client.post(ORGS, json=org_body(), headers={"Idempotency-Key": "bad key"})
    assert_problem(response, 401, "auth.missing_token")


def test_an_expired_key_runs_the_request_again(
    client: FlaskClient, auth: Headers, db_session: Session
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=2)
    db_session.execute(
        insert(tables.idempotency_keys).values(
            id=uuid.uuid4(),
            organisation_id=caller_org(client, auth),
            key="old",
            token_id=None,
            fingerprint="0" * 64,
            state="completed",
            response_status=201,
            response_headers={"Content-Type": "application/json"},
            response_body=b'{"stale": true}',
            created_at=long_ago,
            expires_at=long_ago + timedelta(hours=24),
        )
    )
    db_session.commit()

    fresh = post(client, org_body(), auth, key="old")

    assert fresh.status_code == 201, fresh.get_data(as_text=True)
    assert "Idempotent-Replayed" not in fresh.headers
    assert organisations_named(db_session, "鹭通供应链") == 1
    replay = post(client, org_body(), auth, key="old")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_data() == fresh.get_data()


def test_a_422_validation_problem_is_replayed_as_the_same_422(
    client: FlaskClient, auth: Headers
) -> None:
    body = {**org_body(), "credit_code": "not-a-code"}
    first = post(client, body, auth, key="invalid-body")
    assert_problem(first, 422, "request.validation")

    again = post(client, body, auth, key="invalid-body")

    assert again.status_code == 422
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.mimetype == "application/problem+json"
    assert again.get_data() == first.get_data()


def test_a_5xx_is_not_stored_so_a_retry_runs_again(
    client: FlaskClient, auth: Headers, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_down(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    with monkeypatch.context() as patch:
        patch.setattr(organisation_service, "create", database_down)
        failed = post(client, org_body(), auth, key="retry-me")
    assert_problem(failed, 503, "server.database_unavailable")
    rows = select(func.count()).where(tables.idempotency_keys.c.key == "retry-me")
    assert db_session.execute(rows).scalar_one() == 0

    retried = post(client, org_body(), auth, key="retry-me")

    assert retried.status_code == 201, retried.get_data(as_text=True)
    assert "Idempotent-Replayed" not in retried.headers
    assert organisations_named(db_session, "鹭通供应链") == 1


def test_the_header_is_documented_on_every_post(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    posts = [ops["post"] for path, ops in spec["paths"].items() if "post" in ops]
    assert posts
    ref = {"$ref": "#/components/parameters/IdempotencyKey"}
    assert all(ref in op.get("parameters", []) for op in posts)
    assert spec["components"]["parameters"]["IdempotencyKey"]["name"] == "Idempotency-Key"
    assert not any(
        ref in ops[method].get("parameters", [])
        for ops in spec["paths"].values()
        for method in ops
        if method in ("get", "put", "patch", "delete")
    )


def test_a_replay_still_needs_the_roles_of_the_operation(
    client: FlaskClient, auth: Headers, make_token: Any
) -> None:
    first = post(client, org_body(), auth, key="colleague")
    assert first.status_code == 201, first.get_data(as_text=True)
    auditor = make_token(Role.AUDITOR)  # same organisation, a role that may not create one

    replay = post(client, org_body(), auditor, key="colleague")

    assert_problem(replay, 403, "auth.role_required")
    assert "Idempotent-Replayed" not in replay.headers
    assert post(client, org_body(), auth, key="colleague").headers["Idempotent-Replayed"] == "true"
