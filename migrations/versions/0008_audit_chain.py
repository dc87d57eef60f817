"""Tamper evidence: per-batch Merkle roots hash-chained (docs/audit-and-records.md).

``audit_batches`` holds one sealed batch per row (sequence, Merkle root, previous hash, batch
hash and the (event id, leaf hash) entries); it is append-only like ``events``, through the
same triggers. ``audit_head`` is the one row every sealing transaction locks, created here at
sequence 0. Events recorded before this migration are not sealed: the verifier reports them
as ``audit.unsealed_event`` until ``POST /api/v1/audit/seal-backlog`` seals them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade():
    op.create_index(op.f("ix_events_batch_id"), "events", ["batch_id"])
    op.create_table(
        "audit_batches",
        sa.Column(
            "sequence", sa.Integer(), autoincrement=False, nullable=False, comment="1, 2, ..."
        ),
        sa.Column("batch_id", sa.Uuid(), nullable=False, comment="events.batch_id"),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column(
            "merkle_root",
            sa.String(length=64),
            nullable=False,
            comment="RFC 9162 tree over the leaves",
        ),
        sa.Column(
            "prev_hash", sa.String(length=64), nullable=False, comment="batch_hash of sequence - 1"
        ),
        sa.Column("batch_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "entries", sa.LargeBinary(), nullable=False, comment="(event id, leaf hash) x count"
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("event_count >= 1", name=op.f("ck_audit_batches_event_count_positive")),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_audit_batches")),
        sa.UniqueConstraint("batch_hash", name=op.f("uq_audit_batches_batch_hash")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_audit_batches_batch_id")),
        comment="append-only: UPDATE and DELETE are refused by triggers",
    )
    head = op.create_table(
        "audit_head",
        sa.Column(
            "chain", sa.String(length=20), nullable=False, comment="'events': one global chain"
        ),
        sa.Column(
            "sequence", sa.Integer(), nullable=False, comment="last sealed batch; 0 before any"
        ),
        sa.Column("batch_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_head")),
        comment="the chain's head, locked FOR UPDATE by each sealing transaction",
    )
    op.bulk_insert(
        head,
        [
            {
                "chain": "events",
                "sequence": 0,
                "batch_hash": GENESIS,
                "updated_at": datetime.now(UTC),
            }
        ],
    )
    _append_only_trigger()


def _append_only_trigger():
    # udi_refuse_change() is migration 0003's trigger function on PostgreSQL.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_batches_append_only BEFORE UPDATE OR DELETE ON audit_batches"
            " FOR EACH ROW EXECUTE FUNCTION udi_refuse_change()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_batches_no_{verb.lower()} BEFORE {verb} ON audit_batches"
            f" BEGIN SELECT RAISE(ABORT, 'Expected no {verb} on append-only table"
            " audit_batches, got one.'); END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_batches_append_only ON audit_batches")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_batches_no_{verb}")
    op.drop_table("audit_head")
    op.drop_table("audit_batches")
    op.drop_index(op.f("ix_events_batch_id"), table_name="events")
