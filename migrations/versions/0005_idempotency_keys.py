"""Idempotency keys: the stored first response to a POST, replayed for a repeated key.

One row per (organisation, key), claimed in flight before the view runs and completed with
the response's status, Content-Type, Location and body after it (warehouse/web/idempotency.py).
Rows are bookkeeping, not business data: a 5xx deletes its row, and rows past ``expires_at``
may be pruned.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "key", sa.String(length=255), nullable=False, comment="Idempotency-Key, unquoted"
        ),
        sa.Column(
            "token_id", sa.Uuid(), nullable=True, comment="api_tokens.id of the first request"
        ),
        sa.Column(
            "fingerprint",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256: method, path, query, body",
        ),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column(
            "response_headers",
            sa.JSON(),
            nullable=True,
            comment="Content-Type and Location to replay",
        ),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state = 'in_flight' OR response_status IS NOT NULL",
            name=op.f("ck_idempotency_keys_completed_has_status"),
        ),
        sa.CheckConstraint(
            "state IN ('in_flight', 'completed')", name=op.f("ck_idempotency_keys_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_idempotency_keys_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint(
            "organisation_id", "key", name=op.f("uq_idempotency_keys_organisation_id_key")
        ),
        comment="responses to POSTs replayed for a repeated Idempotency-Key; rows may be pruned",
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"])


def downgrade():
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
