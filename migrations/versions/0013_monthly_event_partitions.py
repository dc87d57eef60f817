"""Monthly partitions of events and event_items on PostgreSQL; event_keys on both engines.

``events`` becomes ``PARTITION BY RANGE (id)``: server ids are UUIDv7, whose first 48 bits are
the Unix milliseconds, so the id range [uuid7 floor of a month's first instant, that of the
next month) is one month. ``event_items`` ranges on ``event_id`` (its event's server id), so an
event and its items land in the same month; its primary key becomes ``(event_id, id)`` because
a partitioned table's unique keys must contain the partition key (nothing references
``event_items.id``). Partitions are made from the month of the oldest event (or the current
month) to :data:`MONTHS_AHEAD` months ahead, plus a DEFAULT partition per table so an insert
never fails for lack of a partition; ``flask events partitions`` makes the later months and
warns when DEFAULT holds rows (docs/scaling.md). Each partition has row-level security
enabled without a policy: read through the parent, the parent's ``tenant`` policy applies;
read directly, the restricted role sees nothing.

A partitioned table cannot keep ``events.event_id`` (client-supplied) unique across months,
so the uniqueness moves to ``event_keys (event_id PRIMARY KEY, id)``, filled here from the
stored events and written by the movement service in the event's transaction, on both
engines; on PostgreSQL a key is visible (row-level security) with its event only.
``events.event_id`` keeps a plain index for lookups. ``event_keys.id`` has no foreign key:
Citus cannot enforce one between tables distributed on different columns, and the audit
chain, not a constraint, is what finds an event deleted behind the service's back.

The tables are rebuilt by create-new/copy/drop: on PostgreSQL every foreign key (to and from
both tables), index, CHECK, comment, append-only trigger (0003), ``tenant`` policy (0009) and
grant is re-made on the new tables; SQLite keeps plain tables and only loses the UNIQUE on
``events.event_id`` and gains the ``(event_id, id)`` key on ``event_items``. Downgrade rebuilds
plain tables the same way and drops ``event_keys``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

MONTHS_AHEAD = 3
EARLIEST_MONTH = date(2019, 1, 1)
"""No partition before this month (China's UDI rules start in 2019): ids older than it, or
not UUIDv7 at all, go to DEFAULT instead of making one partition per month since 1970."""

HISTORY = ("events", "event_items")
PARTITION_KEY = {"events": "id", "event_items": "event_id"}
RLS_ROLE = "udi_rls"
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _rebuild_postgresql(bind, partitioned=True)
    else:
        _rebuild_sqlite(bind, partitioned=True)
    _create_event_keys(bind)


def downgrade():
    bind = op.get_bind()
    _drop_event_keys(bind)
    if bind.dialect.name == "postgresql":
        _rebuild_postgresql(bind, partitioned=False)
    else:
        _rebuild_sqlite(bind, partitioned=False)


# --- event_keys -----------------------------------------------------------------------------


def _create_event_keys(bind: sa.Connection) -> None:
    op.create_table(
        "event_keys",
        sa.Column("event_id", sa.Uuid(), nullable=False, comment="client-supplied, idempotent"),
        sa.Column("id", sa.Uuid(), nullable=False, comment="events.id"),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_keys")),
        comment="append-only: the one place events.event_id is unique (events are partitioned)",
    )
    op.execute("INSERT INTO event_keys (event_id, id) SELECT event_id, id FROM events")
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER event_keys_append_only BEFORE UPDATE OR DELETE ON event_keys"
            " FOR EACH ROW EXECUTE FUNCTION udi_refuse_change()"
        )
        _grant_restricted_role("event_keys")
        # Migration 0009's tenancy in depth: a key is visible, and writable, with its event.
        rule = "udi_rls_bypass() OR EXISTS (SELECT 1 FROM events e WHERE e.id = event_keys.id)"
        op.execute("ALTER TABLE event_keys ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant ON event_keys USING ({rule}) WITH CHECK ({rule})")
        return
    _sqlite_triggers("event_keys")


def _drop_event_keys(bind: sa.Connection) -> None:
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS event_keys_append_only ON event_keys")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS event_keys_no_{verb}")
    op.drop_table("event_keys")


# --- PostgreSQL ---------------------------------------------------------------------------------


def _rebuild_postgresql(bind: sa.Connection, *, partitioned: bool) -> None:
    """Rebuild events and event_items as partitioned (or plain) tables, keeping every row."""
    foreign_keys = _foreign_keys(bind)
    indexes = _plain_indexes(bind)
    policies = _policies(bind)
    comments = {t: _table_comment(bind, t) for t in HISTORY}
    oldest = _oldest_month(bind) if partitioned else None
    for table, name, _ in foreign_keys:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for table in HISTORY:
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
        op.execute(f"ALTER TABLE {table}_old RENAME CONSTRAINT pk_{table} TO pk_{table}_old")
        for name in _index_names(bind, f"{table}_old"):
            op.execute(f"DROP INDEX {name}")
    for table in HISTORY:
        clause = f" PARTITION BY RANGE ({PARTITION_KEY[table]})" if partitioned else ""
        op.execute(
            f"CREATE TABLE {table} (LIKE {table}_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
            f" INCLUDING COMMENTS INCLUDING STORAGE){clause}"
        )
        if comments[table] is not None:
            op.execute(f"COMMENT ON TABLE {table} IS {_literal(comments[table])}")
    if partitioned:
        op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id)")
        op.execute(
            "ALTER TABLE event_items ADD CONSTRAINT pk_event_items PRIMARY KEY (event_id, id)"
        )
        indexes = [d for d in indexes if " ix_event_items_event_id " not in d]
        indexes.append("CREATE INDEX ix_events_event_id ON events (event_id)")
    else:
        op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (id)")
        op.execute("ALTER TABLE events ADD CONSTRAINT uq_events_event_id UNIQUE (event_id)")
        op.execute("ALTER TABLE event_items ADD CONSTRAINT pk_event_items PRIMARY KEY (id)")
        indexes = [d for d in indexes if " ix_events_event_id " not in d]
        if not any(" ix_event_items_event_id " in d for d in indexes):
            indexes.append("CREATE INDEX ix_event_items_event_id ON event_items (event_id)")
    for definition in indexes:
        op.execute(definition)
    if partitioned:
        for month in _months(oldest, _this_month(), MONTHS_AHEAD):
            for table in HISTORY:
                _create_partition(table, month)
        for table in HISTORY:
            op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
            op.execute(f"ALTER TABLE {table}_default ENABLE ROW LEVEL SECURITY")
    for table in HISTORY:
        op.execute(f"INSERT INTO {table} SELECT * FROM {table}_old")
    for table in reversed(HISTORY):
        op.execute(f"DROP TABLE {table}_old")
    for table, name, definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for table in HISTORY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION udi_refuse_change()"
        )
    for table, using, check in policies:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant ON {table} USING ({using}) WITH CHECK ({check})")
    for table in HISTORY:
        _grant_restricted_role(table)
        op.execute(f"ANALYZE {table}")  # fresh tables have no statistics for the planner


def _foreign_keys(bind: sa.Connection) -> list[tuple[str, str, str]]:
    """(table, name, definition) of every foreign key from or to events and event_items,
    read before the rename (definitions name ``events``, not ``events_old``)."""
    rows = bind.execute(
        sa.text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)"
            " FROM pg_constraint c WHERE c.contype = 'f' AND c.conparentid = 0"
            " AND (c.conrelid = ANY(CAST(:tables AS regclass[]))"
            " OR c.confrelid = ANY(CAST(:tables AS regclass[])))"
            " ORDER BY 1, 2"
        ),
        {"tables": list(HISTORY)},
    )
    return [(table, name, definition) for table, name, definition in rows]


def _plain_indexes(bind: sa.Connection) -> list[str]:
    """CREATE INDEX statements of the indexes that back no constraint, by name."""
    rows = bind.execute(
        sa.text(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = ANY(CAST(:tables AS regclass[]))"
            " AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
            " ORDER BY c.relname"
        ),
        {"tables": list(HISTORY)},
    )
    # pg_get_indexdef writes "ON ONLY" for a partitioned table's index; a plain CREATE INDEX
    # on the new parent builds it on every partition.
    return [definition.replace(" ON ONLY ", " ON ") for (definition,) in rows]


def _index_names(bind: sa.Connection, table: str) -> list[str]:
    rows = bind.execute(
        sa.text(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = CAST(:t AS regclass)"
            " AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        ),
        {"t": table},
    )
    return [name for (name,) in rows]


def _policies(bind: sa.Connection) -> list[tuple[str, str, str]]:
    """(table, USING, WITH CHECK) of the ``tenant`` policies (migration 0009), if any."""
    rows = bind.execute(
        sa.text(
            "SELECT tablename, qual, with_check FROM pg_policies"
            " WHERE schemaname = current_schema() AND policyname = 'tenant'"
            " AND tablename = ANY(:tables) ORDER BY tablename"
        ),
        {"tables": list(HISTORY)},
    )
    return [(table, using, check or using) for table, using, check in rows]


def _table_comment(bind: sa.Connection, table: str) -> str | None:
    return bind.execute(
        sa.text("SELECT obj_description(CAST(:t AS regclass), 'pg_class')"), {"t": table}
    ).scalar_one()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _grant_restricted_role(table: str) -> None:
    """The restricted role of migration 0009 gets the app's privileges, when it exists."""
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{RLS_ROLE}') THEN
                GRANT {TABLE_PRIVILEGES} ON {table} TO {RLS_ROLE};
            END IF;
        END
        $$
        """
    )


# --- Months as UUIDv7 ranges --------------------------------------------------------------------


def _this_month() -> date:
    today = datetime.now(UTC).date()
    return today.replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _uuid7_floor(month: date) -> uuid.UUID:
    """The smallest UUIDv7 of the month's first millisecond (UTC)."""
    ms = int(datetime(month.year, month.month, 1, tzinfo=UTC).timestamp() * 1000)
    return uuid.UUID(int=ms << 80)


def _month_of(server_id: uuid.UUID) -> date:
    ms = server_id.int >> 80
    return datetime.fromtimestamp(ms / 1000, UTC).date().replace(day=1)


def _oldest_month(bind: sa.Connection) -> date | None:
    """Month of the oldest event id at or after :data:`EARLIEST_MONTH`, if any."""
    oldest = bind.execute(
        sa.text("SELECT id FROM events WHERE id >= :floor ORDER BY id LIMIT 1"),
        {"floor": _uuid7_floor(EARLIEST_MONTH)},
    ).scalar_one_or_none()
    return _month_of(oldest) if oldest is not None else None


def _months(oldest: date | None, this_month: date, ahead: int) -> list[date]:
    month = min(oldest, this_month) if oldest is not None else this_month
    last = this_month
    for _ in range(ahead):
        last = _next_month(last)
    months = []
    while month <= last:
        months.append(month)
        month = _next_month(month)
    return months


def _create_partition(table: str, month: date) -> None:
    name = f"{table}_p{month:%Y%m}"
    low, high = _uuid7_floor(month), _uuid7_floor(_next_month(month))
    op.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{low}') TO ('{high}')")
    # Read through the parent, the parent's policy applies; read directly, nothing does, so
    # row-level security without a policy keeps the restricted role out of the partition.
    op.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")


# --- SQLite ---------------------------------------------------------------------------------


_UNIQUE_EVENT_ID = re.compile(r",\s*CONSTRAINT uq_events_event_id UNIQUE \(event_id\)")
_PRIMARY_KEY_OF_ITEMS = re.compile(r"CONSTRAINT pk_event_items PRIMARY KEY \([^)]*\)")


def _rebuild_sqlite(bind: sa.Connection, *, partitioned: bool) -> None:
    """SQLite keeps plain tables: drop (or restore) the UNIQUE on events.event_id and change
    event_items' primary key, by copy, drop, re-create under the same name and copy back.

    Foreign keys are on and cannot be switched off inside the migration's transaction, so
    they are deferred to the commit: dropping ``events`` counts its referencing rows as
    violations, and inserting the rows back into a table of the same name counts them off.
    """
    op.execute("PRAGMA defer_foreign_keys = ON")
    for table in HISTORY:
        create = _sqlite_sql(bind, "table", table)[0]
        if table == "events":
            if partitioned:
                create = _UNIQUE_EVENT_ID.sub("", create)
            elif "uq_events_event_id" not in create:
                create = create.rstrip().rstrip(")").rstrip() + (
                    ", \n\tCONSTRAINT uq_events_event_id UNIQUE (event_id)\n)"
                )
        else:
            key = "(event_id, id)" if partitioned else "(id)"
            create = _PRIMARY_KEY_OF_ITEMS.sub(
                f"CONSTRAINT pk_event_items PRIMARY KEY {key}", create
            )
        indexes = _sqlite_sql(bind, "index", table)
        if table == "events" and partitioned:
            indexes.append("CREATE INDEX ix_events_event_id ON events (event_id)")
        elif table == "events":
            indexes = [i for i in indexes if " ix_events_event_id " not in i]
        elif partitioned:
            indexes = [i for i in indexes if " ix_event_items_event_id " not in i]
        else:
            indexes.append("CREATE INDEX ix_event_items_event_id ON event_items (event_id)")
        op.execute(f"CREATE TEMPORARY TABLE {table}_copy AS SELECT * FROM {table}")
        op.execute(f"DROP TABLE {table}")  # its indexes and triggers go with it
        op.execute(create)
        op.execute(f"INSERT INTO {table} SELECT * FROM {table}_copy")
        op.execute(f"DROP TABLE {table}_copy")
        for definition in indexes:
            op.execute(definition)
        _sqlite_triggers(table)


def _sqlite_sql(bind: sa.Connection, kind: str, table: str) -> list[str]:
    rows = bind.execute(
        sa.text(
            "SELECT sql FROM sqlite_master WHERE type = :kind AND tbl_name = :table"
            " AND sql IS NOT NULL ORDER BY name"
        ),
        {"kind": kind, "table": table},
    )
    return [sql for (sql,) in rows]


def _sqlite_triggers(table: str) -> None:
    """The append-only triggers of migration 0003, as SQLite writes them."""
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN SELECT RAISE(ABORT, 'Expected no {verb} on append-only table"
            f" {table}, got one.'); END"
        )
