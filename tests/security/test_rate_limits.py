"""Per-token rate limits: 429 problem+json with Retry-After, counted per token, configurable."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from tests.conftest import TokenFactory
from tests.e2e.test_service_basics import assert_problem
from warehouse.db import db
from warehouse.demo import ensure_organisation
from warehouse.domain.roles import Principal, Role
from warehouse.tokens import create_token
from warehouse.web import limits
from warehouse.web.limits import DEFAULT_LIMIT, LeanMemoryStorage, rate_limit_key
from wsgi import create_app

REDIS = ("127.0.0.1", 6379)


@pytest.fixture
def low_limit(app: Flask) -> Iterator[str]:
    """Three requests a minute per token, for this test only."""
    before = app.config["RATE_LIMIT_PER_TOKEN"]
    app.config["RATE_LIMIT_PER_TOKEN"] = "3 per minute"
    yield "3 per 1 minute"
    app.config["RATE_LIMIT_PER_TOKEN"] = before


def test_the_default_is_high_enough_for_tests_and_benchmarks(app: Flask) -> None:
    assert app.config["RATE_LIMIT_PER_TOKEN"] == DEFAULT_LIMIT == "6000 per minute"
    assert app.config["RATELIMIT_STORAGE_URI"].startswith(("udimemory://", "redis://"))


def test_a_token_over_its_limit_gets_429_problem_with_retry_after(
    client: FlaskClient, make_token: TokenFactory, low_limit: str
) -> None:
    headers = make_token(Role.SCANNER)
    for _ in range(3):
        assert client.get("/api/v1/tokens/current", headers=headers).status_code == 200
    refused = client.get("/api/v1/tokens/current", headers=headers)
    assert_problem(refused, 429, "request.rate_limited")
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert low_limit in refused.get_json()["detail"]
    # Every endpoint shares the token's budget.
    other = client.post("/api/v1/udi/parse", json={"scan": "x"}, headers=headers)
    assert other.status_code == 429


def test_limits_count_per_token_not_per_organisation(
    client: FlaskClient, make_token: TokenFactory, low_limit: str
) -> None:
    first, second = make_token(Role.SCANNER), make_token(Role.SCANNER)
    for _ in range(3):
        client.get("/api/v1/tokens/current", headers=first)
    assert client.get("/api/v1/tokens/current", headers=first).status_code == 429
    assert client.get("/api/v1/tokens/current", headers=second).status_code == 200


def test_health_and_the_api_description_are_never_limited(
    client: FlaskClient, app: Flask, low_limit: str
) -> None:
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/v1/openapi.json").status_code == 200


def test_the_key_is_the_token_id(app: Flask) -> None:
    token_id = uuid.uuid4()
    principal = Principal(token_id, uuid.uuid4(), frozenset({Role.SCANNER}), None)
    with app.test_request_context("/api/v1/stock"):
        assert rate_limit_key().startswith("address:")
        g.principal = principal
        assert rate_limit_key() == f"token:{token_id}"


def _redis_up() -> bool:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_up(), reason="Redis not running on 127.0.0.1:6379")
def test_counters_shared_through_redis_when_configured(tmp_path: Path) -> None:
    prefix = f"udi-test-{uuid.uuid4().hex[:8]}"
    config = {
        "TESTING": True,
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'limits.sqlite3'}",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "RATELIMIT_KEY_PREFIX": prefix,
        "RATE_LIMIT_PER_TOKEN": "2 per minute",
    }
    first, second = create_app(config), create_app(config)  # two workers, one Redis
    with first.app_context():
        flask_migrate.upgrade()
        org = ensure_organisation(db.session, "o", "91350200MA2Y1J0X4P", "350203", ["distributor"])
        db.session.commit()
        issued = create_token(db.session, organisation_id=org, roles=(Role.SCANNER,), name="t")
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert first.test_client().get("/api/v1/tokens/current", headers=headers).status_code == 200
    assert second.test_client().get("/api/v1/tokens/current", headers=headers).status_code == 200
    refused = first.test_client().get("/api/v1/tokens/current", headers=headers)
    assert_problem(refused, 429, "request.rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    for app in (first, second):  # the Redis keys expire with their one-minute window
        app.extensions["udi_db"].engine.dispose()


def test_the_default_store_counts_and_expires_without_a_thread_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = LeanMemoryStorage()
    storage.timer.join()  # the one purge the parent's __init__ schedules: let it pass first
    started: list[object] = []
    monkeypatch.setattr(threading.Timer, "start", lambda timer: started.append(timer))
    for expected in range(1, 101):
        assert storage.incr("token:a", expiry=60) == expected
    assert started == []  # the stock memory:// storage starts Timer threads here
    storage.incr("token:b", expiry=0.01)
    storage.incr("token:unread", expiry=0.01)
    time.sleep(0.02)
    assert storage.get("token:b") == 0  # an expired window reads as empty
    assert "token:unread" in storage.expirations  # not read since: still held in memory
    monkeypatch.setattr(limits, "PURGE_EVERY_SECONDS", 0.0)
    storage._next_purge = 0.0
    storage.incr("token:c", expiry=60)  # purges inline: the expired key's memory is freed
    assert "token:unread" not in storage.expirations
    assert storage.get("token:a") == 100
