"""Movement events (append-only) and their projections: units, stock, containers, shipments.

``events`` and ``event_items`` refuse UPDATE and DELETE through triggers on both engines (a
PL/pgSQL function on PostgreSQL, ``RAISE(ABORT)`` triggers on SQLite): a mistake is corrected
by an error declaration and a correcting event, never by editing a row. ``stock.quantity`` has
``CHECK (quantity >= 0)``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _one_of(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


STEPS = _one_of(
    "biz_step",
    (
        "receiving",
        "arriving",
        "inspecting",
        "accepting",
        "storing",
        "picking",
        "staging_outbound",
        "shipping",
        "stocking",
        "dispensing",
        "returning",
        "destroying",
        "holding",
        "packing",
        "unpacking",
    ),
)
DISPOSITIONS = _one_of(
    "disposition",
    (
        "active",
        "in_progress",
        "in_transit",
        "sellable_accessible",
        "non_sellable_other",
        "conformant",
        "non_conformant",
        "expired",
        "damaged",
        "returned",
        "recalled",
        "dispensed",
        "destroyed",
        "container_closed",
        "container_open",
    ),
)
UNIT_STATUSES = _one_of(
    "status",
    (
        "available",
        "destroyed",
        "dispensed",
        "in_transit",
        "on_hold",
        "pending_acceptance",
        "picked",
        "recalled",
    ),
)


def upgrade():
    op.create_table(
        "shipments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("shipping_event_id", sa.Uuid(), nullable=False, comment="events.id"),
        sa.Column("from_org_id", sa.Uuid(), nullable=False),
        sa.Column("from_warehouse_id", sa.Uuid(), nullable=True),
        sa.Column("destination_party_id", sa.Uuid(), nullable=False),
        sa.Column("destination_warehouse_id", sa.Uuid(), nullable=True),
        sa.Column(
            "despatch_ref",
            sa.String(length=100),
            nullable=True,
            comment="desadv number (随货同行单)",
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_event_id", sa.Uuid(), nullable=True, comment="events.id of the receipt"
        ),
        sa.CheckConstraint(
            "status IN ('in_transit', 'received')", name=op.f("ck_shipments_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["destination_party_id"],
            ["organisations.id"],
            name=op.f("fk_shipments_destination_party_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["destination_warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_shipments_destination_warehouse_id_warehouses"),
        ),
        sa.ForeignKeyConstraint(
            ["from_org_id"],
            ["organisations.id"],
            name=op.f("fk_shipments_from_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["from_warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_shipments_from_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("shipping_event_id", name=op.f("uq_shipments_shipping_event_id")),
    )
    op.create_index(
        op.f("ix_shipments_destination_party_id"), "shipments", ["destination_party_id"]
    )

    op.create_table(
        "containers",
        sa.Column("sscc", sa.String(length=18), nullable=False),
        sa.Column("possessor_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_event_id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('packed', 'in_transit', 'unpacked')",
            name=op.f("ck_containers_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_containers_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["possessor_id"],
            ["organisations.id"],
            name=op.f("fk_containers_possessor_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_containers_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("sscc", name=op.f("pk_containers")),
        comment="projection: SSCC -> place",
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), nullable=False, comment="UUIDv7, server-assigned"),
        sa.Column("event_id", sa.Uuid(), nullable=False, comment="client-supplied, idempotent"),
        sa.Column("event_type", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("biz_step", sa.String(length=40), nullable=False),
        sa.Column("disposition", sa.String(length=40), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False, comment="UTC"),
        sa.Column("event_time_offset", sa.String(length=6), nullable=False, comment="e.g. +08:00"),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_point_id", sa.Uuid(), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True, comment="bizLocation"),
        sa.Column("warehouse_id", sa.Uuid(), nullable=True),
        sa.Column("acting_org_id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.String(length=100), nullable=True),
        sa.Column("scanner_device_id", sa.String(length=100), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("possessor_id", sa.Uuid(), nullable=True),
        sa.Column("source_party_id", sa.Uuid(), nullable=True),
        sa.Column("destination_party_id", sa.Uuid(), nullable=True),
        sa.Column("destination_warehouse_id", sa.Uuid(), nullable=True),
        sa.Column("shipment_id", sa.Uuid(), nullable=True),
        sa.Column("parent_sscc", sa.String(length=18), nullable=True, comment="aggregation parent"),
        sa.Column(
            "documents", sa.JSON(), nullable=False, comment="list of {type, id}: po, desadv, inv"
        ),
        sa.Column(
            "patient_ref", sa.String(length=64), nullable=True, comment="pseudonymous patient id"
        ),
        sa.Column(
            "encounter_ref",
            sa.String(length=64),
            nullable=True,
            comment="pseudonymous encounter id",
        ),
        sa.Column("corrects_event_id", sa.Uuid(), nullable=True),
        sa.Column("declared_event_id", sa.Uuid(), nullable=True),
        sa.Column("error_reason", sa.String(length=20), nullable=True),
        sa.Column(
            "event_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the canonical event",
        ),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "action IN ('ADD', 'OBSERVE', 'DELETE')", name=op.f("ck_events_action_known")
        ),
        sa.CheckConstraint(
            STEPS,
            name=op.f("ck_events_biz_step_known"),
        ),
        sa.CheckConstraint(
            DISPOSITIONS,
            name=op.f("ck_events_disposition_known"),
        ),
        sa.CheckConstraint(
            "error_reason IS NULL OR error_reason IN ('did_not_occur', 'incorrect_data')",
            name=op.f("ck_events_error_reason_known"),
        ),
        sa.CheckConstraint(
            "event_type IN ('object', 'aggregation')", name=op.f("ck_events_type_known")
        ),
        sa.ForeignKeyConstraint(
            ["acting_org_id"],
            ["organisations.id"],
            name=op.f("fk_events_acting_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["corrects_event_id"], ["events.id"], name=op.f("fk_events_corrects_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["declared_event_id"], ["events.id"], name=op.f("fk_events_declared_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["destination_party_id"],
            ["organisations.id"],
            name=op.f("fk_events_destination_party_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["destination_warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_events_destination_warehouse_id_warehouses"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_events_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["organisations.id"], name=op.f("fk_events_owner_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["possessor_id"],
            ["organisations.id"],
            name=op.f("fk_events_possessor_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["read_point_id"], ["locations.id"], name=op.f("fk_events_read_point_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_events_shipment_id_shipments")
        ),
        sa.ForeignKeyConstraint(
            ["source_party_id"],
            ["organisations.id"],
            name=op.f("fk_events_source_party_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_events_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
        comment="append-only: UPDATE and DELETE are refused by triggers",
    )
    op.create_index(op.f("ix_events_acting_org_id"), "events", ["acting_org_id"])
    op.create_index(op.f("ix_events_biz_step"), "events", ["biz_step"])
    op.create_index(op.f("ix_events_event_time"), "events", ["event_time"])
    op.create_index(op.f("ix_events_location_id"), "events", ["location_id"])
    op.create_index(op.f("ix_events_owner_id"), "events", ["owner_id"])

    op.create_table(
        "shipment_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("di", sa.String(length=100), nullable=False),
        sa.Column(
            "lot", sa.String(length=100), nullable=False, comment="'' when the label has no lot"
        ),
        sa.Column("serial", sa.String(length=100), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_shipment_items_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_shipment_items_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_items")),
    )
    op.create_index(op.f("ix_shipment_items_shipment_id"), "shipment_items", ["shipment_id"])

    op.create_table(
        "stock",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("possessor_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("di", sa.String(length=100), nullable=False),
        sa.Column(
            "lot", sa.String(length=100), nullable=False, comment="'' when the label has no lot"
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('available', 'on_hold', 'pending_acceptance', 'picked', 'recalled')",
            name=op.f("ck_stock_status_known"),
        ),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_stock_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_stock_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["organisations.id"], name=op.f("fk_stock_owner_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["possessor_id"], ["organisations.id"], name=op.f("fk_stock_possessor_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_stock_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock")),
        sa.UniqueConstraint(
            "owner_id",
            "possessor_id",
            "location_id",
            "di",
            "lot",
            "status",
            name=op.f("uq_stock_owner_id_possessor_id_location_id_di_lot_status"),
        ),
        comment="projection: on-hand balances, serialised units included",
    )
    op.create_index(op.f("ix_stock_di_lot"), "stock", ["di", "lot"])
    op.create_index(op.f("ix_stock_location_id"), "stock", ["location_id"])
    op.create_index(op.f("ix_stock_warehouse_id"), "stock", ["warehouse_id"])

    op.create_table(
        "units",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("di", sa.String(length=100), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column(
            "lot", sa.String(length=100), nullable=False, comment="'' when the label has no lot"
        ),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("production_date", sa.Date(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("possessor_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("container_sscc", sa.String(length=18), nullable=True),
        sa.Column("shipment_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, comment="compare-and-set counter"),
        sa.Column("last_event_id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            UNIT_STATUSES,
            name=op.f("ck_units_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_units_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["organisations.id"], name=op.f("fk_units_owner_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["possessor_id"], ["organisations.id"], name=op.f("fk_units_possessor_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_units_shipment_id_shipments")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_units_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("di", "serial", name=op.f("uq_units_di_serial")),
        comment="projection: serial-level current state",
    )
    op.create_index(op.f("ix_units_container_sscc"), "units", ["container_sscc"])
    op.create_index(op.f("ix_units_location_id"), "units", ["location_id"])

    op.create_table(
        "discrepancies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("receiving_event_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("di", sa.String(length=100), nullable=False),
        sa.Column("lot", sa.String(length=100), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=True),
        sa.Column(
            "expected_di",
            sa.String(length=100),
            nullable=True,
            comment="substitution: the DI shipped",
        ),
        sa.Column("expected_quantity", sa.Integer(), nullable=False),
        sa.Column("received_quantity", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('short', 'over', 'substitution', 'unexpected_unit')",
            name=op.f("ck_discrepancies_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_discrepancies_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["receiving_event_id"],
            ["events.id"],
            name=op.f("fk_discrepancies_receiving_event_id_events"),
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_discrepancies_shipment_id_shipments")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_discrepancies_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discrepancies")),
    )
    op.create_index(op.f("ix_discrepancies_organisation_id"), "discrepancies", ["organisation_id"])
    op.create_index(op.f("ix_discrepancies_shipment_id"), "discrepancies", ["shipment_id"])

    op.create_table(
        "event_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("di", sa.String(length=100), nullable=True),
        sa.Column("serial", sa.String(length=100), nullable=True),
        sa.Column("lot", sa.String(length=100), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("production_date", sa.Date(), nullable=True),
        sa.Column(
            "sscc", sa.String(length=18), nullable=True, comment="a container moved as a whole"
        ),
        sa.CheckConstraint(
            "di IS NOT NULL OR sscc IS NOT NULL", name=op.f("ck_event_items_di_or_sscc")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_event_items_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_items_event_id_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_items")),
        comment="append-only: UPDATE and DELETE are refused by triggers",
    )
    op.create_index(op.f("ix_event_items_di_lot"), "event_items", ["di", "lot"])
    op.create_index(op.f("ix_event_items_di_serial"), "event_items", ["di", "serial"])
    op.create_index(op.f("ix_event_items_event_id"), "event_items", ["event_id"])
    op.create_index(op.f("ix_event_items_sscc"), "event_items", ["sscc"])
    _append_only_triggers()


APPEND_ONLY = ("events", "event_items")


def _append_only_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION udi_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'Expected no % on append-only table %, got one.',
                    TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION udi_refuse_change()"
            )
        return
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
                f" BEGIN SELECT RAISE(ABORT, 'Expected no {verb} on append-only table"
                f" {table}, got one.'); END"
            )


def _drop_triggers():
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS udi_refuse_change()")
        return
    for table in APPEND_ONLY:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def downgrade():
    _drop_triggers()
    for table in (
        "discrepancies",
        "stock",
        "units",
        "event_items",
        "events",
        "containers",
        "shipment_items",
        "shipments",
    ):
        op.drop_table(table)
