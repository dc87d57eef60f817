"""Liveness and readiness probes (no token needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from warehouse.db import db
from warehouse.web.problems import Problem

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """The process is alive and serving requests."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> dict[str, Any]:
    """The database answers and its schema is at the newest migration."""
    expected = set(_script_directory().get_heads())
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        raise Problem(
            503,
            "server.database_unavailable",
            f"Expected the database to answer, got {type(error).__name__}.",
            headers={"Retry-After": "5"},
        ) from None
    if current != expected:
        raise Problem(
            503,
            "server.migrations_pending",
            f"Expected schema revision {sorted(expected)}, got {sorted(current)};"
            " run 'flask db upgrade'.",
            headers={"Retry-After": "30"},
        )
    return {"status": "ready", "database": db.engine.dialect.name, "revision": sorted(current)}


def _script_directory() -> ScriptDirectory:
    directory = Path(current_app.extensions["migrate"].directory)
    if not directory.is_absolute():
        directory = Path(current_app.root_path) / directory
    return ScriptDirectory(str(directory))
