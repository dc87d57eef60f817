"""Row-level security on the remaining tables: master data, recalls, the regulator log, audit.

Same ``tenant`` policy as migrations 0009 and 0011 (whose helpers ``udi_rls_org()`` and
``udi_rls_bypass()`` it reuses): a row is written (and, unless said otherwise, read) by the
organisation it belongs to, or when the transaction bypasses. What "belongs to" means, table by
table, and why some tables are readable by every organisation: docs/security.md, "Tenancy in
depth". Tables every organisation may read get a second policy, ``tenant_read``, ``FOR SELECT``
only; policies of one command are OR-ed, so reads pass either policy and writes only
``tenant``.

Not here: ``events`` and ``event_items`` (0009; rebuilt by 0013), ``api_tokens`` (no RLS:
authentication reads and stamps a token before anyone is known) and ``alembic_version``.
The restricted role already has privileges on every table (0009's default privileges).
On SQLite this migration does nothing.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ORG = "udi_rls_org()"
_GENESIS = "0" * 64  # warehouse.domain.audit.GENESIS, frozen here as migrations must be


def _registrant_writes(table: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM devices d WHERE d.id = {table}.device_id"
        f" AND d.registrant_id = {_ORG})"
    )


_OPERATES_WAREHOUSE = (
    f"EXISTS (SELECT 1 FROM warehouses w WHERE w.id = {{}} AND w.operator_id = {_ORG})"
)
_OPERATES_LOCATION = (
    "EXISTS (SELECT 1 FROM locations l JOIN warehouses w ON w.id = l.warehouse_id"
    f" WHERE l.id = {{}} AND w.operator_id = {_ORG})"
)

# Table -> (who writes a row, and reads it unless READERS says more), besides the bypass.
POLICIES = {
    # Public registers (licences, the UDI catalogue, the organisations behind them).
    "organisations": f"id = {_ORG}",
    "licences": f"holder_id = {_ORG}",
    "licence_warehouses": (
        "EXISTS (SELECT 1 FROM licences l WHERE l.id = licence_warehouses.licence_version_id"
        f" AND l.holder_id = {_ORG})"
    ),
    "devices": f"registrant_id = {_ORG}",
    "device_certificates": _registrant_writes("device_certificates"),
    "device_packages": _registrant_writes("device_packages"),
    # Warehouses and shareholdings: written by their operator / the parent company.
    "warehouses": f"operator_id = {_ORG}",
    "locations": _OPERATES_WAREHOUSE.format("locations.warehouse_id"),
    "ownership_links": f"parent_id = {_ORG}",
    # Agreements: their two parties only (the agreement's own policy decides the warehouses).
    "entrustment_agreements": f"{_ORG} IN (client_id, provider_id)",
    "agreement_warehouses": (
        "EXISTS (SELECT 1 FROM entrustment_agreements a"
        " WHERE a.id = agreement_warehouses.agreement_id)"
    ),
    # A version is written by whoever writes its record.
    "master_data_versions": (
        "CASE entity"
        f" WHEN 'organisation' THEN entity_id = {_ORG}"
        f" WHEN 'warehouse' THEN {_OPERATES_WAREHOUSE.format('entity_id')}"
        f" WHEN 'location' THEN {_OPERATES_LOCATION.format('entity_id')}"
        " WHEN 'entrustment_agreement' THEN EXISTS (SELECT 1 FROM entrustment_agreements a"
        f" WHERE a.id = entity_id AND {_ORG} IN (a.client_id, a.provider_id))"
        " WHEN 'device' THEN EXISTS (SELECT 1 FROM devices d WHERE d.id = entity_id"
        f" AND d.registrant_id = {_ORG})"
        " ELSE false END"
    ),
    # Recalls: ordered by the registrant (or for it); holds: the holder, and the recall's
    # registrant and orderer.
    "recalls": f"{_ORG} IN (registrant_id, ordered_by_org_id)",
    "recall_holds": (
        f"{_ORG} IN (owner_id, possessor_id) OR EXISTS (SELECT 1 FROM recalls r"
        f" WHERE r.id = recall_holds.recall_id AND {_ORG} IN (r.registrant_id,"
        " r.ordered_by_org_id))"
    ),
    # The regulator query log: its regulator body (bureau) and that body's auditors.
    "regulator_queries": f"organisation_id = {_ORG}",
    # One global chain (decision 0005), sealed by every recording transaction: a tenant may
    # seal only a batch of events it sees, and move the head only onto a sealed batch.
    "audit_batches": "EXISTS (SELECT 1 FROM events e WHERE e.batch_id = audit_batches.batch_id)",
    "audit_head": (
        f"(sequence = 0 AND batch_hash = '{_GENESIS}') OR EXISTS (SELECT 1 FROM audit_batches b"
        " WHERE b.sequence = audit_head.sequence AND b.batch_hash = audit_head.batch_hash)"
    ),
}

# Table -> who else reads a row (policy ``tenant_read``, FOR SELECT).
READERS = {
    **dict.fromkeys(
        (
            "organisations",
            "licences",
            "licence_warehouses",
            "devices",
            "device_certificates",
            "device_packages",
            "warehouses",
            "locations",
            "ownership_links",
            "recalls",
            "audit_batches",
            "audit_head",
        ),
        "true",
    ),
    # Versions of an agreement: whoever sees the agreement; of anything else: everyone.
    "master_data_versions": (
        "entity <> 'entrustment_agreement' OR EXISTS (SELECT 1 FROM entrustment_agreements a"
        " WHERE a.id = master_data_versions.entity_id)"
    ),
}

# Tables whose writer condition holds for any row (the head of the chain): no DELETE either.
UNDELETABLE = ("audit_head",)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, condition in POLICIES.items():
        rule = f"udi_rls_bypass() OR {condition}"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant ON {table} USING ({rule}) WITH CHECK ({rule})")
    for table, condition in READERS.items():
        op.execute(f"CREATE POLICY tenant_read ON {table} FOR SELECT USING ({condition})")
    for table in UNDELETABLE:
        op.execute(
            f"CREATE POLICY tenant_keep ON {table} AS RESTRICTIVE FOR DELETE"
            " USING (udi_rls_bypass())"
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in UNDELETABLE:
        op.execute(f"DROP POLICY IF EXISTS tenant_keep ON {table}")
    for table in READERS:
        op.execute(f"DROP POLICY IF EXISTS tenant_read ON {table}")
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS tenant ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
