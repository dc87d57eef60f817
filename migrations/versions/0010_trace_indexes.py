"""Trace: find the unpacking of a whole container (an aggregation event without items).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_events_parent_sscc", "events", ["parent_sscc"])


def downgrade():
    op.drop_index("ix_events_parent_sscc", table_name="events")
