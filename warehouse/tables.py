"""The schema, written out once: every table, constraint and index on one ``MetaData``.

Constraint names follow a naming convention so that Alembic can always address them
(``uq_<table>_<col>_<col>`` rather than a name chosen by the database).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    Uuid,
)

from warehouse.domain.licences import DeviceClass, LicenceKind
from warehouse.domain.warehouses import LocationPurpose, WarehouseKind

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


def _one_of(column: str, values: Iterable[str]) -> str:
    """SQL for a CHECK that ``column`` holds one of the enumeration's values."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


_PERIOD = "valid_to IS NULL OR valid_from <= valid_to"
_CLASSES = [c.value for c in DeviceClass]

# --- Licences and filings: one row per version, never updated -------------------------------

licences = Table(
    "licences",
    metadata,
    Column("id", Uuid, primary_key=True, comment="id of this version"),
    Column(
        "licence_id",
        Uuid,
        ForeignKey("licences.id"),
        nullable=False,
        comment="id of the chain: the first version's id",
    ),
    Column("supersedes", Uuid, ForeignKey("licences.id"), nullable=True, unique=True),
    Column("holder_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("number", String(100), nullable=False),
    Column("scope", JSON, nullable=False, comment="list of {device_class, category}"),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True, comment="last valid day, inclusive"),
    Column("effective_from", Date, nullable=False, comment="first day this version applies"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_one_of("kind", [k.value for k in LicenceKind]), name="kind_known"),
    CheckConstraint(_PERIOD, name="period_ordered"),
)
Index(None, licences.c.holder_id)
Index(None, licences.c.licence_id)

# --- Warehouses and locations -----------------------------------------------------------------

warehouses = Table(
    "warehouses",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("operator_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("name", String(200), nullable=False),
    Column("address", String(500), nullable=False),
    Column("jurisdiction", String(6), nullable=False, comment="GB/T 2260 division code"),
    Column("kind", String(40), nullable=False),
    Column("min_celsius", Numeric(5, 1), nullable=True),
    Column("max_celsius", Numeric(5, 1), nullable=True),
    Column("max_relative_humidity", Integer, nullable=True, comment="percent"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_one_of("kind", [k.value for k in WarehouseKind]), name="kind_known"),
    CheckConstraint("length(jurisdiction) = 6", name="jurisdiction_six_digits"),
    CheckConstraint(
        "min_celsius IS NULL OR max_celsius IS NULL OR min_celsius <= max_celsius",
        name="temperature_range_ordered",
    ),
    CheckConstraint(
        "max_relative_humidity IS NULL OR max_relative_humidity BETWEEN 0 AND 100",
        name="humidity_percent",
    ),
    UniqueConstraint("operator_id", "name"),
)
Index(None, warehouses.c.jurisdiction)

locations = Table(
    "locations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=False),
    Column("zone", String(40), nullable=False),
    Column("aisle", String(40), nullable=True),
    Column("bin", String(40), nullable=True),
    Column("code", String(130), nullable=False, comment="zone-aisle-bin, unique per warehouse"),
    Column("purpose", String(20), nullable=False),
    Column("department", String(100), nullable=True, comment="hospital department (科室)"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_one_of("purpose", [p.value for p in LocationPurpose]), name="purpose_known"),
    CheckConstraint("bin IS NULL OR aisle IS NOT NULL", name="bin_needs_aisle"),
    UniqueConstraint("warehouse_id", "code"),
)

licence_warehouses = Table(
    "licence_warehouses",
    metadata,
    Column("licence_version_id", Uuid, ForeignKey(licences.c.id), primary_key=True),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), primary_key=True),
    comment="warehouse addresses registered on a licence version (库房地址)",
)
Index(None, licence_warehouses.c.warehouse_id)

# --- Ownership links: versioned like licences; ending a link adds a version -----------------

ownership_links = Table(
    "ownership_links",
    metadata,
    Column("id", Uuid, primary_key=True, comment="id of this version"),
    Column("link_id", Uuid, ForeignKey("ownership_links.id"), nullable=False),
    Column("supersedes", Uuid, ForeignKey("ownership_links.id"), nullable=True, unique=True),
    Column("parent_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("child_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("share", Numeric(5, 2), nullable=False, comment="percent of the child's equity"),
    Column("declared_control", Boolean, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True, comment="last day of the holding, inclusive"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("share > 0 AND share <= 100", name="share_percent"),
    CheckConstraint("parent_id <> child_id", name="not_self_owned"),
    CheckConstraint(_PERIOD, name="period_ordered"),
)
Index(None, ownership_links.c.parent_id)
Index(None, ownership_links.c.child_id)
Index(None, ownership_links.c.link_id)

# --- Entrustment agreements ---------------------------------------------------------------------

entrustment_agreements = Table(
    "entrustment_agreements",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("client_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("provider_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("number", String(100), nullable=True, comment="agreement number, as signed"),
    Column("classes", JSON, nullable=False, comment="device classes covered"),
    Column("services", JSON, nullable=False, comment="storage and/or transport"),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("client_id <> provider_id", name="two_parties"),
    CheckConstraint(_PERIOD, name="period_ordered"),
)
Index(None, entrustment_agreements.c.client_id)
Index(None, entrustment_agreements.c.provider_id)

agreement_warehouses = Table(
    "agreement_warehouses",
    metadata,
    Column("agreement_id", Uuid, ForeignKey(entrustment_agreements.c.id), primary_key=True),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), primary_key=True),
)
Index(None, agreement_warehouses.c.warehouse_id)

# --- Device catalogue -----------------------------------------------------------------------------

devices = Table(
    "devices",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("di", String(100), nullable=False, unique=True, comment="UDI-DI as issued"),
    Column("issuer", String(10), nullable=False, comment="gs1, hibc or ma"),
    Column("name", String(300), nullable=False),
    Column("model_spec", String(300), nullable=False),
    Column("device_class", String(10), nullable=False),
    Column("category", String(20), nullable=True, comment="classification catalogue code"),
    Column("registrant_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("implantable", Boolean, nullable=False),
    Column("label_lot", Boolean, nullable=False),
    Column("label_serial", Boolean, nullable=False),
    Column("label_production_date", Boolean, nullable=False),
    Column("label_expiry_date", Boolean, nullable=False),
    Column("min_celsius", Numeric(5, 1), nullable=True),
    Column("max_celsius", Numeric(5, 1), nullable=True),
    Column("max_relative_humidity", Integer, nullable=True),
    Column("insurance_code", String(40), nullable=True, comment="医保耗材编码"),
    Column("regimes", JSON, nullable=False, comment="special regime tags"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_one_of("issuer", ["gs1", "hibc", "ma"]), name="issuer_known"),
    CheckConstraint(_one_of("device_class", _CLASSES), name="device_class_known"),
    CheckConstraint(
        "min_celsius IS NULL OR max_celsius IS NULL OR min_celsius <= max_celsius",
        name="temperature_range_ordered",
    ),
)
Index(None, devices.c.registrant_id)

device_certificates = Table(
    "device_certificates",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("device_id", Uuid, ForeignKey(devices.c.id), nullable=False),
    Column("supersedes", Uuid, ForeignKey("device_certificates.id"), nullable=True, unique=True),
    Column("number", String(100), nullable=False, comment="注册证编号/备案编号"),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Column("effective_from", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_PERIOD, name="period_ordered"),
)
Index(None, device_certificates.c.device_id)

device_packages = Table(
    "device_packages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("device_id", Uuid, ForeignKey(devices.c.id), nullable=False),
    Column("package_di", String(100), nullable=False, unique=True),
    Column("content_di", String(100), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("level", String(40), nullable=True, comment="包装级别 as published"),
    CheckConstraint("quantity >= 1", name="quantity_positive"),
    CheckConstraint("package_di <> content_di", name="not_self_contained"),
)
Index(None, device_packages.c.device_id)
