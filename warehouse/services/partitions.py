"""Monthly partitions of the event history on PostgreSQL (migration 0013, docs/scaling.md).

``events`` is partitioned by range of ``id`` and ``event_items`` by range of ``event_id``, one
partition per calendar month (UTC) of the UUIDv7 server ids, plus a DEFAULT partition per
table that catches any id no month covers. :func:`maintain` — ``flask events partitions``,
to run monthly — creates the partitions of the coming months, both tables at once so an
event and its items always share a month, and reports every partition with its row count.

It moves nothing out of DEFAULT. DEFAULT should stay empty: it fills only when the command
was not run in time (the current month had no partition yet) or an id is not a current
UUIDv7. A month whose ids already sit in DEFAULT cannot get its partition (PostgreSQL
refuses to create a partition that rows in DEFAULT belong to); that month is skipped and
reported, and the rows must be moved by hand in a maintenance window (docs/scaling.md).
SQLite keeps plain tables: the command says so and does nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from warehouse.services import write_transaction

HISTORY = {"events": "id", "event_items": "event_id"}
"""Partitioned table -> partition key: both range over the event's server id."""

DEFAULT_MONTHS_AHEAD = 3
LOCK_TIMEOUT = "5s"
"""Creating a partition locks its parent against every write: give up rather than queue
behind a long transaction with every writer queued behind the command."""


# --- Months as ranges of UUIDv7 ids -------------------------------------------------------------


def month_start(moment: datetime | date) -> date:
    """First day of the (UTC) month of ``moment``."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return moment.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def uuid7_floor(month: date) -> uuid.UUID:
    """The smallest UUIDv7 minted in the first millisecond of ``month`` (UTC): its first 48
    bits are the Unix milliseconds, the other 80 are zero."""
    ms = int(datetime(month.year, month.month, 1, tzinfo=UTC).timestamp() * 1000)
    return uuid.UUID(int=ms << 80)


def months_from(first: date, ahead: int) -> Iterator[date]:
    """``first`` and the ``ahead`` months after it."""
    month = month_start(first)
    for _ in range(ahead + 1):
        yield month
        month = next_month(month)


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y%m}"


def default_name(table: str) -> str:
    return f"{table}_default"


# --- Maintenance ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Partition:
    table: str
    name: str
    default: bool
    month: date | None
    """None for DEFAULT (and for a partition made by hand under another name)."""
    rows: int | None
    """Exact for DEFAULT; PostgreSQL's estimate (``reltuples``) for a month, None if the
    partition was never analysed. Counting 85 GB months exactly would take hours."""


@dataclass(frozen=True, slots=True)
class PartitionReport:
    partitioned: bool
    """False on SQLite (and on a database whose tables are not partitioned): nothing done."""
    created: tuple[str, ...] = ()
    blocked: tuple[date, ...] = ()
    """Months left without a partition because rows of theirs are in DEFAULT."""
    partitions: tuple[Partition, ...] = ()

    @property
    def default_rows(self) -> dict[str, int]:
        """Rows in each DEFAULT partition that holds any."""
        return {p.name: p.rows for p in self.partitions if p.default and p.rows}


def maintain(
    session: Session, months_ahead: int = DEFAULT_MONTHS_AHEAD, today: date | None = None
) -> PartitionReport:
    """Create the partitions missing from this month to ``months_ahead`` months ahead, in one
    transaction, and report every partition. Running it again creates nothing.

    Raises:
        ValueError: If ``months_ahead`` is negative.
    """
    if months_ahead < 0:
        raise ValueError(f"Expected months ahead >= 0, got {months_ahead}.")
    if session.get_bind().dialect.name != "postgresql":
        return PartitionReport(partitioned=False)
    partitioned = _partitioned(session)
    session.rollback()  # the catalogue read opened a transaction; the writes need their own
    if not partitioned:
        return PartitionReport(partitioned=False)
    first = month_start(today or datetime.now(UTC))
    created: list[str] = []
    blocked: list[date] = []
    with write_transaction(session):
        session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        existing = {p.name for p in _partitions(session)}
        for month in months_from(first, months_ahead):
            missing = [t for t in HISTORY if partition_name(t, month) not in existing]
            if not missing:
                continue
            if any(_default_holds(session, t, month) for t in HISTORY):
                blocked.append(month)
                continue
            for table in missing:
                _create(session, table, month)
                created.append(partition_name(table, month))
    partitions = tuple(_partitions(session))
    session.rollback()  # the reads above opened a transaction
    return PartitionReport(True, tuple(created), tuple(blocked), partitions)


def _partitioned(session: Session) -> bool:
    kinds = session.execute(
        text("SELECT relkind FROM pg_class WHERE oid = ANY(CAST(:tables AS regclass[]))"),
        {"tables": list(HISTORY)},
    ).scalars()
    return set(kinds) == {"p"}


def _partitions(session: Session) -> Iterator[Partition]:
    rows = session.execute(
        text(
            "SELECT parent.relname, child.relname, child.reltuples,"
            " pg_get_expr(child.relpartbound, child.oid) = 'DEFAULT'"
            " FROM pg_inherits i"
            " JOIN pg_class parent ON parent.oid = i.inhparent"
            " JOIN pg_class child ON child.oid = i.inhrelid"
            " WHERE i.inhparent = ANY(CAST(:tables AS regclass[]))"
            " ORDER BY parent.relname DESC, child.relname"
        ),
        {"tables": list(HISTORY)},
    )
    for table, name, estimate, is_default in rows:
        if is_default:
            count = session.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            yield Partition(table, name, True, None, count)
            continue
        month = _month_of_name(table, name)
        yield Partition(table, name, False, month, int(estimate) if estimate >= 0 else None)


def _month_of_name(table: str, name: str) -> date | None:
    suffix = name.removeprefix(f"{table}_p")
    if len(suffix) != 6 or not suffix.isdigit():
        return None  # a partition made by hand, under another name
    return date(int(suffix[:4]), int(suffix[4:]), 1)


def _default_holds(session: Session, table: str, month: date) -> bool:
    """Whether the DEFAULT partition has rows of ``month`` (which would block its creation)."""
    key = HISTORY[table]
    return session.execute(
        text(
            f"SELECT EXISTS (SELECT FROM {default_name(table)}"
            f" WHERE {key} >= :low AND {key} < :high)"
        ),
        {"low": uuid7_floor(month), "high": uuid7_floor(next_month(month))},
    ).scalar_one()


def _create(session: Session, table: str, month: date) -> None:
    name = partition_name(table, month)
    low, high = uuid7_floor(month), uuid7_floor(next_month(month))
    session.execute(
        text(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{low}') TO ('{high}')")
    )
    # Read through the parent, the parent's tenant policy applies; read directly, nothing
    # does: row-level security without a policy keeps the restricted role out (as 0013 does).
    session.execute(text(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"))


# --- Schema comparison (Alembic autogenerate, ``flask db check``) ------------------------------


def partition_names(connection: Connection) -> frozenset[str]:
    """Names of the partitions in the current schema (none on SQLite)."""
    if connection.dialect.name != "postgresql":
        return frozenset()
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_class c"
            " WHERE c.relispartition AND c.relnamespace = CAST(current_schema() AS regnamespace)"
        )
    )
    return frozenset(name for (name,) in rows)


def autogenerate_filters(connection: Connection) -> dict[str, Callable[..., bool]]:
    """``include_name`` and ``include_object`` options hiding partitions from a comparison of
    the database with the metadata, which describes only the partitioned parents.

    Reflected, a partition is a table of its own, with copies of the parent's indexes, and a
    foreign key to a partitioned table appears once more per partition it references: all
    PostgreSQL's doing, not differences. The catalogue is read on first use only: a query
    before Alembic begins would open a transaction Alembic takes for the caller's and never
    commits (migrations/env.py).
    """
    found: list[frozenset[str]] = []

    def names() -> frozenset[str]:
        if not found:
            found.append(partition_names(connection))
        return found[0]

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        return not (type_ == "table" and name in names())

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "foreign_key_constraint" and reflected:
            return obj.referred_table.name not in names()
        return True

    return {"include_name": include_name, "include_object": include_object}
