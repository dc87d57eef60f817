"""Engine and session management for both supported databases.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, and
Python's implicit transaction handling switched off so that SQLAlchemy's ``BEGIN`` is the real
one: a write transaction starts with ``BEGIN IMMEDIATE`` (see :func:`begin_write`), because a
deferred ``BEGIN`` that later upgrades to a write lock fails at once with "database is locked"
instead of waiting (reliability-patterns.md §4). PostgreSQL is reached through psycopg 3.

Services receive a :class:`~sqlalchemy.orm.Session` and own its one commit; request handlers
get theirs from :data:`db.session`, which is removed when the app context ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from warehouse.domain.roles import Role
from warehouse.tables import metadata

WRITE_OPTION = "udi_write"


@dataclass
class DatabaseState:
    """Per-app engine and session factory (tests swap ``session_factory`` for savepoints)."""

    engine: Engine
    session_factory: sessionmaker[Session]


class Database:
    """Flask extension giving each app an engine and each app context one session."""

    metadata = metadata
    """Read by Flask-Migrate and Alembic's autogenerate."""

    def init_app(self, app: Flask) -> None:
        """Create the engine for ``app.config["DATABASE_URL"]`` and register teardown."""
        engine = make_engine(app.config["DATABASE_URL"])
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        app.extensions["udi_db"] = DatabaseState(engine=engine, session_factory=factory)
        app.teardown_appcontext(_close_session)

    @property
    def state(self) -> DatabaseState:
        """The current app's database state."""
        return current_app.extensions["udi_db"]

    @property
    def engine(self) -> Engine:
        """The current app's engine (Flask-Migrate and health checks use it)."""
        return self.state.engine

    @property
    def session(self) -> Session:
        """The session of the current app context, created on first use."""
        if "udi_session" not in g:
            g.udi_session = self.state.session_factory()
        return g.udi_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("udi_session", None)
    if session is not None:
        session.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy so savepoints and BEGIN IMMEDIATE work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write(session: Session) -> None:
    """Mark the session's coming transaction as a write transaction.

    Call it first thing in a service that writes. On SQLite the transaction then starts with
    ``BEGIN IMMEDIATE`` and waits for other writers instead of failing; on PostgreSQL it is a
    no-op (row locks and conditional updates do that job).
    """
    if session.in_transaction():
        raise RuntimeError(
            "Expected begin_write() to start the transaction, got a session already in one."
        )
    session.connection(execution_options={WRITE_OPTION: True})


db = Database()


# --- Tenancy in depth: the row-level security context of each transaction (PostgreSQL) --------

RLS_ROLE_CONFIG = "DATABASE_RLS_ROLE"
"""Config key arming row-level security (docs/security.md): the restricted role (``udi_rls``,
created by migration 0009, or the app's own restricted login role) each request transaction
switches to, with the caller's organisation set for the policies. Unset (the default, and
development's): nothing is sent, and the login role's own rights apply — for a superuser or the
tables' owner, RLS is inert."""

_BYPASS_ROLES = frozenset({Role.ADMIN, Role.REGULATOR})
"""See every tenant row: admins, and regulators, whose jurisdiction the application filters."""

_SET_CONTEXT = "SELECT set_config('udi.org_id', %s, true), set_config('udi.rls_bypass', %s, true)"
_SET_CONTEXT_AND_ROLE = f"{_SET_CONTEXT}, set_config('role', %s, true)"


@event.listens_for(Session, "after_begin")
def _row_level_security_context(
    _session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    """Tell PostgreSQL whose transaction this is (``SET LOCAL``: it ends with the transaction).

    Only when armed (``DATABASE_RLS_ROLE``), so the default costs no round trip. In a request:
    the restricted role, and the caller's organisation, or the bypass for admins and
    regulators; before authentication no organisation, so tenant tables show no rows. Outside a
    request (command line, maintenance): the system, which bypasses, in the login role.
    """
    if connection.dialect.name != "postgresql" or not has_app_context():
        return
    role = current_app.config.get(RLS_ROLE_CONFIG)
    if not role:
        return
    if not has_request_context():
        connection.exec_driver_sql(_SET_CONTEXT, ("", "on"))
        return
    principal = g.get("principal")
    if principal is None:
        org, bypass = "", "off"
    elif principal.roles & _BYPASS_ROLES:
        org, bypass = "", "on"
    else:
        org, bypass = str(principal.organisation_id), "off"
    connection.exec_driver_sql(_SET_CONTEXT_AND_ROLE, (org, bypass, role))


def see_every_row(session: Session) -> None:
    """Lift row-level security for the rest of the session's transaction (PostgreSQL).

    For services that read across organisations on purpose — traces, recalls, the audit
    chain — and decide themselves what the caller may see. ``set_config(…, true)`` ends with
    the transaction; without RLS armed the setting is read by nobody.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT set_config('udi.rls_bypass', 'on', true)"))


@contextmanager
def seeing_every_row(session: Session) -> Iterator[None]:
    """:func:`see_every_row` for the block only: the previous setting comes back after it, so
    the transaction's other reads stay bound by the policies (an error aborts the
    transaction, and the setting goes with it)."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    before = session.execute(
        text("SELECT coalesce(current_setting('udi.rls_bypass', true), '')")
    ).scalar_one()
    see_every_row(session)
    yield
    session.execute(text("SELECT set_config('udi.rls_bypass', :value, true)"), {"value": before})
