"""Scanner devices, scans, scan exceptions and stock count sessions.

``scanner_devices`` holds each handheld with its quirks and its own token; ``scans`` every
scan a device sent, as first answered (never updated, unique per device and client scan id);
``scan_exceptions`` the review queue of scans a movement rule refused; ``stock_counts`` the
count sessions whose confirmation records adjustment events.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "scanner_devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("quirks", sa.JSON(), nullable=False, comment="ScannerQuirks.to_mapping()"),
        sa.Column("token_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True, comment="api_tokens.id of the registrar"),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_scanner_devices_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_tokens.id"], name=op.f("fk_scanner_devices_token_id_api_tokens")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_scanner_devices_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scanner_devices")),
        sa.UniqueConstraint(
            "organisation_id", "name", name=op.f("uq_scanner_devices_organisation_id_name")
        ),
        sa.UniqueConstraint("token_id", name=op.f("uq_scanner_devices_token_id")),
        comment="handheld scanners; each has its own scanner token",
    )
    op.create_index(op.f("ix_scanner_devices_warehouse_id"), "scanner_devices", ["warehouse_id"])

    op.create_table(
        "stock_counts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True, comment="api_tokens.id"),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.Uuid(), nullable=True, comment="api_tokens.id"),
        sa.Column(
            "adjustment_batch_id",
            sa.Uuid(),
            nullable=True,
            comment="events.batch_id of adjustments",
        ),
        sa.CheckConstraint(
            "status IN ('open', 'confirming', 'confirmed')",
            name=op.f("ck_stock_counts_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stock_counts_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_stock_counts_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_counts_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_counts")),
        comment="count sessions (盘点) at one location",
    )
    op.create_index(op.f("ix_stock_counts_organisation_id"), "stock_counts", ["organisation_id"])

    op.create_table(
        "scans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("scan_id", sa.Uuid(), nullable=False, comment="client-made, unique per device"),
        sa.Column(
            "fingerprint",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the scan as sent",
        ),
        sa.Column("raw", sa.Text(), nullable=False, comment="the scan text exactly as received"),
        sa.Column("operation", sa.String(length=30), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True, comment="as sent; may name no location"),
        sa.Column("count_id", sa.Uuid(), nullable=True),
        sa.Column(
            "payload", sa.JSON(), nullable=False, comment="the other fields of the scan as sent"
        ),
        sa.Column("device_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, comment="server time"),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True, comment="events.id"),
        sa.Column("di", sa.String(length=100), nullable=True),
        sa.Column("lot", sa.String(length=100), nullable=True),
        sa.Column("serial", sa.String(length=100), nullable=True),
        sa.Column("sscc", sa.String(length=18), nullable=True),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("production_date", sa.Date(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("problem", sa.JSON(), nullable=True, comment="problem+json of a refusal"),
        sa.Column("warnings", sa.JSON(), nullable=True, comment="accepted oddities, raw positions"),
        sa.CheckConstraint(
            "status IN ('accepted', 'rejected', 'exception')", name=op.f("ck_scans_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["count_id"], ["stock_counts.id"], name=op.f("fk_scans_count_id_stock_counts")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["scanner_devices.id"], name=op.f("fk_scans_device_id_scanner_devices")
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_scans_event_id_events")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_scans_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
        sa.UniqueConstraint("device_id", "scan_id", name=op.f("uq_scans_device_id_scan_id")),
        comment="every scan a device sent, as first answered; never updated",
    )
    op.create_index(op.f("ix_scans_count_id"), "scans", ["count_id"])
    op.create_index(op.f("ix_scans_organisation_id"), "scans", ["organisation_id"])

    op.create_table(
        "scan_exceptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scan_row_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "problem", sa.JSON(), nullable=False, comment="why the movement rules refused it"
        ),
        sa.Column("attempts", sa.Integer(), nullable=False, comment="re-submissions tried"),
        sa.Column(
            "last_problem",
            sa.JSON(),
            nullable=True,
            comment="refusal of the last re-submission",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True, comment="api_tokens.id"),
        sa.Column("event_id", sa.Uuid(), nullable=True, comment="re-submitted"),
        sa.CheckConstraint(
            "(status = 'open') = (resolved_at IS NULL)",
            name=op.f("ck_scan_exceptions_closed_has_time"),
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('resubmitted', 'accepted', 'rejected')",
            name=op.f("ck_scan_exceptions_resolution_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'resolved', 'rejected')",
            name=op.f("ck_scan_exceptions_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_scan_exceptions_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_scan_exceptions_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["scan_row_id"], ["scans.id"], name=op.f("fk_scan_exceptions_scan_row_id_scans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_exceptions")),
        sa.UniqueConstraint("scan_row_id", name=op.f("uq_scan_exceptions_scan_row_id")),
        comment="review queue: scans parsed fine but refused by a movement rule",
    )
    op.create_index(
        op.f("ix_scan_exceptions_organisation_id_status"),
        "scan_exceptions",
        ["organisation_id", "status"],
    )


def downgrade():
    op.drop_index(op.f("ix_scan_exceptions_organisation_id_status"), table_name="scan_exceptions")
    op.drop_table("scan_exceptions")
    op.drop_index(op.f("ix_scans_organisation_id"), table_name="scans")
    op.drop_index(op.f("ix_scans_count_id"), table_name="scans")
    op.drop_table("scans")
    op.drop_index(op.f("ix_stock_counts_organisation_id"), table_name="stock_counts")
    op.drop_table("stock_counts")
    op.drop_index(op.f("ix_scanner_devices_warehouse_id"), table_name="scanner_devices")
    op.drop_table("scanner_devices")
