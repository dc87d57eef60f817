"""Tables owned by the scanning package (on the shared MetaData).

Scanner devices, every scan a device sent (accepted, rejected or held as an exception), the
exceptions review queue and stock count sessions. Scans are never deleted: an exception's
lifecycle lives in its own row so the scan stays exactly as it was first answered.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from warehouse.tables import (
    api_tokens,
    events,
    locations,
    metadata,
    organisations,
    warehouses,
)

__all__ = ["metadata", "scan_exceptions", "scanner_devices", "scans", "stock_counts"]

scanner_devices = Table(
    "scanner_devices",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=False),
    Column("name", String(200), nullable=False),
    Column("quirks", JSON, nullable=False, comment="ScannerQuirks.to_mapping()"),
    Column("token_id", Uuid, ForeignKey(api_tokens.c.id), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Uuid, nullable=True, comment="api_tokens.id of the registrar"),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("organisation_id", "name"),
    comment="handheld scanners; each has its own scanner token",
)
Index(None, scanner_devices.c.warehouse_id)

stock_counts = Table(
    "stock_counts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("organisation_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("warehouse_id", Uuid, ForeignKey(warehouses.c.id), nullable=False),
    Column("location_id", Uuid, ForeignKey(locations.c.id), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Uuid, nullable=True, comment="api_tokens.id"),
    Column("confirmed_at", DateTime(timezone=True), nullable=True),
    Column("confirmed_by", Uuid, nullable=True, comment="api_tokens.id"),
    Column("adjustment_batch_id", Uuid, nullable=True, comment="events.batch_id of adjustments"),
    CheckConstraint("status IN ('open', 'confirming', 'confirmed')", name="status_known"),
    comment="count sessions (盘点) at one location",
)
Index(None, stock_counts.c.organisation_id)

scans = Table(
    "scans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("device_id", Uuid, ForeignKey(scanner_devices.c.id), nullable=False),
    Column("organisation_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("scan_id", Uuid, nullable=False, comment="client-made, unique per device"),
    Column("fingerprint", String(64), nullable=False, comment="SHA-256 of the scan as sent"),
    Column("raw", Text, nullable=False, comment="the scan text exactly as received"),
    Column("operation", String(30), nullable=True),
    Column("location_id", Uuid, nullable=True, comment="as sent; may name no location"),
    Column("count_id", Uuid, ForeignKey(stock_counts.c.id), nullable=True),
    Column("payload", JSON, nullable=False, comment="the other fields of the scan as sent"),
    Column("device_time", DateTime(timezone=True), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False, comment="server time"),
    Column("status", String(20), nullable=False),
    Column("event_id", Uuid, ForeignKey(events.c.id), nullable=True, comment="events.id"),
    Column("di", String(100), nullable=True),
    Column("lot", String(100), nullable=True),
    Column("serial", String(100), nullable=True),
    Column("sscc", String(18), nullable=True),
    Column("expiry", Date, nullable=True),
    Column("production_date", Date, nullable=True),
    Column("quantity", Integer, nullable=True),
    Column("problem", JSON, nullable=True, comment="problem+json of a refusal"),
    Column("warnings", JSON, nullable=True, comment="accepted oddities, raw positions"),
    CheckConstraint("status IN ('accepted', 'rejected', 'exception')", name="status_known"),
    UniqueConstraint("device_id", "scan_id"),
    comment="every scan a device sent, as first answered; never updated",
)
Index(None, scans.c.organisation_id)
Index(None, scans.c.count_id)

scan_exceptions = Table(
    "scan_exceptions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("scan_row_id", Uuid, ForeignKey(scans.c.id), nullable=False, unique=True),
    Column("organisation_id", Uuid, ForeignKey(organisations.c.id), nullable=False),
    Column("status", String(20), nullable=False),
    Column("problem", JSON, nullable=False, comment="why the movement rules refused it"),
    Column("attempts", Integer, nullable=False, comment="re-submissions tried"),
    Column("last_problem", JSON, nullable=True, comment="refusal of the last re-submission"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", String(20), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("resolved_by", Uuid, nullable=True, comment="api_tokens.id"),
    Column("event_id", Uuid, ForeignKey(events.c.id), nullable=True, comment="re-submitted"),
    CheckConstraint("status IN ('open', 'resolved', 'rejected')", name="status_known"),
    CheckConstraint(
        "resolution IS NULL OR resolution IN ('resubmitted', 'accepted', 'rejected')",
        name="resolution_known",
    ),
    CheckConstraint("(status = 'open') = (resolved_at IS NULL)", name="closed_has_time"),
    comment="review queue: scans parsed fine but refused by a movement rule",
)
Index(None, scan_exceptions.c.organisation_id, scan_exceptions.c.status)
