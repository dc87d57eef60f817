"""Use cases over master data: each takes a Session and the caller, and owns one commit.

Writes call :func:`warehouse.db.begin_write` first, check what the caller may do, validate
with the domain rules, write with Core statements and commit once. Reads never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

from sqlalchemy.orm import Session

from warehouse.db import begin_write

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
"""Business dates (licence validity, custody dates) are Beijing dates; China has no DST."""


def today() -> date:
    """Return today's date in China, the default for every "as of" question."""
    return datetime.now(CHINA_STANDARD_TIME).date()


@contextmanager
def write_transaction(session: Session) -> Iterator[None]:
    """Run a service body as its one write transaction, committed once at the end.

    Starts with :func:`~warehouse.db.begin_write` (``BEGIN IMMEDIATE`` on SQLite); any error
    rolls back, so the caller's session is clean for the next service.
    """
    begin_write(session)
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    session.commit()


@contextmanager
def read_transaction(session: Session) -> Iterator[None]:
    """Run a read-only service body and end its transaction, so a write may follow."""
    try:
        yield
    finally:
        session.rollback()
