"""PostgreSQL row-level security on the tenant tables (docs/security.md, "Tenancy in depth").

Each tenant table gets a policy ``tenant`` letting a row through when the transaction's
organisation (``udi.org_id``, set per transaction by warehouse/db.py) is one of the row's
parties, or when the transaction bypasses (``udi.rls_bypass = 'on'``: admins, regulators, whose
jurisdiction the application filters, and the system). Unset and ``''`` both mean "nobody":
``current_setting(name, true)`` is NULL before a session first sets the name and ``''`` after a
``SET LOCAL`` of it has ended, so the helpers map both to no organisation and no bypass.

Policies bind only roles that are neither superuser, owner of the table, nor BYPASSRLS. The
migration creates (when it may) the NOLOGIN role ``udi_rls`` with the app's table privileges
(also on tables later migrations create); the app switches to it per transaction when
``DATABASE_RLS_ROLE=udi_rls`` — or deploy the app under its own login role granted the same.
The role is cluster-wide, so downgrade drops policies and grants but keeps the role.
On SQLite this migration does nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ROLE = "udi_rls"

_PARTY = "udi_rls_org()"

# Table -> who may see and write a row (besides the bypass). Parent rows are reached through
# EXISTS on the parent table, whose own policy then applies: an item is visible with its event.
POLICIES = {
    "events": (
        f"{_PARTY} IN (acting_org_id, owner_id, possessor_id, source_party_id,"
        " destination_party_id)"
    ),
    "event_items": "EXISTS (SELECT 1 FROM events e WHERE e.id = event_items.event_id)",
    "shipments": f"{_PARTY} IN (from_org_id, destination_party_id)",
    "shipment_items": (
        "EXISTS (SELECT 1 FROM shipments s WHERE s.id = shipment_items.shipment_id)"
    ),
    # A unit in transit is visible to the shipment's consignee, which receives it.
    "units": (
        f"{_PARTY} IN (owner_id, possessor_id) OR EXISTS (SELECT 1 FROM shipments s"
        f" WHERE s.id = units.shipment_id AND s.destination_party_id = {_PARTY})"
    ),
    "stock": f"{_PARTY} IN (owner_id, possessor_id)",
    "containers": f"possessor_id = {_PARTY}",
    "discrepancies": (
        f"organisation_id = {_PARTY} OR EXISTS (SELECT 1 FROM shipments s"
        f" WHERE s.id = discrepancies.shipment_id AND s.from_org_id = {_PARTY})"
    ),
    "idempotency_keys": f"organisation_id = {_PARTY}",
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION udi_rls_org() RETURNS uuid LANGUAGE sql STABLE AS"
        " $$ SELECT NULLIF(current_setting('udi.org_id', true), '')::uuid $$"
    )
    op.execute(
        "CREATE FUNCTION udi_rls_bypass() RETURNS boolean LANGUAGE sql STABLE AS"
        " $$ SELECT coalesce(current_setting('udi.rls_bypass', true), '') = 'on' $$"
    )
    for table, condition in POLICIES.items():
        rule = f"udi_rls_bypass() OR {condition}"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant ON {table} USING ({rule}) WITH CHECK ({rule})")
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = current_user
                               AND (rolsuper OR rolcreaterole)) THEN
                    RAISE NOTICE 'cannot create role {ROLE}: grant the app role by hand';
                    RETURN;
                END IF;
                BEGIN
                    CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;  -- another database's migration created it at the same moment
                END;
            END IF;
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {ROLE}', current_schema());
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I'
                           ' TO {ROLE}', current_schema());
            EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {ROLE}',
                           current_schema());
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT,'
                           ' UPDATE, DELETE ON TABLES TO {ROLE}', current_schema());
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT'
                           ' ON SEQUENCES TO {ROLE}', current_schema());
        END
        $$
        """
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS tenant ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS udi_rls_org()")
    op.execute("DROP FUNCTION IF EXISTS udi_rls_bypass()")
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES'
                               ' FROM {ROLE}', current_schema());
                EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES'
                               ' FROM {ROLE}', current_schema());
                EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {ROLE}',
                               current_schema());
                EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM {ROLE}',
                               current_schema());
                EXECUTE format('REVOKE ALL ON SCHEMA %I FROM {ROLE}', current_schema());
            END IF;
        END
        $$
        """
    )
