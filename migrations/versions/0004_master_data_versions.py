"""Versions of organisations, warehouses, locations, entrustment agreements and devices.

One append-only table holds every version of each record (the first included) as a JSON
snapshot; the record's own table keeps its current state under a stable id
(docs/decisions/0004-master-data-versions.md). Existing rows get their first version here:
in effect from the agreement's ``valid_from``, or else from the day (China time) the row was
created.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ENTITIES = {
    "organisation": "organisations",
    "warehouse": "warehouses",
    "location": "locations",
    "entrustment_agreement": "entrustment_agreements",
    "device": "devices",
}
UUID_COLUMNS = (
    "id",
    "entity_id",
    "supersedes",
    "recorded_by",
    "operator_id",
    "warehouse_id",
    "client_id",
    "provider_id",
    "registrant_id",
    "agreement_id",
)
CHINA = timezone(timedelta(hours=8))


def upgrade():
    op.create_table(
        "master_data_versions",
        sa.Column("id", sa.Uuid(), nullable=False, comment="id of this version"),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column(
            "entity_id",
            sa.Uuid(),
            nullable=False,
            comment="id of the record, stable across versions",
        ),
        sa.Column("version", sa.Integer(), nullable=False, comment="1, 2, ... per record"),
        sa.Column("supersedes", sa.Uuid(), nullable=True),
        sa.Column(
            "effective_from",
            sa.Date(),
            nullable=False,
            comment="first day this version applies",
        ),
        sa.Column(
            "data",
            sa.JSON(),
            nullable=False,
            comment="every field of the record in this version",
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_by",
            sa.Uuid(),
            nullable=True,
            comment="api_tokens.id; null: system, migration",
        ),
        sa.CheckConstraint(
            "entity IN ('organisation', 'warehouse', 'location', 'entrustment_agreement',"
            " 'device')",
            name=op.f("ck_master_data_versions_entity_known"),
        ),
        sa.CheckConstraint(
            "(version = 1) = (supersedes IS NULL)",
            name=op.f("ck_master_data_versions_first_supersedes_nothing"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_master_data_versions_version_positive")),
        sa.ForeignKeyConstraint(
            ["supersedes"],
            ["master_data_versions.id"],
            name=op.f("fk_master_data_versions_supersedes_master_data_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_master_data_versions")),
        sa.UniqueConstraint(
            "entity",
            "entity_id",
            "version",
            name=op.f("uq_master_data_versions_entity_entity_id_version"),
        ),
        sa.UniqueConstraint("supersedes", name=op.f("uq_master_data_versions_supersedes")),
        comment="append-only history of organisations, warehouses, locations, agreements, devices",
    )
    _backfill()


def downgrade():
    op.drop_table("master_data_versions")


def _backfill():
    """Give every existing record its first version, built from its current row."""
    bind = op.get_bind()
    meta = sa.MetaData()
    versions = _reflect(bind, meta, "master_data_versions")
    links = _reflect(bind, meta, "agreement_warehouses")
    named = {}
    for link in bind.execute(sa.select(links)).mappings():
        named.setdefault(link["agreement_id"], []).append(str(link["warehouse_id"]))
    now = datetime.now(UTC)
    for entity, table_name in ENTITIES.items():
        table = _reflect(bind, meta, table_name)
        rows = bind.execute(sa.select(table)).mappings().all()
        firsts = []
        for row in rows:
            data = {k: _json(v) for k, v in row.items() if k not in ("id", "created_at")}
            if entity == "entrustment_agreement":
                data["warehouse_ids"] = sorted(named.get(row["id"], []))
                effective_from = row["valid_from"]
            else:
                effective_from = _china_date(row["created_at"])
            firsts.append(
                {
                    "id": uuid.uuid4(),
                    "entity": entity,
                    "entity_id": row["id"],
                    "version": 1,
                    "supersedes": None,
                    "effective_from": effective_from,
                    "data": data,
                    "recorded_at": now,
                    "recorded_by": None,
                }
            )
        if firsts:
            bind.execute(versions.insert(), firsts)


def _reflect(bind, meta, name):
    # SQLite reflects UUIDs as CHAR(32): name the uuid columns so values stay uuid.UUID.
    inspector = sa.inspect(bind)
    present = {column["name"] for column in inspector.get_columns(name)}
    keys = set(inspector.get_pk_constraint(name)["constrained_columns"])
    uuids = [sa.Column(c, sa.Uuid(), primary_key=c in keys) for c in UUID_COLUMNS if c in present]
    return sa.Table(name, meta, *uuids, autoload_with=bind, resolve_fks=False)


def _china_date(moment):
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).date()


def _json(value):
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
