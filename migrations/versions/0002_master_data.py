"""Master data: licences, warehouses, locations, ownership links, agreements, devices.

Licences, ownership links and certificates are stored one row per version; ``supersedes`` is
unique so a version chain can never fork.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PERIOD = "valid_to IS NULL OR valid_from <= valid_to"
TEMPERATURES = "min_celsius IS NULL OR max_celsius IS NULL OR min_celsius <= max_celsius"


def _timestamps():
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def _fk(table, column, target):
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade():
    op.create_table(
        "licences",
        sa.Column("id", sa.Uuid(), nullable=False, comment="id of this version"),
        sa.Column(
            "licence_id",
            sa.Uuid(),
            nullable=False,
            comment="id of the chain: the first version's id",
        ),
        sa.Column("supersedes", sa.Uuid(), nullable=True),
        sa.Column("holder_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False, comment="list of {device_class, category}"),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True, comment="last valid day, inclusive"),
        sa.Column(
            "effective_from",
            sa.Date(),
            nullable=False,
            comment="first day this version applies",
        ),
        _timestamps(),
        sa.CheckConstraint(
            "kind IN ('production_licence', 'class_iii_operation_licence',"
            " 'class_ii_operation_filing', 'third_party_logistics')",
            name=op.f("ck_licences_kind_known"),
        ),
        sa.CheckConstraint(PERIOD, name=op.f("ck_licences_period_ordered")),
        _fk("licences", "holder_id", "organisations"),
        _fk("licences", "licence_id", "licences"),
        _fk("licences", "supersedes", "licences"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licences")),
        sa.UniqueConstraint("supersedes", name=op.f("uq_licences_supersedes")),
    )
    op.create_index(op.f("ix_licences_holder_id"), "licences", ["holder_id"])
    op.create_index(op.f("ix_licences_licence_id"), "licences", ["licence_id"])

    op.create_table(
        "warehouses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column(
            "jurisdiction", sa.String(length=6), nullable=False, comment="GB/T 2260 division code"
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("min_celsius", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("max_celsius", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("max_relative_humidity", sa.Integer(), nullable=True, comment="percent"),
        _timestamps(),
        sa.CheckConstraint(
            "kind IN ('registered', 'off_site', 'third_party_logistics')",
            name=op.f("ck_warehouses_kind_known"),
        ),
        sa.CheckConstraint(
            "length(jurisdiction) = 6", name=op.f("ck_warehouses_jurisdiction_six_digits")
        ),
        sa.CheckConstraint(TEMPERATURES, name=op.f("ck_warehouses_temperature_range_ordered")),
        sa.CheckConstraint(
            "max_relative_humidity IS NULL OR max_relative_humidity BETWEEN 0 AND 100",
            name=op.f("ck_warehouses_humidity_percent"),
        ),
        _fk("warehouses", "operator_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses")),
        sa.UniqueConstraint("operator_id", "name", name=op.f("uq_warehouses_operator_id_name")),
    )
    op.create_index(op.f("ix_warehouses_jurisdiction"), "warehouses", ["jurisdiction"])

    op.create_table(
        "locations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        sa.Column("aisle", sa.String(length=40), nullable=True),
        sa.Column("bin", sa.String(length=40), nullable=True),
        sa.Column(
            "code",
            sa.String(length=130),
            nullable=False,
            comment="zone-aisle-bin, unique per warehouse",
        ),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column(
            "department", sa.String(length=100), nullable=True, comment="hospital department (科室)"
        ),
        _timestamps(),
        sa.CheckConstraint(
            "purpose IN ('normal', 'quarantine', 'returns', 'recalled', 'damaged', 'department')",
            name=op.f("ck_locations_purpose_known"),
        ),
        sa.CheckConstraint(
            "bin IS NULL OR aisle IS NOT NULL", name=op.f("ck_locations_bin_needs_aisle")
        ),
        _fk("locations", "warehouse_id", "warehouses"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("warehouse_id", "code", name=op.f("uq_locations_warehouse_id_code")),
    )

    op.create_table(
        "licence_warehouses",
        sa.Column("licence_version_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        _fk("licence_warehouses", "licence_version_id", "licences"),
        _fk("licence_warehouses", "warehouse_id", "warehouses"),
        sa.PrimaryKeyConstraint(
            "licence_version_id", "warehouse_id", name=op.f("pk_licence_warehouses")
        ),
        comment="warehouse addresses registered on a licence version (库房地址)",
    )
    op.create_index(
        op.f("ix_licence_warehouses_warehouse_id"), "licence_warehouses", ["warehouse_id"]
    )

    op.create_table(
        "ownership_links",
        sa.Column("id", sa.Uuid(), nullable=False, comment="id of this version"),
        sa.Column("link_id", sa.Uuid(), nullable=False),
        sa.Column("supersedes", sa.Uuid(), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=False),
        sa.Column("child_id", sa.Uuid(), nullable=False),
        sa.Column(
            "share",
            sa.Numeric(precision=5, scale=2),
            nullable=False,
            comment="percent of the child's equity",
        ),
        sa.Column("declared_control", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column(
            "valid_to", sa.Date(), nullable=True, comment="last day of the holding, inclusive"
        ),
        _timestamps(),
        sa.CheckConstraint(
            "share > 0 AND share <= 100", name=op.f("ck_ownership_links_share_percent")
        ),
        sa.CheckConstraint("parent_id <> child_id", name=op.f("ck_ownership_links_not_self_owned")),
        sa.CheckConstraint(PERIOD, name=op.f("ck_ownership_links_period_ordered")),
        _fk("ownership_links", "parent_id", "organisations"),
        _fk("ownership_links", "child_id", "organisations"),
        _fk("ownership_links", "link_id", "ownership_links"),
        _fk("ownership_links", "supersedes", "ownership_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership_links")),
        sa.UniqueConstraint("supersedes", name=op.f("uq_ownership_links_supersedes")),
    )
    for column in ("parent_id", "child_id", "link_id"):
        op.create_index(op.f(f"ix_ownership_links_{column}"), "ownership_links", [column])

    op.create_table(
        "entrustment_agreements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column(
            "number", sa.String(length=100), nullable=True, comment="agreement number, as signed"
        ),
        sa.Column("classes", sa.JSON(), nullable=False, comment="device classes covered"),
        sa.Column("services", sa.JSON(), nullable=False, comment="storage and/or transport"),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        _timestamps(),
        sa.CheckConstraint(
            "client_id <> provider_id", name=op.f("ck_entrustment_agreements_two_parties")
        ),
        sa.CheckConstraint(PERIOD, name=op.f("ck_entrustment_agreements_period_ordered")),
        _fk("entrustment_agreements", "client_id", "organisations"),
        _fk("entrustment_agreements", "provider_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entrustment_agreements")),
    )
    for column in ("client_id", "provider_id"):
        op.create_index(
            op.f(f"ix_entrustment_agreements_{column}"), "entrustment_agreements", [column]
        )

    op.create_table(
        "agreement_warehouses",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        _fk("agreement_warehouses", "agreement_id", "entrustment_agreements"),
        _fk("agreement_warehouses", "warehouse_id", "warehouses"),
        sa.PrimaryKeyConstraint(
            "agreement_id", "warehouse_id", name=op.f("pk_agreement_warehouses")
        ),
    )
    op.create_index(
        op.f("ix_agreement_warehouses_warehouse_id"), "agreement_warehouses", ["warehouse_id"]
    )

    op.create_table(
        "devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("di", sa.String(length=100), nullable=False, comment="UDI-DI as issued"),
        sa.Column("issuer", sa.String(length=10), nullable=False, comment="gs1, hibc or ma"),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("model_spec", sa.String(length=300), nullable=False),
        sa.Column("device_class", sa.String(length=10), nullable=False),
        sa.Column(
            "category", sa.String(length=20), nullable=True, comment="classification catalogue code"
        ),
        sa.Column("registrant_id", sa.Uuid(), nullable=False),
        sa.Column("implantable", sa.Boolean(), nullable=False),
        sa.Column("label_lot", sa.Boolean(), nullable=False),
        sa.Column("label_serial", sa.Boolean(), nullable=False),
        sa.Column("label_production_date", sa.Boolean(), nullable=False),
        sa.Column("label_expiry_date", sa.Boolean(), nullable=False),
        sa.Column("min_celsius", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("max_celsius", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("max_relative_humidity", sa.Integer(), nullable=True),
        sa.Column("insurance_code", sa.String(length=40), nullable=True, comment="医保耗材编码"),
        sa.Column("regimes", sa.JSON(), nullable=False, comment="special regime tags"),
        _timestamps(),
        sa.CheckConstraint("issuer IN ('gs1', 'hibc', 'ma')", name=op.f("ck_devices_issuer_known")),
        sa.CheckConstraint(
            "device_class IN ('class_i', 'class_ii', 'class_iii')",
            name=op.f("ck_devices_device_class_known"),
        ),
        sa.CheckConstraint(TEMPERATURES, name=op.f("ck_devices_temperature_range_ordered")),
        _fk("devices", "registrant_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("di", name=op.f("uq_devices_di")),
    )
    op.create_index(op.f("ix_devices_registrant_id"), "devices", ["registrant_id"])

    op.create_table(
        "device_certificates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("supersedes", sa.Uuid(), nullable=True),
        sa.Column("number", sa.String(length=100), nullable=False, comment="注册证编号/备案编号"),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        _timestamps(),
        sa.CheckConstraint(PERIOD, name=op.f("ck_device_certificates_period_ordered")),
        _fk("device_certificates", "device_id", "devices"),
        _fk("device_certificates", "supersedes", "device_certificates"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_certificates")),
        sa.UniqueConstraint("supersedes", name=op.f("uq_device_certificates_supersedes")),
    )
    op.create_index(op.f("ix_device_certificates_device_id"), "device_certificates", ["device_id"])

    op.create_table(
        "device_packages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("package_di", sa.String(length=100), nullable=False),
        sa.Column("content_di", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=40), nullable=True, comment="包装级别 as published"),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_device_packages_quantity_positive")),
        sa.CheckConstraint(
            "package_di <> content_di", name=op.f("ck_device_packages_not_self_contained")
        ),
        _fk("device_packages", "device_id", "devices"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_packages")),
        sa.UniqueConstraint("package_di", name=op.f("uq_device_packages_package_di")),
    )
    op.create_index(op.f("ix_device_packages_device_id"), "device_packages", ["device_id"])


def downgrade():
    for table in (
        "device_packages",
        "device_certificates",
        "devices",
        "agreement_warehouses",
        "entrustment_agreements",
        "ownership_links",
        "licence_warehouses",
        "locations",
        "warehouses",
        "licences",
    ):
        # Dropping a table drops its indexes with it, on SQLite and PostgreSQL alike.
        op.drop_table(table)
