"""Tokens and scanners remembered for a few seconds (warehouse/recent.py), through HTTP.

Revoking through the service (the scanner API, ``flask tokens revoke``) takes effect at once
in the process that did it; a token revoked elsewhere (another worker, the database itself)
is refused once the memory's seconds are up; an expired token is refused even when
remembered.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.movements_world import World, build_world, token
from tests.scanning_world import register, scan, stent_label
from warehouse import tables
from warehouse.domain.roles import Role
from warehouse.tokens import create_token
from warehouse.web.auth import recent_principals

CURRENT = "/api/v1/tokens/current"


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


def _revoke_behind_the_apps_back(session: Session, token_id: str) -> None:
    api_tokens = tables.api_tokens
    session.execute(
        update(api_tokens)
        .where(api_tokens.c.id == uuid.UUID(token_id))
        .values(revoked_at=datetime.now(UTC))
    )
    session.commit()


def test_a_token_revoked_elsewhere_is_refused_once_its_seconds_are_up(
    app: Flask, client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        monkeypatch.setattr(recent_principals(), "seconds", 0.3)
    headers = token(world, "P", Role.WAREHOUSE_OPERATOR)
    first = client.get(CURRENT, headers=headers)
    assert first.status_code == 200
    _revoke_behind_the_apps_back(world.session, first.get_json()["token_id"])
    time.sleep(0.35)
    refused = client.get(CURRENT, headers=headers)
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "auth.invalid_token"


def test_a_remembered_token_that_expires_is_refused(client: FlaskClient, world: World) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=3)  # room for a slow machine before the first use
    issued = create_token(
        world.session,
        organisation_id=world["P"],
        roles=(Role.WAREHOUSE_OPERATOR,),
        name="short-lived",
        expires_at=soon,
    )
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert client.get(CURRENT, headers=headers).status_code == 200  # now remembered
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)
    refused = client.get(CURRENT, headers=headers)
    assert refused.status_code == 401
    assert "expired" in refused.get_json()["detail"]


def test_a_revoked_scanner_is_refused_at_once(client: FlaskClient, world: World) -> None:
    device, headers = register(client, world)
    body = scan(world, stent_label("R1"), "receive", "W-P/Q", owner="X")
    assert client.post("/api/v1/scans", json=body, headers=headers).status_code == 201
    manager = token(world, "P", Role.ORG_MANAGER)
    revoked = client.post(f"/api/v1/scanners/{device['id']}/revoke", headers=manager)
    assert revoked.status_code == 200
    again = scan(world, stent_label("R2"), "receive", "W-P/Q", owner="X")
    refused = client.post("/api/v1/scans", json=again, headers=headers)
    assert refused.status_code == 401


def test_a_token_revoked_on_the_command_line_is_refused_at_once_in_that_process(
    client: FlaskClient, runner: FlaskCliRunner, world: World
) -> None:
    headers = token(world, "P", Role.WAREHOUSE_OPERATOR)
    current = client.get(CURRENT, headers=headers)
    assert current.status_code == 200
    revoked = runner.invoke(args=["tokens", "revoke", current.get_json()["token_id"]])
    assert revoked.exit_code == 0, revoked.output
    assert client.get(CURRENT, headers=headers).status_code == 401
