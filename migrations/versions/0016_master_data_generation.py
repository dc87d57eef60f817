"""A generation stamp that changes with every write to master data, for caching decisions.

``master_data_generation`` holds one row whose ``value`` is replaced by a new random value by
a trigger after any INSERT, UPDATE or DELETE on a master-data table (organisations,
warehouses and locations, licences, ownership links, entrustment agreements, the device
catalogue and the dated versions of all of them). A process may then reuse what it derived
from master data — custody decisions (warehouse/services/custody.py) — for as long as it reads
the same value: one indexed read replaces the eight a custody check costs. Random, not a
counter, because a rolled-back transaction's counter value would be taken again by the next
writer, and a decision made inside the rolled-back transaction could then be reused.

PostgreSQL: a constraint trigger per table, DEFERRABLE INITIALLY DEFERRED, so the value is
replaced at commit time (once per written row: a bulk catalogue import of 10,000 rows pays
that many small updates at its commit). Replaced at the first write instead, the one row would
stay locked for the rest of the writing transaction: every organisation's master-data writes
would queue behind any open one, and two writers touching the same records in different orders
would deadlock on it. Readers see the new value exactly when they see the new master data (the
same commit). The test suite, whose transactions are rolled back rather than committed, sets
the trigger IMMEDIATE (tests/conftest.py). SQLite (one writer at a time) has neither problem: a
row trigger per table and operation.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

MASTER_TABLES = (
    "organisations",
    "warehouses",
    "locations",
    "licences",
    "licence_warehouses",
    "ownership_links",
    "entrustment_agreements",
    "agreement_warehouses",
    "devices",
    "device_certificates",
    "device_packages",
    "master_data_versions",
)
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def upgrade():
    generation = op.create_table(
        "master_data_generation",
        sa.Column("id", sa.Integer(), nullable=False, comment="always 1: one row"),
        sa.Column("value", sa.String(length=32), nullable=False, comment="random, hex"),
        sa.CheckConstraint("id = 1", name=op.f("ck_master_data_generation_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_master_data_generation")),
        comment="replaced by triggers on every master-data write (migration 0016)",
    )
    op.bulk_insert(generation, [{"id": 1, "value": uuid.uuid4().hex}])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _postgresql_triggers():
    op.execute(
        """
        CREATE FUNCTION udi_bump_master_data_generation() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE master_data_generation SET value = md5(random()::text || clock_timestamp())
            WHERE id = 1;
            RETURN NULL;
        END
        $$
        """
    )
    for table in MASTER_TABLES:
        op.execute(
            "CREATE CONSTRAINT TRIGGER master_data_generation"
            f" AFTER INSERT OR UPDATE OR DELETE ON {table} DEFERRABLE INITIALLY DEFERRED"
            " FOR EACH ROW EXECUTE FUNCTION udi_bump_master_data_generation()"
        )


def _sqlite_triggers():
    for table in MASTER_TABLES:
        for operation in OPERATIONS:
            op.execute(
                f"CREATE TRIGGER master_data_generation_{table}_{operation.lower()}"
                f" AFTER {operation} ON {table} BEGIN"
                " UPDATE master_data_generation SET value = lower(hex(randomblob(16)))"
                " WHERE id = 1; END"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in MASTER_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS master_data_generation ON {table}")
        op.execute("DROP FUNCTION IF EXISTS udi_bump_master_data_generation()")
    else:
        for table in MASTER_TABLES:
            for operation in OPERATIONS:
                op.execute(
                    f"DROP TRIGGER IF EXISTS master_data_generation_{table}_{operation.lower()}"
                )
    op.drop_table("master_data_generation")
