"""The schema, written out once: every table, constraint and index on one ``MetaData``.

Constraint names follow a naming convention so that Alembic can always address them
(``uq_<table>_<col>_<col>`` rather than a name chosen by the database).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

organisations = Table(
    "organisations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("credit_code", String(18), nullable=False, unique=True),
    Column("roles", JSON, nullable=False, comment="list of organisation roles"),
    Column("jurisdiction", String(6), nullable=False, comment="GB/T 2260 division code"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("length(jurisdiction) = 6", name="jurisdiction_six_digits"),
)
Index(None, organisations.c.jurisdiction)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False, comment="first characters, shown in listings"),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("roles", JSON, nullable=False),
    Column("jurisdiction", String(6), nullable=True, comment="regulators: division code prefix"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
)
Index(None, api_tokens.c.organisation_id)
