"""Traces: find the error declaration and the correcting events of an event by index.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_events_declared_event_id", "events", ["declared_event_id"])
    op.create_index("ix_events_corrects_event_id", "events", ["corrects_event_id"])


def downgrade():
    op.drop_index("ix_events_corrects_event_id", table_name="events")
    op.drop_index("ix_events_declared_event_id", table_name="events")
