"""Bulk inserts: many rows in one statement on PostgreSQL, ``executemany`` on SQLite.

A batch of scans writes hundreds of rows to each of a handful of tables. On PostgreSQL a
pipelined ``executemany`` binds, plans and runs each row on its own, and psycopg's text
dumping of values is Python code; one ``INSERT … SELECT * FROM unnest(arrays)`` with one
binary array per column is planned once and dumped in C. Measured for 500 rows of ten
columns: 12.8 ms (``executemany``) → 5.0 ms wall, 12.7 → 2.7 ms of Python CPU
(``bench``-style micro-measurement recorded in the issue 7 note). COPY would be faster still
but PostgreSQL refuses ``COPY FROM`` into tables with row-level security.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, String, Table
from sqlalchemy.orm import Session

Write = tuple[Table, list[dict[str, Any]]]
"""Rows to insert into one table."""

_STATEMENTS: dict[tuple[str, tuple[str, ...]], str] = {}
_EXECUTEMANY: dict[str, Any] = {}


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (no RETURNING). Every row names the same columns; columns that no row
    names take their server defaults."""
    insert_together(session, [(table, rows)])


def insert_together(session: Session, writes: Sequence[Write]) -> None:
    """Insert the rows of several tables (no RETURNING); tables without rows are skipped.

    PostgreSQL: one statement, ``WITH w0 AS (INSERT …), w1 AS (INSERT …) INSERT …``, so a
    batch's keys, items, units and scans cost one round trip, not four. Foreign keys are
    checked at the end of the statement, when every part has run; row-level security is not:
    it checks each row as it is inserted, against what the statement sees, so a row whose
    policy looks up its parent (an event item's event) needs the parent inserted by an
    earlier statement. SQLite: one ``executemany`` per table, in the order given, parents
    first.
    """
    writes = [(table, rows) for table, rows in writes if rows]
    if not writes:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for table, rows in writes:
            if table.name not in _EXECUTEMANY:
                _EXECUTEMANY[table.name] = table.insert()
            session.execute(_EXECUTEMANY[table.name], rows)
        return
    statements, arrays = [], []
    for table, rows in writes:
        columns = tuple(rows[0])
        statements.append(_unnest_insert(connection.dialect, table, columns))
        arrays += [_array(table, column, rows) for column in columns]
    *before, last = statements
    with_clause = ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(before))
    sql = f"WITH {with_clause} {last}" if before else last
    connection.exec_driver_sql(sql, tuple(arrays))


def _array(table: Table, column: str, rows: list[dict[str, Any]]) -> list[Any]:
    type_ = table.c[column].type
    if isinstance(type_, JSON):
        # JSON travels as text: a list would be read as a nested array. None is stored as
        # JSON null unless the column says otherwise, as SQLAlchemy's own insert does.
        keep_null = type_.none_as_null
        return [
            None if value is None and keep_null else json.dumps(value)
            for value in (row[column] for row in rows)
        ]
    return [row[column] for row in rows]


def _unnest_insert(dialect: Any, table: Table, columns: tuple[str, ...]) -> str:
    """``INSERT INTO t (c…) SELECT c… FROM unnest(%b::type[], …)``, written once per table and
    column set (``%b``: psycopg sends the arrays in binary)."""
    key = (table.name, columns)
    if key not in _STATEMENTS:
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        arrays = ", ".join(f"%b::{_sql_type(dialect, table, c)}[]" for c in columns)
        values = ", ".join(
            f"{quote(c)}::json" if isinstance(table.c[c].type, JSON) else quote(c) for c in columns
        )
        _STATEMENTS[key] = (
            f"INSERT INTO {quote(table.name)} ({names}) "
            f"SELECT {values} FROM unnest({arrays}) AS new ({names})"
        )
    return _STATEMENTS[key]


def _sql_type(dialect: Any, table: Table, column: str) -> str:
    """The arrays' element type. Strings travel as ``text``: an explicit cast to
    ``varchar(n)`` would cut a longer value without a word, where the insert's own conversion
    to the column refuses it, as a plain ``INSERT … VALUES`` does."""
    type_ = table.c[column].type
    if isinstance(type_, JSON | String):
        return "text"
    return str(type_.compile(dialect=dialect))
