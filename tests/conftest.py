"""Fixtures: the app on each database engine, a rolled-back session per test, tokens.

Every test that uses ``app`` (or ``client``, ``runner``, ``db_session``) runs twice: once on
SQLite and once on PostgreSQL. Each engine gets a fresh database migrated with Alembic at the
start of the run; each test runs inside a transaction that is rolled back at its end, while
the code under test commits to savepoints (``join_transaction_mode="create_savepoint"``).

PostgreSQL comes from ``TEST_DATABASE_URL`` (default: the local server with trust auth). When
it is unreachable its tests are skipped, unless ``UDI_REQUIRE_POSTGRES=1`` (set by CI and by
``python3 scripts/dev.py test``), which turns that into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from warehouse.db import DatabaseState
from warehouse.demo import ensure_organisation
from warehouse.domain.roles import Role
from warehouse.tokens import create_token
from wsgi import create_app

ENGINES = ("sqlite", "postgresql")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pytest_report_header() -> str:
    pg = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL)
    required = os.environ.get("UDI_REQUIRE_POSTGRES") == "1"
    return f"database engines: sqlite, postgresql ({pg}; required={required})"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = dict.fromkeys(ENGINES, 0)
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            for engine in ENGINES:
                if report.when == "call" and f"[{engine}" in report.nodeid:
                    counts[engine] += 1
    line = ", ".join(f"{engine}: {count} tests" for engine, count in counts.items())
    terminalreporter.write_line(f"database-backed tests per engine: {line}")


@pytest.fixture(scope="session", params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
        yield f"sqlite:///{path}"
        return
    yield from _postgres_database()


def _postgres_database() -> Iterator[str]:
    admin_url = make_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL))
    name = f"udi_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        message = f"PostgreSQL unreachable at {admin_url.render_as_string()}: {error.orig}"
        if os.environ.get("UDI_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=ENGINES)
def own_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on a fresh database of its own, migrated, dropped afterwards: for tests whose
    threads need connections of their own (``db_session``'s savepoint cannot be shared)."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'own.sqlite3'}"])
    else:
        urls = _postgres_database()
    app = create_app({"TESTING": True, "DATABASE_URL": next(urls), "LOG_LEVEL": "WARNING"})
    with app.app_context():
        flask_migrate.upgrade()
    try:
        yield app
    finally:
        app.extensions["udi_db"].engine.dispose()
        for _ in urls:  # drops the PostgreSQL database
            pass


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    application = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    )
    application.instance_path = str(instance)
    with application.app_context():
        flask_migrate.upgrade()
    yield application
    application.extensions["udi_db"].engine.dispose()


@pytest.fixture
def engine_name(app: Flask) -> str:
    """``sqlite`` or ``postgresql``: the engine this test instance runs on."""
    return app.extensions["udi_db"].engine.dialect.name


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session whose commits are savepoints inside a transaction rolled back after the test."""
    state: DatabaseState = app.extensions["udi_db"]
    connection = state.engine.connect()
    outer = connection.begin()
    if connection.dialect.name == "postgresql":
        # The master-data generation is replaced at commit (migration 0016); this transaction
        # never commits, so replace it at each write instead, as the code under test writes.
        connection.exec_driver_sql("SET CONSTRAINTS master_data_generation IMMEDIATE")
    original = state.session_factory
    state.session_factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    session = state.session_factory()
    try:
        yield session
    finally:
        session.close()
        state.session_factory = original
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app: Flask, db_session: Session) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask, db_session: Session) -> FlaskCliRunner:
    return app.test_cli_runner()


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def make_token(db_session: Session) -> TokenFactory:
    """Create an organisation (by credit code) and a token; return the request headers."""

    def factory(
        *roles: Role,
        credit_code: str = "91350200MA2Y1J0X4P",
        jurisdiction: str | None = None,
    ) -> dict[str, str]:
        org_id = ensure_organisation(
            db_session, f"org {credit_code}", credit_code, "350203", ["distributor"]
        )
        db_session.commit()
        issued = create_token(
            db_session,
            organisation_id=org_id,
            roles=roles or (Role.ADMIN,),
            name="test",
            jurisdiction=jurisdiction,
        )
        return {"Authorization": f"Bearer {issued.secret}"}

    return factory


@pytest.fixture
def auth(make_token: TokenFactory) -> dict[str, str]:
    """Headers of an admin token."""
    return make_token(Role.ADMIN)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
