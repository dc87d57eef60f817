"""Both engines are configured as the design requires, and migrations match the models."""

from __future__ import annotations

import threading
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warehouse.db import begin_write, make_engine
from warehouse.services.partitions import autogenerate_filters
from warehouse.tables import metadata


def test_models_and_migrations_do_not_differ(app: Flask) -> None:
    engine = app.extensions["udi_db"].engine
    with engine.connect() as connection:
        # Partitions (migration 0013) are PostgreSQL's, not the metadata's: skipped as by env.py.
        opts = {"compare_type": True, **autogenerate_filters(connection)}
        context = MigrationContext.configure(connection, opts=opts)
        assert compare_metadata(context, metadata) == []


def test_foreign_keys_are_enforced(db_session: Session) -> None:
    statement = text(
        "INSERT INTO api_tokens (id, organisation_id, name, prefix, token_sha256, roles,"
        " created_at) VALUES (:id, :org, 'x', 'p', 'h', '[]', CURRENT_TIMESTAMP)"
    )
    with pytest.raises(IntegrityError):
        db_session.execute(statement, {"id": "0" * 32, "org": "1" * 32})


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app: Flask, engine_name: str) -> None:
    if engine_name != "sqlite":
        pytest.skip("SQLite pragmas")
    with app.extensions["udi_db"].engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_a_second_sqlite_writer_waits_instead_of_failing(tmp_path) -> None:
    """BEGIN IMMEDIATE: the second write transaction queues behind the first and succeeds."""
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
        connection.exec_driver_sql("INSERT INTO counter VALUES (0)")
    holding = threading.Event()

    def writer(hold_seconds: float) -> None:
        with Session(engine) as session:
            begin_write(session)
            value = session.execute(text("SELECT n FROM counter")).scalar_one()
            holding.set()
            time.sleep(hold_seconds)
            session.execute(text("UPDATE counter SET n = :n"), {"n": value + 1})
            session.commit()

    first = threading.Thread(target=writer, args=(0.3,))
    first.start()
    holding.wait(5)
    writer(0)  # read-then-write while the first holds the write lock
    first.join()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT n FROM counter").scalar() == 2
    engine.dispose()


def test_begin_write_must_start_the_transaction(db_session: Session) -> None:
    session = Session(db_session.get_bind())
    session.execute(text("SELECT 1"))
    with pytest.raises(RuntimeError, match="begin_write"):
        begin_write(session)
    session.close()
