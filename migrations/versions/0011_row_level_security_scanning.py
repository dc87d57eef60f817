"""Row-level security on the scanning tables: devices, scans, scan exceptions, stock counts.

Same ``tenant`` policy as migration 0009 (whose helpers ``udi_rls_org()`` and
``udi_rls_bypass()`` it reuses): a row is visible and writable to its own organisation, or
when the transaction bypasses. Every one of these rows belongs to exactly one organisation.
The restricted role already has privileges on them (0009's default privileges).
On SQLite this migration does nothing.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCANNING_TABLES = ("scanner_devices", "scans", "scan_exceptions", "stock_counts")
POLICIES = dict.fromkeys(SCANNING_TABLES, "organisation_id = udi_rls_org()")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, condition in POLICIES.items():
        rule = f"udi_rls_bypass() OR {condition}"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant ON {table} USING ({rule}) WITH CHECK ({rule})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS tenant ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
