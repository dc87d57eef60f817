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
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    Uuid,
)

from warehouse.domain.licences import DeviceClass, LicenceKind
from warehouse.domain.movements import IN_STOCK, STORED_STATUSES, BizStep, Disposition
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

# --- Versions of the other master data (docs/decisions/0004-master-data-versions.md) ---------

VERSIONED_ENTITIES = ("organisation", "warehouse", "location", "entrustment_agreement", "device")
"""Records whose current state is one row of their own table and whose versions are here."""

master_data_versions = Table(
    "master_data_versions",
    metadata,
    Column("id", Uuid, primary_key=True, comment="id of this version"),
    Column("entity", String(40), nullable=False),
    Column("entity_id", Uuid, nullable=False, comment="id of the record, stable across versions"),
    Column("version", Integer, nullable=False, comment="1, 2, ... per record"),
    Column("supersedes", Uuid, ForeignKey("master_data_versions.id"), nullable=True, unique=True),
    Column("effective_from", Date, nullable=False, comment="first day this version applies"),
    Column("data", JSON, nullable=False, comment="every field of the record in this version"),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", Uuid, nullable=True, comment="api_tokens.id; null: system, migration"),
    CheckConstraint(_one_of("entity", VERSIONED_ENTITIES), name="entity_known"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint("(version = 1) = (supersedes IS NULL)", name="first_supersedes_nothing"),
    UniqueConstraint("entity", "entity_id", "version"),
    comment="append-only history of organisations, warehouses, locations, agreements, devices",
)

# --- Movement events (append-only) and their projections ------------------------------------

_STEPS = [s.value for s in BizStep]
_DISPOSITIONS = [d.value for d in Disposition]
_STORED = sorted(s.value for s in STORED_STATUSES)
_IN_STOCK = sorted(s.value for s in IN_STOCK)

shipments = Table(
    "shipments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("shipping_event_id", Uuid, nullable=False, unique=True, comment="events.id"),
    Column("from_org_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("from_warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=True),
    Column("destination_party_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("destination_warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=True),
    Column("despatch_ref", String(100), nullable=True, comment="desadv number (随货同行单)"),
    Column("status", String(20), nullable=False),
    Column("shipped_at", DateTime(timezone=True), nullable=False),
    Column("received_event_id", Uuid, nullable=True, comment="events.id of the receipt"),
    CheckConstraint(_one_of("status", ["in_transit", "received"]), name="status_known"),
)
Index(None, shipments.c.destination_party_id)

shipment_items = Table(
    "shipment_items",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("shipment_id", Uuid, ForeignKey(shipments.c.id), nullable=False),
    Column("di", String(100), nullable=False),
    Column("lot", String(100), nullable=False, comment="'' when the label has no lot"),
    Column("serial", String(100), nullable=True),
    Column("quantity", Integer, nullable=False),
    Column("expiry", Date, nullable=True),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)
Index(None, shipment_items.c.shipment_id)

events = Table(
    "events",
    metadata,
    Column("id", Uuid, primary_key=True, comment="UUIDv7, server-assigned"),
    Column("event_id", Uuid, nullable=False, comment="client-supplied, idempotent"),
    Column("event_type", String(20), nullable=False),
    Column("action", String(10), nullable=False),
    Column("biz_step", String(40), nullable=False),
    Column("disposition", String(40), nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False, comment="UTC"),
    Column("event_time_offset", String(6), nullable=False, comment="e.g. +08:00"),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("read_point_id", Uuid, ForeignKey(locations.c.id), nullable=True),
    Column("location_id", Uuid, ForeignKey(locations.c.id), nullable=True, comment="bizLocation"),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=True),
    Column("acting_org_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("staff_id", String(100), nullable=True),
    Column("scanner_device_id", String(100), nullable=True),
    Column("owner_id", Uuid, ForeignKey(organisations.c.id), nullable=True),
    Column("possessor_id", Uuid, ForeignKey(organisations.c.id), nullable=True),
    Column("source_party_id", Uuid, ForeignKey(organisations.c.id), nullable=True),
    Column("destination_party_id", Uuid, ForeignKey(organisations.c.id), nullable=True),
    Column("destination_warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=True),
    Column("shipment_id", Uuid, ForeignKey(shipments.c.id), nullable=True),
    Column("parent_sscc", String(18), nullable=True, comment="aggregation parent"),
    Column("documents", JSON, nullable=False, comment="list of {type, id}: po, desadv, inv"),
    Column("patient_ref", String(64), nullable=True, comment="pseudonymous patient id"),
    Column("encounter_ref", String(64), nullable=True, comment="pseudonymous encounter id"),
    Column("corrects_event_id", Uuid, ForeignKey("events.id"), nullable=True),
    Column("declared_event_id", Uuid, ForeignKey("events.id"), nullable=True),
    Column("error_reason", String(20), nullable=True),
    Column("event_hash", String(64), nullable=False, comment="SHA-256 of the canonical event"),
    Column("batch_id", Uuid, nullable=False),
    CheckConstraint(_one_of("event_type", ["object", "aggregation"]), name="type_known"),
    CheckConstraint(_one_of("action", ["ADD", "OBSERVE", "DELETE"]), name="action_known"),
    CheckConstraint(_one_of("biz_step", _STEPS), name="biz_step_known"),
    CheckConstraint(_one_of("disposition", _DISPOSITIONS), name="disposition_known"),
    CheckConstraint(
        "error_reason IS NULL OR error_reason IN ('did_not_occur', 'incorrect_data')",
        name="error_reason_known",
    ),
    comment="append-only: UPDATE and DELETE are refused by triggers",
    # Monthly partitions on PostgreSQL (migration 0013; ids are UUIDv7, so a month is an id
    # range); SQLite ignores this and keeps a plain table.
    postgresql_partition_by="RANGE (id)",
)
Index(None, events.c.event_id)  # not unique: a partitioned table cannot be (see event_keys)
Index(None, events.c.event_time)
Index(None, events.c.biz_step)
Index(None, events.c.location_id)
Index(None, events.c.acting_org_id)
Index(None, events.c.owner_id)
Index(None, events.c.declared_event_id)  # traces mark events declared erroneous
Index(None, events.c.corrects_event_id)  # and the events that corrected them
Index(None, events.c.parent_sscc)  # unit trace: a container's pack/unpack events (H2)

event_items = Table(
    "event_items",
    metadata,
    Column("id", Uuid, nullable=False),
    Column("event_id", Uuid, ForeignKey(events.c.id), nullable=False),
    Column("di", String(100), nullable=True),
    Column("serial", String(100), nullable=True),
    Column("lot", String(100), nullable=True),
    Column("quantity", Integer, nullable=False),
    Column("expiry", Date, nullable=True),
    Column("production_date", Date, nullable=True),
    Column("sscc", String(18), nullable=True, comment="a container moved as a whole"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("di IS NOT NULL OR sscc IS NOT NULL", name="di_or_sscc"),
    # The partition key must be in the primary key; it also serves "the items of an event".
    PrimaryKeyConstraint("event_id", "id"),
    comment="append-only: UPDATE and DELETE are refused by triggers",
    # Same months as the event (its server id), so an event and its items share a partition.
    postgresql_partition_by="RANGE (event_id)",
)
Index(None, event_items.c.di, event_items.c.serial)
Index(None, event_items.c.di, event_items.c.lot)
Index(None, event_items.c.sscc)

event_keys = Table(
    "event_keys",
    metadata,
    Column("event_id", Uuid, primary_key=True, comment="client-supplied, idempotent"),
    # No foreign key: Citus cannot enforce one between tables distributed on different columns.
    Column("id", Uuid, nullable=False, comment="events.id"),
    comment="append-only: the one place events.event_id is unique (events are partitioned)",
)

units = Table(
    "units",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("di", String(100), nullable=False),
    Column("serial", String(100), nullable=False),
    Column("lot", String(100), nullable=False, comment="'' when the label has no lot"),
    Column("expiry", Date, nullable=True),
    Column("production_date", Date, nullable=True),
    Column("owner_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("possessor_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=True),
    Column("location_id", Uuid, ForeignKey(locations.c.id), nullable=True),
    Column("status", String(20), nullable=False),
    Column("container_sscc", String(18), nullable=True),
    Column("shipment_id", Uuid, ForeignKey(shipments.c.id), nullable=True),
    Column("version", Integer, nullable=False, comment="compare-and-set counter"),
    Column("last_event_id", Uuid, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_one_of("status", _STORED), name="status_known"),
    UniqueConstraint("di", "serial"),
    comment="projection: serial-level current state",
)
Index(None, units.c.location_id)
Index(None, units.c.container_sscc)

stock = Table(
    "stock",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("possessor_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=False),
    Column("location_id", Uuid, ForeignKey(locations.c.id), nullable=False),
    Column("di", String(100), nullable=False),
    Column("lot", String(100), nullable=False, comment="'' when the label has no lot"),
    Column("status", String(20), nullable=False),
    Column("expiry", Date, nullable=True),
    Column("quantity", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    CheckConstraint(_one_of("status", _IN_STOCK), name="status_known"),
    UniqueConstraint("owner_id", "possessor_id", "location_id", "di", "lot", "status"),
    comment="projection: on-hand balances, serialised units included",
)
Index(None, stock.c.di, stock.c.lot)
Index(None, stock.c.location_id)
Index(None, stock.c.warehouse_id)

containers = Table(
    "containers",
    metadata,
    Column("sscc", String(18), primary_key=True),
    Column("possessor_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=True),
    Column("location_id", Uuid, ForeignKey(locations.c.id), nullable=True),
    Column("status", String(20), nullable=False),
    Column("last_event_id", Uuid, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_one_of("status", ["packed", "in_transit", "unpacked"]), name="status_known"),
    comment="projection: SSCC -> place",
)

discrepancies = Table(
    "discrepancies",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("shipment_id", Uuid, ForeignKey(shipments.c.id), nullable=False),
    Column("receiving_event_id", Uuid, ForeignKey(events.c.id), nullable=False),
    Column("organisation_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("di", String(100), nullable=False),
    Column("lot", String(100), nullable=False),
    Column("serial", String(100), nullable=True),
    Column("expected_di", String(100), nullable=True, comment="substitution: the DI shipped"),
    Column("expected_quantity", Integer, nullable=False),
    Column("received_quantity", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        _one_of("kind", ["short", "over", "substitution", "unexpected_unit"]), name="kind_known"
    ),
)
Index(None, discrepancies.c.shipment_id)
Index(None, discrepancies.c.organisation_id)

# --- Idempotency-Key bookkeeping (warehouse/web/idempotency.py) -------------------------------

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("key", String(255), nullable=False, comment="Idempotency-Key, unquoted"),
    Column("token_id", Uuid, nullable=True, comment="api_tokens.id of the first request"),
    Column("fingerprint", String(64), nullable=False, comment="SHA-256: method, path, query, body"),
    Column("state", String(20), nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("response_headers", JSON, nullable=True, comment="Content-Type and Location to replay"),
    Column("response_body", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_one_of("state", ["in_flight", "completed"]), name="state_known"),
    CheckConstraint(
        "state = 'in_flight' OR response_status IS NOT NULL", name="completed_has_status"
    ),
    UniqueConstraint("organisation_id", "key"),
    comment="responses to POSTs replayed for a repeated Idempotency-Key; rows may be pruned",
)
Index(None, idempotency_keys.c.expires_at)

# --- Recalls and the regulator query log (docs/recalls.md) ------------------------------------

RECALL_CLASSES = ("I", "II", "III")

recalls = Table(
    "recalls",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("di", String(100), nullable=False),
    Column("lots", JSON, nullable=False, comment="lots recalled as a whole"),
    Column("serials", JSON, nullable=False, comment="single serials recalled"),
    Column("reason", String(2000), nullable=False),
    Column("recall_class", String(3), nullable=False, comment="I, II or III (一级/二级/三级)"),
    Column("registrant_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("ordered_by_org_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("ordered_by_token_id", Uuid, nullable=True, comment="api_tokens.id; null: system"),
    Column("blast_radius", JSON, nullable=False, comment="where the goods were when ordered"),
    Column("held_quantity", Integer, nullable=False, comment="put on recall hold when ordered"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_one_of("recall_class", RECALL_CLASSES), name="recall_class_known"),
    CheckConstraint("held_quantity >= 0", name="held_not_negative"),
)
Index(None, recalls.c.di)
Index(None, recalls.c.registrant_id)

recall_holds = Table(
    "recall_holds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("recall_id", Uuid, ForeignKey(recalls.c.id), nullable=False),
    Column("batch_id", Uuid, nullable=False, comment="the sweep that placed the hold"),
    Column("event_id", Uuid, ForeignKey(events.c.id), nullable=False, comment="holding event"),
    Column("owner_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("possessor_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=False),
    Column("location_id", Uuid, ForeignKey(locations.c.id), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    UniqueConstraint("batch_id", "owner_id", "possessor_id", "location_id"),
    comment="one line per holder and location put on hold by a recall sweep",
)
Index(None, recall_holds.c.recall_id)

regulator_queries = Table(
    "regulator_queries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("token_id", Uuid, nullable=False, comment="api_tokens.id"),
    Column("organisation_id", Uuid, nullable=False),
    Column("jurisdiction", String(6), nullable=True),
    Column("method", String(10), nullable=False),
    Column("path", String(500), nullable=False),
    Column("query_args", JSON, nullable=False, comment="{name: [values]}"),
    Column("status", Integer, nullable=False, comment="HTTP status answered"),
    Column("result_count", Integer, nullable=True, comment="items answered; null: not a list"),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    comment="append-only log of every request made with a regulator token",
)
Index(None, regulator_queries.c.token_id)
Index(None, regulator_queries.c.requested_at)

# --- Tamper evidence: a hash chain of sealed event batches (docs/audit-and-records.md) --------

Index(None, events.c.batch_id)  # the verifier and inclusion proofs read a batch's events

audit_batches = Table(
    "audit_batches",
    metadata,
    Column("sequence", Integer, primary_key=True, autoincrement=False, comment="1, 2, ..."),
    Column("batch_id", Uuid, nullable=False, unique=True, comment="events.batch_id"),
    Column("event_count", Integer, nullable=False),
    Column("merkle_root", String(64), nullable=False, comment="RFC 9162 tree over the leaves"),
    Column("prev_hash", String(64), nullable=False, comment="batch_hash of sequence - 1"),
    Column("batch_hash", String(64), nullable=False, unique=True),
    Column("entries", LargeBinary, nullable=False, comment="(event id, leaf hash) x count"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("event_count >= 1", name="event_count_positive"),
    comment="append-only: UPDATE and DELETE are refused by triggers",
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("chain", String(20), primary_key=True, comment="'events': one global chain"),
    Column("sequence", Integer, nullable=False, comment="last sealed batch; 0 before any"),
    Column("batch_hash", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    comment="the chain's head, locked FOR UPDATE by each sealing transaction",
)
# Recalls match units and shipment lines by lot: the (di, serial) index does not serve that.
# di and lot never change on a unit, so this index keeps status updates HOT on PostgreSQL
# (migration 0007 also gives ``units`` a fillfactor of 50 for that; docs/recalls.md).
Index(None, units.c.di, units.c.lot)
Index(None, shipment_items.c.di, shipment_items.c.lot)


# --- EPCIS events recorded as sent (migration 0015; warehouse/services/epcis.py) ------------------
# Captured EPCIS events our movement model cannot apply (a TransformationEvent, a quantity in
# kilograms…), kept verbatim and exported back as sent. They never touch units or stock.
# Append-only like ``events``; on PostgreSQL the tenant is the capturing organisation.

epcis_recorded_events = Table(
    "epcis_recorded_events",
    metadata,
    Column("id", Uuid, primary_key=True, comment="UUIDv7, server-assigned"),
    Column(
        "org_id",
        Uuid,
        ForeignKey(organisations.c.id),
        nullable=False,
        comment="the capturing organisation",
    ),
    Column("event_id", Uuid, nullable=False, comment="uuid of the eventID (uuid5 unless urn:uuid)"),
    Column("epcis_event_id", String, nullable=False, comment="the eventID as sent"),
    Column("event_type", String(40), nullable=False, comment="EPCIS type, e.g. ObjectEvent"),
    Column("event_time", DateTime(timezone=True), nullable=False, comment="UTC"),
    Column("event_time_offset", String(6), nullable=False, comment="e.g. +08:00"),
    Column("biz_step", String, nullable=True, comment="CBV short name, else the URI as sent"),
    Column("disposition", String, nullable=True, comment="CBV short name, else the URI as sent"),
    Column("read_point_id", Uuid, ForeignKey(locations.c.id), nullable=True, comment="resolved"),
    Column("location_id", Uuid, ForeignKey(locations.c.id), nullable=True, comment="bizLocation"),
    Column("declared_event_id", Uuid, nullable=True, comment="event_id an errorDeclaration names"),
    Column("reason", String(60), nullable=False, comment="epcis.not_applied.*"),
    Column("reason_detail", String, nullable=False),
    Column("reason_field", String, nullable=False, comment="JSON pointer into the document"),
    Column("context", JSON, nullable=True, comment="the document's @context"),
    Column("body", JSON, nullable=False, comment="the event as received"),
    Column("content_hash", String(64), nullable=False, comment="SHA-256, recordTime left out"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("batch_id", Uuid, nullable=False),
    UniqueConstraint("org_id", "event_id"),
    CheckConstraint("reason LIKE 'epcis.not_applied.%'", name="reason_not_applied"),
    comment="append-only: UPDATE and DELETE are refused by triggers",
)
Index(None, epcis_recorded_events.c.event_id)
Index(None, epcis_recorded_events.c.event_time)
Index(None, epcis_recorded_events.c.location_id)
Index(None, epcis_recorded_events.c.read_point_id)

epcis_recorded_items = Table(
    "epcis_recorded_items",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("recorded_id", Uuid, ForeignKey(epcis_recorded_events.c.id), nullable=False),
    Column("di", String(14), nullable=True),
    Column("serial", String, nullable=True),
    Column("lot", String, nullable=True),
    Column("sscc", String(18), nullable=True),
    CheckConstraint("di IS NOT NULL OR sscc IS NOT NULL", name="di_or_sscc"),
    comment="the GS1 keys a recorded event names, for the DI/lot/serial/SSCC filters; append-only",
)
Index(None, epcis_recorded_items.c.recorded_id)
Index(None, epcis_recorded_items.c.di, epcis_recorded_items.c.serial)
Index(None, epcis_recorded_items.c.di, epcis_recorded_items.c.lot)
Index(None, epcis_recorded_items.c.sscc)

# --- Master-data generation (migration 0016) ---------------------------------------------------

master_data_generation = Table(
    "master_data_generation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False, comment="always 1: one row"),
    Column("value", String(32), nullable=False, comment="random, hex"),
    CheckConstraint("id = 1", name="one_row"),
    comment="replaced by triggers on every master-data write (migration 0016)",
)
