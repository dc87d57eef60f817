"""EPCIS events recorded as sent: captured events our movements cannot apply (docs/epcis.md).

``epcis_recorded_events`` keeps each such event verbatim (its JSON, the document's
``@context``, the eventID, type, time and offset, the capturing organisation, when it was
received and why it was not applied); ``epcis_recorded_items`` indexes the GS1 keys it names
for the DI, lot, serial and SSCC filters of ``GET /api/v1/epcis/events``. Both are append-only
like ``events`` (migration 0003's triggers). On PostgreSQL a row-level-security ``tenant``
policy like migrations 0009/0011: a row is the capturing organisation's (items through their
event), or the transaction bypasses (admins, regulators, whose jurisdiction the application
filters). The restricted role has privileges through 0009's default privileges.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = ("epcis_recorded_events", "epcis_recorded_items")
POLICIES = {
    "epcis_recorded_events": "org_id = udi_rls_org()",
    "epcis_recorded_items": (
        "EXISTS (SELECT 1 FROM epcis_recorded_events r"
        " WHERE r.id = epcis_recorded_items.recorded_id)"
    ),
}


def upgrade():
    op.create_table(
        "epcis_recorded_events",
        sa.Column("id", sa.Uuid(), nullable=False, comment="UUIDv7, server-assigned"),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="the capturing organisation"),
        sa.Column(
            "event_id",
            sa.Uuid(),
            nullable=False,
            comment="uuid of the eventID (uuid5 unless urn:uuid)",
        ),
        sa.Column("epcis_event_id", sa.String(), nullable=False, comment="the eventID as sent"),
        sa.Column(
            "event_type", sa.String(length=40), nullable=False, comment="EPCIS type, e.g. ObjectEvent"
        ),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False, comment="UTC"),
        sa.Column(
            "event_time_offset", sa.String(length=6), nullable=False, comment="e.g. +08:00"
        ),
        sa.Column(
            "biz_step", sa.String(), nullable=True, comment="CBV short name, else the URI as sent"
        ),
        sa.Column(
            "disposition",
            sa.String(),
            nullable=True,
            comment="CBV short name, else the URI as sent",
        ),
        sa.Column("read_point_id", sa.Uuid(), nullable=True, comment="resolved"),
        sa.Column("location_id", sa.Uuid(), nullable=True, comment="bizLocation"),
        sa.Column(
            "declared_event_id",
            sa.Uuid(),
            nullable=True,
            comment="event_id an errorDeclaration names",
        ),
        sa.Column("reason", sa.String(length=60), nullable=False, comment="epcis.not_applied.*"),
        sa.Column("reason_detail", sa.String(), nullable=False),
        sa.Column(
            "reason_field", sa.String(), nullable=False, comment="JSON pointer into the document"
        ),
        sa.Column("context", sa.JSON(), nullable=True, comment="the document's @context"),
        sa.Column("body", sa.JSON(), nullable=False, comment="the event as received"),
        sa.Column(
            "content_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256, recordTime left out",
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "reason LIKE 'epcis.not_applied.%'",
            name=op.f("ck_epcis_recorded_events_reason_not_applied"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_epcis_recorded_events_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_epcis_recorded_events_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["read_point_id"],
            ["locations.id"],
            name=op.f("fk_epcis_recorded_events_read_point_id_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_recorded_events")),
        sa.UniqueConstraint(
            "org_id", "event_id", name=op.f("uq_epcis_recorded_events_org_id_event_id")
        ),
        comment="append-only: UPDATE and DELETE are refused by triggers",
    )
    for column in ("event_id", "event_time", "location_id", "read_point_id"):
        op.create_index(
            op.f(f"ix_epcis_recorded_events_{column}"), "epcis_recorded_events", [column]
        )
    op.create_table(
        "epcis_recorded_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recorded_id", sa.Uuid(), nullable=False),
        sa.Column("di", sa.String(length=14), nullable=True),
        sa.Column("serial", sa.String(), nullable=True),
        sa.Column("lot", sa.String(), nullable=True),
        sa.Column("sscc", sa.String(length=18), nullable=True),
        sa.CheckConstraint(
            "di IS NOT NULL OR sscc IS NOT NULL", name=op.f("ck_epcis_recorded_items_di_or_sscc")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_id"],
            ["epcis_recorded_events.id"],
            name=op.f("fk_epcis_recorded_items_recorded_id_epcis_recorded_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_recorded_items")),
        comment=(
            "the GS1 keys a recorded event names, for the DI/lot/serial/SSCC filters; append-only"
        ),
    )
    for columns in (["recorded_id"], ["di", "serial"], ["di", "lot"], ["sscc"]):
        op.create_index(
            op.f(f"ix_epcis_recorded_items_{'_'.join(columns)}"), "epcis_recorded_items", columns
        )
    _append_only_triggers()
    _row_level_security()


def _append_only_triggers():
    # udi_refuse_change() is migration 0003's trigger function on PostgreSQL.
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION udi_refuse_change()"
            )
        return
    for table in TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
                f" BEGIN SELECT RAISE(ABORT, 'Expected no {verb} on append-only table"
                f" {table}, got one.'); END"
            )


def _row_level_security():
    # udi_rls_org() and udi_rls_bypass() are migration 0009's helpers.
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, condition in POLICIES.items():
        rule = f"udi_rls_bypass() OR {condition}"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant ON {table} USING ({rule}) WITH CHECK ({rule})")


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in reversed(TABLES):
        if postgresql:
            op.execute(f"DROP POLICY IF EXISTS tenant ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    op.drop_table("epcis_recorded_items")
    op.drop_table("epcis_recorded_events")
