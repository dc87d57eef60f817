"""warehouse/repository/bulk.py on both engines: what goes in comes back, and nothing is cut.

PostgreSQL takes rows as one binary array per column (``INSERT … SELECT … FROM unnest``),
several tables per statement; SQLite takes ``executemany``. These tests write to a table of
their own, created inside the test's rolled-back transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from warehouse.repository.bulk import insert_rows, insert_together

metadata = MetaData()
parents = Table(
    "bulk_probe_parents",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", String(5), nullable=True),
)
children = Table(
    "bulk_probe_children",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("parent_id", Uuid, ForeignKey(parents.c.id), nullable=False),
    Column("note", String(5), nullable=True),
    Column("document", JSON, nullable=True),
    Column("on", Date, nullable=True),
    Column("at", DateTime(timezone=True), nullable=True),
    Column("count", Integer, nullable=True),
)


@pytest.fixture
def session(db_session: Session) -> Session:
    metadata.create_all(db_session.connection())
    return db_session


def _child(parent: uuid.UUID, **values: Any) -> dict[str, Any]:
    row = {"id": uuid.uuid4(), "parent_id": parent, "note": None, "document": None}
    row |= {"on": None, "at": None, "count": None}
    return row | values


def test_rows_of_parent_and_child_tables_come_back_as_written(session: Session) -> None:
    parent = uuid.uuid4()
    beijing = timezone(timedelta(hours=8))
    written = [
        _child(parent, note="盒", document={"a": [1, "二"]}, on=date(2027, 1, 31), count=3),
        _child(parent, at=datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=UTC)),
        _child(parent, at=datetime(2026, 11, 27, 17, 30, 0, 654321, tzinfo=beijing)),
        _child(parent, document=[]),
    ]
    insert_together(session, [(parents, [{"id": parent, "code": "P1"}]), (children, written)])
    stored = {row["id"]: dict(row) for row in session.execute(select(children)).mappings()}
    assert set(stored) == {row["id"] for row in written}
    for row in written:
        back = stored[row["id"]]
        assert back | {"at": None} == row | {"at": None}
        if row["at"] is not None:  # the same instant (SQLite keeps no offset)
            if back["at"].tzinfo is None:  # SQLite: the wall time as written
                assert back["at"] == row["at"].replace(tzinfo=None)
            else:
                assert back["at"] == row["at"]


def test_none_in_a_json_column_is_stored_as_sqlalchemy_stores_it(session: Session) -> None:
    """JSON ``null`` (SQLAlchemy's default for a JSON column), on both paths alike."""
    parent = uuid.uuid4()
    insert_rows(session, parents, [{"id": parent, "code": None}])
    insert_rows(session, children, [_child(parent), _child(parent)])  # the array path
    session.execute(children.insert(), [_child(parent)])  # SQLAlchemy's own insert
    documents = session.execute(select(children.c.document.is_(None))).scalars().all()
    assert len(set(documents)) == 1


def test_a_string_longer_than_its_column_is_refused_not_cut(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    parent = uuid.uuid4()
    rows = [{"id": parent, "code": "P1"}, {"id": uuid.uuid4(), "code": "SIX666"}]
    with pytest.raises(DBAPIError, match="too long"):
        insert_rows(session, parents, rows)
