"""API tokens: issued once, stored hashed, revoked at once; the CLI that manages them."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.demo import ensure_organisation
from warehouse.domain.roles import Role
from warehouse.tokens import (
    InvalidToken,
    UnknownOrganisation,
    UnknownToken,
    authenticate,
    create_token,
    revoke_token,
)

CREDIT_CODE = "91350200MA0000000X"


@pytest.fixture
def org_id(db_session: Session) -> uuid.UUID:
    org = ensure_organisation(db_session, "Xiamen 3PL", CREDIT_CODE, "350203", ["3pl"])
    db_session.commit()
    return org


def test_only_the_sha256_of_a_token_is_stored(db_session: Session, org_id: uuid.UUID) -> None:
    issued = create_token(db_session, organisation_id=org_id, roles=(Role.SCANNER,), name="h1")
    row = db_session.execute(select(tables.api_tokens)).mappings().one()
    assert issued.secret.startswith("udi_")
    assert len(issued.secret) >= 4 + 43  # 32 random bytes, URL-safe base64
    assert row["token_sha256"] == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in {str(value) for value in row.values()}
    assert row["prefix"] == issued.secret[:12]


def test_two_tokens_never_share_a_secret(db_session: Session, org_id: uuid.UUID) -> None:
    secrets = {
        create_token(db_session, organisation_id=org_id, roles=(Role.ADMIN,), name=str(i)).secret
        for i in range(20)
    }
    assert len(secrets) == 20


def test_authenticate_returns_the_organisation_and_roles(
    db_session: Session, org_id: uuid.UUID
) -> None:
    issued = create_token(
        db_session, organisation_id=org_id, roles=(Role.SCANNER, Role.AUDITOR), name="x"
    )
    principal = authenticate(db_session, issued.secret)
    assert principal.organisation_id == org_id
    assert principal.roles == {Role.SCANNER, Role.AUDITOR}
    assert principal.token_id == issued.id


def test_authenticate_records_last_use_at_most_once_a_minute(
    db_session: Session, org_id: uuid.UUID
) -> None:
    issued = create_token(db_session, organisation_id=org_id, roles=(Role.ADMIN,), name="x")
    first = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    query = select(tables.api_tokens.c.last_used_at)
    authenticate(db_session, issued.secret, now=first)
    authenticate(db_session, issued.secret, now=first + timedelta(seconds=30))
    assert db_session.execute(query).scalar_one().replace(tzinfo=UTC) == first
    authenticate(db_session, issued.secret, now=first + timedelta(seconds=61))
    later = db_session.execute(query).scalar_one().replace(tzinfo=UTC)
    assert later == first + timedelta(seconds=61)


def test_a_revoked_token_no_longer_authenticates(db_session: Session, org_id: uuid.UUID) -> None:
    issued = create_token(db_session, organisation_id=org_id, roles=(Role.ADMIN,), name="x")
    revoke_token(db_session, issued.id)
    with pytest.raises(InvalidToken, match="revoked"):
        authenticate(db_session, issued.secret)


def test_an_expired_token_no_longer_authenticates(db_session: Session, org_id: uuid.UUID) -> None:
    expires = datetime(2026, 1, 1, tzinfo=UTC)
    issued = create_token(
        db_session, organisation_id=org_id, roles=(Role.ADMIN,), name="x", expires_at=expires
    )
    authenticate(db_session, issued.secret, now=expires - timedelta(seconds=1))
    with pytest.raises(InvalidToken, match="expired"):
        authenticate(db_session, issued.secret, now=expires)


def test_revoking_an_unknown_token_says_so(db_session: Session) -> None:
    with pytest.raises(UnknownToken):
        revoke_token(db_session, uuid.uuid4())


def test_a_token_needs_an_existing_organisation(db_session: Session) -> None:
    with pytest.raises(UnknownOrganisation):
        create_token(db_session, organisation_id=uuid.uuid4(), roles=(Role.ADMIN,), name="x")


def test_a_regulator_token_needs_a_jurisdiction(db_session: Session, org_id: uuid.UUID) -> None:
    with pytest.raises(ValueError, match="jurisdiction"):
        create_token(db_session, organisation_id=org_id, roles=(Role.REGULATOR,), name="x")


def test_cli_creates_lists_and_revokes_tokens(runner: FlaskCliRunner, org_id: uuid.UUID) -> None:
    created = runner.invoke(
        args=["tokens", "create", "--org", CREDIT_CODE, "--role", "scanner", "--name", "h7"]
    )
    assert created.exit_code == 0, created.output
    token_id = created.output.split("token id:")[1].split()[0]
    secret = created.output.split("token:")[-1].split()[0]
    assert secret.startswith("udi_")

    listed = runner.invoke(args=["tokens", "list", "--org", str(org_id)])
    assert token_id in listed.output
    assert secret[:12] in listed.output
    assert secret not in listed.output
    assert "active" in listed.output

    revoked = runner.invoke(args=["tokens", "revoke", token_id])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output


def test_cli_refuses_an_unknown_organisation(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["tokens", "create", "--org", "nope", "--role", "admin"])
    assert result.exit_code != 0
    assert "Expected an organisation id or credit code" in result.output


def test_cli_refuses_an_unknown_role(runner: FlaskCliRunner, org_id: uuid.UUID) -> None:
    result = runner.invoke(args=["tokens", "create", "--org", CREDIT_CODE, "--role", "god"])
    assert result.exit_code != 0
    assert "god" in result.output


def test_demo_load_prints_a_working_admin_token(runner: FlaskCliRunner, client) -> None:
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    secret = result.output.split("admin token:")[1].split()[0]
    response = client.get("/api/v1/tokens/current", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.get_json()["roles"] == ["admin"]
