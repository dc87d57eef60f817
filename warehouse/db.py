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

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

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
