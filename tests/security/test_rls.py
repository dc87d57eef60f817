"""Row-level security on PostgreSQL: a query that forgets the organisation filter leaks nothing.

Migration 0009 puts a ``tenant`` policy on the tenant tables and creates the restricted role
``udi_rls``; warehouse/db.py sets ``udi.org_id`` / ``udi.rls_bypass`` in every transaction and,
with ``DATABASE_RLS_ROLE``, switches to that role. The tests connect as a superuser (which
RLS never binds), so they switch to ``udi_rls`` themselves to see what the policies allow.
On SQLite the migration does nothing and these tests are skipped.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, and_, select, text, update
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from scanning.counts import NOT_YOURS
from tests.movements_world import GAUZE, STENT, World, build_world, event_json, gauze, stent, token
from tests.scanning_world import register, scan, stent_label
from warehouse import tables
from warehouse.db import RLS_ROLE_CONFIG
from warehouse.demo import ensure_organisation
from warehouse.domain.movements import BizStep as B
from warehouse.domain.recalls import RecallClass
from warehouse.domain.roles import Principal, Role
from warehouse.services import movements, recalls, regulator_log

ROLE = "udi_rls"
VERSIONS = Path(__file__).resolve().parents[2] / "migrations/versions"
MIGRATIONS = (
    "0009_row_level_security.py",
    "0011_row_level_security_scanning.py",
    "0014_row_level_security_master_data.py",
)


def _migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"migration_{name[:4]}", VERSIONS / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MASTER_DATA = _migration(MIGRATIONS[-1])
POLICY_TABLES = sorted(table for name in MIGRATIONS for table in _migration(name).POLICIES)
"""Every table with row-level security and a ``tenant`` policy."""
SHARED_TABLES = sorted(MASTER_DATA.READERS)
"""Tables others may read too (a ``tenant_read`` policy): registers, the recall notices, the
audit chain, the versions of all but agreements (docs/security.md says why)."""
TENANT_TABLES = sorted(set(POLICY_TABLES) - set(SHARED_TABLES))
"""Tables whose rows only their own organisations see."""


@pytest.fixture(autouse=True)
def _postgresql_only(engine_name: str) -> None:
    if engine_name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's; on SQLite migration 0009 is a no-op")


@pytest.fixture
def world(db_session: Session) -> World:
    """X holds stents in W-X; H holds gauze in W-H; P stores X's gauze in W-P."""
    w = build_world(db_session)
    w.ok(B.RECEIVING, "X", [stent("RLS-1"), stent("RLS-2")], at="W-X/Q", owner="X")
    w.ok(B.RECEIVING, "H", [gauze(5)], at="W-H/Q", owner="H")
    w.ok(B.RECEIVING, "P", [gauze(7, lot="G7")], at="W-P/Q", owner="X")
    return w


def _as(connection: Connection, org: str | uuid.UUID | None, bypass: str = "off") -> None:
    """Become the restricted role for the rest of the current (nested) transaction."""
    connection.execute(text("SELECT set_config('role', :role, true)"), {"role": ROLE})
    if org is not None:
        connection.execute(text("SELECT set_config('udi.org_id', :org, true)"), {"org": str(org)})
    connection.execute(text("SELECT set_config('udi.rls_bypass', :b, true)"), {"b": bypass})


@pytest.fixture
def restricted(db_session: Session) -> Iterator[Connection]:
    """The test's connection inside a savepoint, rolled back (role and settings too) after."""
    connection = db_session.connection()
    savepoint = connection.begin_nested()
    yield connection
    savepoint.rollback()


def _parties(connection: Connection, table: str, *columns: str) -> set[tuple[Any, ...]]:
    query = text(f"SELECT DISTINCT {', '.join(columns)} FROM {table}")  # no organisation filter
    return {tuple(row) for row in connection.execute(query)}


def test_every_tenant_table_has_row_level_security_and_a_tenant_policy(
    db_session: Session,
) -> None:
    found = db_session.execute(
        text(
            "SELECT c.relname, c.relrowsecurity, p.policyname FROM pg_class c"
            " LEFT JOIN pg_policies p ON p.tablename = c.relname AND p.policyname = 'tenant'"
            " WHERE c.relname = ANY(:tables) AND c.relkind IN ('r', 'p')"
        ),
        {"tables": POLICY_TABLES},
    ).all()
    assert sorted(found) == [(table, True, "tenant") for table in POLICY_TABLES]
    role = db_session.execute(
        text("SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = :r"),
        {"r": ROLE},
    ).one()
    assert tuple(role) == (False, False, False)


WITHOUT_RLS = {"alembic_version", "api_tokens", "master_data_generation"}
"""Read before anyone is known (authentication), by migrations only, or holding no tenant data
(a random stamp every organisation's master-data write changes): docs/security.md."""


def test_no_table_is_forgotten_only_the_documented_ones_go_without_row_level_security(
    db_session: Session,
) -> None:
    unguarded = db_session.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            " AND NOT c.relrowsecurity"
        )
    ).scalars()
    assert set(unguarded) == WITHOUT_RLS


def test_a_query_without_the_organisation_filter_returns_only_own_rows(
    world: World, restricted: Connection
) -> None:
    everything = _parties(restricted, "stock", "owner_id", "possessor_id")
    assert len(everything) == 3  # the superuser sees every organisation's stock
    _as(restricted, world["X"])
    mine = _parties(restricted, "stock", "owner_id", "possessor_id")
    assert mine == {(world["X"], world["X"]), (world["X"], world["P"])}
    events = _parties(restricted, "events", "acting_org_id")
    assert events == {(world["X"],), (world["P"],)}  # X's own, and P's receipt of X's goods
    units = _parties(restricted, "units", "owner_id")
    assert units == {(world["X"],)}
    items = restricted.execute(text("SELECT count(*) FROM event_items")).scalar_one()
    assert items == 3  # the two stents and X's gauze at P; not H's gauze


def test_another_organisation_sees_none_of_it(world: World, restricted: Connection) -> None:
    _as(restricted, world["H"])
    assert _parties(restricted, "stock", "owner_id") == {(world["H"],)}
    assert _parties(restricted, "units", "owner_id") == set()
    _as(restricted, world["S60"])  # an organisation with no goods at all
    for table in TENANT_TABLES:
        count = restricted.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        assert count == 0, table


@pytest.mark.parametrize("org", ["", None])
def test_no_organisation_set_or_an_empty_one_means_no_rows(
    world: World, restricted: Connection, org: str | None
) -> None:
    # current_setting(..., true) is NULL before a name is first set and '' after a SET LOCAL
    # of it ended: both must read as nobody, never as an error or as everybody.
    restricted.execute(text("SELECT set_config('udi.org_id', '', true)"))
    _as(restricted, org)
    assert restricted.execute(text("SELECT udi_rls_org()")).scalar_one() is None
    for table in TENANT_TABLES:
        assert restricted.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


def test_a_fresh_connection_has_no_organisation_and_no_bypass(app: Flask) -> None:
    with app.extensions["udi_db"].engine.connect() as connection:
        row = connection.execute(text("SELECT udi_rls_org(), udi_rls_bypass()")).one()
        assert tuple(row) == (None, False)


@pytest.mark.parametrize("value", ["on", "true", "ON", "1", ""])
def test_only_the_exact_bypass_value_bypasses(
    world: World, restricted: Connection, value: str
) -> None:
    _as(restricted, "", bypass=value)
    count = restricted.execute(text("SELECT count(*) FROM stock")).scalar_one()
    assert (count == 3) is (value == "on")
    assert count in (0, 3)


def test_writing_a_row_of_another_organisation_is_refused(
    world: World, restricted: Connection
) -> None:
    _as(restricted, world["H"])
    now = datetime.now(UTC)
    row = {
        "id": uuid.uuid4(),
        "organisation_id": world["X"],
        "key": "k",
        "fingerprint": "0" * 64,
        "state": "in_flight",
        "created_at": now,
        "expires_at": now + timedelta(days=1),
    }
    with pytest.raises(ProgrammingError, match="row-level security"):
        restricted.execute(tables.idempotency_keys.insert().values(**row))


# --- The application itself under the restricted role ---------------------------------------


@pytest.fixture
def rls_app(app: Flask) -> Iterator[Flask]:
    app.config[RLS_ROLE_CONFIG] = ROLE
    yield app
    app.config.pop(RLS_ROLE_CONFIG)


def _post(client: FlaskClient, world: World, headers: dict[str, str], *events: Any) -> None:
    for body in events:
        response = client.post("/api/v1/events", json=body, headers=headers)
        assert response.status_code == 201, (body["biz_step"], response.get_json())


def test_the_app_under_rls_ships_receives_and_scopes_reads(
    rls_app: Flask, client: FlaskClient, world: World
) -> None:
    p, h = token(world, "P", Role.SCANNER), token(world, "H", Role.SCANNER)
    s60 = token(world, "S60", Role.SCANNER)
    goods = [gauze(10, lot="G9"), stent("RLS-9")]
    _post(
        client,
        world,
        p,
        event_json(world, B.RECEIVING, goods, at="W-P/Q", owner="X", source_party_id=world["M"]),
        event_json(world, B.INSPECTING, goods, at="W-P/Q"),
        event_json(world, B.STORING, goods, at="W-P/A", rp="W-P/Q"),
        event_json(world, B.SHIPPING, goods, rp="W-P/A", to="H"),
    )
    shipment = client.get("/api/v1/events?biz_step=shipping", headers=p).get_json()["items"][0]
    receipt = event_json(world, B.RECEIVING, [gauze(8, lot="G9"), stent("RLS-9")], at="W-H/Q")
    receipt |= {"owner_id": str(world["H"]), "shipment_id": shipment["shipment_id"]}
    _post(client, world, h, receipt)  # H reads P's shipment and the unit in transit to it
    stock = client.get("/api/v1/stock?lot=G9", headers=h).get_json()["items"]
    assert [(s["warehouse_id"], s["quantity"]) for s in stock] == [(str(world["W-H"]), 8)]
    short = client.get("/api/v1/discrepancies", headers=p).get_json()["items"]
    assert [(d["kind"], d["received_quantity"]) for d in short] == [("short", 8)]
    assert client.get("/api/v1/discrepancies", headers=s60).get_json()["items"] == []
    assert client.get("/api/v1/stock", headers=s60).get_json()["items"] == []
    foreign = client.get(f"/api/v1/events/{shipment['id']}", headers=s60)
    assert foreign.status_code == 404
    admin = token(world, "S60", Role.ADMIN)  # bypasses: sees every organisation's stock
    owners = {s["owner_id"] for s in client.get("/api/v1/stock", headers=admin).get_json()["items"]}
    assert {str(world["X"]), str(world["H"])} <= owners
    # The requests really ran as the restricted role (SET LOCAL lasts to the test's rollback).
    assert world.session.execute(text("SELECT current_user")).scalar_one() == ROLE


@pytest.mark.parametrize("rls", [False, True], ids=["app-filter-only", "with-rls"])
def test_a_forgotten_filter_leaks_only_without_rls(
    app: Flask,
    client: FlaskClient,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    rls: bool,
) -> None:
    # Simulate a read that forgot its organisation condition.
    monkeypatch.setattr(movements, "_visible", lambda *_args: [])
    if rls:
        app.config[RLS_ROLE_CONFIG] = ROLE
    try:
        outsider = token(world, "S60", Role.SCANNER)
        seen = client.get("/api/v1/stock", headers=outsider).get_json()["items"]
    finally:
        app.config.pop(RLS_ROLE_CONFIG, None)
    if rls:
        assert seen == []
    else:
        assert len(seen) == 3  # the leak RLS exists to stop


@pytest.fixture
def devices(client: FlaskClient, world: World) -> tuple[uuid.UUID, uuid.UUID]:
    """P's and X's registered handhelds; P's has received one stent by scan."""
    mine, device = register(client, world, "P", "W-P", name="dock P")
    theirs, _ = register(client, world, "X", "W-X", name="dock X")
    body = scan(world, stent_label("RLS-SCAN"), "receive", "W-P/Q", owner="X")
    scanned = client.post("/api/v1/scans", json=body, headers=device)
    assert scanned.status_code == 201, scanned.get_data(as_text=True)
    return uuid.UUID(mine["id"]), uuid.UUID(theirs["id"])


def test_scanner_devices_and_scans_are_tenant_rows_too(
    devices: tuple[uuid.UUID, uuid.UUID], world: World, restricted: Connection
) -> None:
    mine, theirs = devices
    assert {(mine,), (theirs,)} <= _parties(restricted, "scanner_devices", "id")

    _as(restricted, world["P"])

    assert _parties(restricted, "scanner_devices", "id") == {(mine,)}
    assert _parties(restricted, "scans", "organisation_id") == {(world["P"],)}


# --- Master data, recalls, the regulator log and the audit chain (migration 0014) -------------

OUTSIDER = "S60"
"""Owns its organisation, warehouse and licence, and is party to nothing else of the world."""

OWNER = {
    "organisations": "id",
    "licences": "holder_id",
    "licence_warehouses": "(SELECT holder_id FROM licences l WHERE l.id = licence_version_id)",
    "devices": "registrant_id",
    "device_certificates": "(SELECT registrant_id FROM devices d WHERE d.id = device_id)",
    "device_packages": "(SELECT registrant_id FROM devices d WHERE d.id = device_id)",
    "warehouses": "operator_id",
    "locations": "(SELECT operator_id FROM warehouses w WHERE w.id = warehouse_id)",
    "ownership_links": "parent_id",
    "entrustment_agreements": "client_id",
    "agreement_warehouses": (
        "(SELECT client_id FROM entrustment_agreements a WHERE a.id = agreement_id)"
    ),
    "master_data_versions": (
        "CASE entity WHEN 'warehouse' THEN"
        " (SELECT operator_id FROM warehouses w WHERE w.id = entity_id) END"
    ),
    "recalls": "registrant_id",
    "recall_holds": "possessor_id",
    "regulator_queries": "organisation_id",
    "audit_batches": (
        "(SELECT min(acting_org_id::text) FROM events e"
        " WHERE e.batch_id = audit_batches.batch_id)::uuid"
    ),
}
"""Table of migration 0014 -> SQL for the organisation that writes a row (read as superuser)."""

APPEND_ONLY = {"audit_batches"}
"""Tables whose UPDATE a trigger refuses for everyone (migration 0008)."""


@pytest.fixture
def registers(world: World, db_session: Session) -> World:
    """The world plus a package DI, M's recall of both gauze lots, and a regulator's query."""
    stent_id = db_session.execute(
        select(tables.devices.c.id).where(tables.devices.c.di == STENT)
    ).scalar_one()
    db_session.execute(
        tables.device_packages.insert().values(
            id=uuid.uuid4(),
            device_id=stent_id,
            package_di=f"1{STENT[1:]}",
            content_di=STENT,
            quantity=10,
        )
    )
    db_session.commit()
    maker = Principal(uuid.uuid4(), world["M"], frozenset({Role.ORG_MANAGER}), None)
    order = recalls.NewRecall(GAUZE, "RLS test", RecallClass.III, lots=("G1", "G7"))
    recalls.create(db_session, maker, order)
    world.ids["R"] = ensure_organisation(
        db_session, "厦门市市场监督管理局", "11350200MB0000000R", "350200", ["regulator"]
    )
    db_session.commit()
    bureau = Principal(uuid.uuid4(), world["R"], frozenset({Role.REGULATOR}), "3502")
    regulator_log.record(
        db_session, bureau, regulator_log.Query("GET", "/api/v1/stock", {}, 200, 0)
    )
    return world


def _row_owned_by_someone(connection: Connection, table: str, outsider: uuid.UUID) -> Any:
    """A row of ``table`` (as the superuser) whose writer is not ``outsider``, and the writer."""
    found = connection.execute(
        text(f"SELECT {OWNER[table]} AS writer, {table}.* FROM {table}")
    ).mappings()
    for row in found:
        if row["writer"] is not None and row["writer"] != outsider:
            columns = TABLES[table].columns.keys()
            return row["writer"], {name: row[name] for name in columns}
    raise AssertionError(f"Expected the world to hold a row of {table}, got none")


TABLES = {**tables.metadata.tables}


def _primary_key(table: str, row: dict[str, Any]) -> Any:
    t = TABLES[table]
    return and_(*(column == row[column.name] for column in t.primary_key.columns))


def _attempt(connection: Connection, statement: Any) -> Exception | int:
    """Run ``statement`` in a savepoint; return the rows it changed, or what it raised."""
    savepoint = connection.begin_nested()
    try:
        changed = connection.execute(statement).rowcount
    except (ProgrammingError, IntegrityError) as error:
        savepoint.rollback()
        return error
    savepoint.rollback()
    return changed


def test_tables_others_may_read_have_a_select_only_reader_policy(db_session: Session) -> None:
    found = db_session.execute(
        text(
            "SELECT tablename, policyname, cmd, permissive FROM pg_policies"
            " WHERE tablename = ANY(:tables) ORDER BY 1, 2"
        ),
        {"tables": list(MASTER_DATA.POLICIES)},
    ).all()
    expected = []
    for table in sorted(MASTER_DATA.POLICIES):
        expected.append((table, "tenant", "ALL", "PERMISSIVE"))
        if table in MASTER_DATA.UNDELETABLE:
            expected.append((table, "tenant_keep", "DELETE", "RESTRICTIVE"))
        if table in MASTER_DATA.READERS:
            expected.append((table, "tenant_read", "SELECT", "PERMISSIVE"))
    assert [tuple(row) for row in found] == expected


@pytest.mark.parametrize("table", sorted(OWNER))
def test_a_row_of_another_organisation_cannot_be_written_an_own_row_can(
    registers: World, restricted: Connection, table: str
) -> None:
    outsider = registers[OUTSIDER]
    writer, row = _row_owned_by_someone(restricted, table, outsider)
    t = TABLES[table]
    # The exact copy of an existing row: the policy is checked before the unique keys, so the
    # writer gets a duplicate key, anyone else the policy's refusal.
    _as(restricted, outsider)
    refused = _attempt(restricted, t.insert().values(**row))
    assert isinstance(refused, ProgrammingError), refused
    assert "row-level security" in str(refused)
    if table not in APPEND_ONLY:
        untouched = update(t).where(_primary_key(table, row)).values(**row)
        assert _attempt(restricted, untouched) == 0
    _as(restricted, writer)
    duplicate = _attempt(restricted, t.insert().values(**row))
    assert isinstance(duplicate, IntegrityError), duplicate
    if table not in APPEND_ONLY:
        assert _attempt(restricted, update(t).where(_primary_key(table, row)).values(**row)) == 1


def test_rows_of_agreements_holds_and_the_regulator_log_stay_with_their_parties(
    registers: World, restricted: Connection
) -> None:
    w = registers
    holds = _parties(restricted, "recall_holds", "owner_id", "possessor_id")
    assert holds == {(w["H"], w["H"]), (w["X"], w["P"])}  # the superuser sees both holders
    _as(restricted, w["H"])
    assert _parties(restricted, "recall_holds", "possessor_id") == {(w["H"],)}
    assert _parties(restricted, "entrustment_agreements", "client_id") == set()
    assert _parties(restricted, "regulator_queries", "organisation_id") == set()
    _as(restricted, w["P"])  # the provider: its agreement, its warehouses, and its hold
    assert _parties(restricted, "entrustment_agreements", "client_id", "provider_id") == {
        (w["X"], w["P"])
    }
    assert _parties(restricted, "agreement_warehouses", "warehouse_id") == {
        (w["W-P"],),
        (w["W-S"],),
    }
    assert _parties(restricted, "recall_holds", "possessor_id") == {(w["P"],)}
    _as(restricted, w["M"])  # the registrant follows every holder of its recall
    assert _parties(restricted, "recall_holds", "possessor_id") == {(w["P"],), (w["H"],)}
    _as(restricted, w["R"])  # the bureau (its auditors) reads its own log
    assert _parties(restricted, "regulator_queries", "organisation_id") == {(w["R"],)}
    _as(restricted, w[OUTSIDER])
    for table in ("entrustment_agreements", "agreement_warehouses", "recall_holds"):
        assert restricted.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    entities = _parties(restricted, "master_data_versions", "entity")
    assert ("entrustment_agreement",) not in entities
    assert ("warehouse",) in entities


def test_registers_recall_notices_and_the_chain_are_read_by_everyone(
    registers: World, restricted: Connection
) -> None:
    shared = [t for t in SHARED_TABLES if MASTER_DATA.READERS[t] == "true"]
    everything = {
        t: restricted.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in shared
    }
    assert all(everything.values()), everything
    for org in (registers[OUTSIDER], None):  # an organisation, and none at all
        _as(restricted, org)
        seen = {
            t: restricted.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in shared
        }
        assert seen == everything


def test_the_chain_head_moves_only_onto_a_sealed_batch_and_is_never_deleted(
    registers: World, restricted: Connection
) -> None:
    head = tables.audit_head
    sequence, batch_hash = restricted.execute(select(head.c.sequence, head.c.batch_hash)).one()
    _as(restricted, registers["X"])
    forged = update(head).values(sequence=sequence + 1, batch_hash="f" * 64)
    refused = _attempt(restricted, forged)
    assert isinstance(refused, ProgrammingError)
    assert "row-level security" in str(refused)
    assert _attempt(restricted, update(head).values(batch_hash=batch_hash)) == 1
    assert _attempt(restricted, head.delete()) == 0
    _as(restricted, "", bypass="on")
    assert _attempt(restricted, head.delete()) == 1  # the system may (it never does)


# --- A stock count under RLS: a stray another organisation holds ----------------------------


def test_a_count_under_rls_reports_another_organisations_unit_as_not_yours_and_keeps_it(
    rls_app: Flask, client: FlaskClient, world: World
) -> None:
    h_manager = token(world, "H", Role.ORG_MANAGER)
    opened = client.post(
        "/api/v1/stock-counts", json={"location_id": str(world["W-H/A"])}, headers=h_manager
    )
    assert opened.status_code == 201, opened.get_json()
    count = opened.get_json()
    _, device = register(client, world, "H", "W-H", name="ward scanner")
    strays = ["RLS-1", "RLS-404"]  # X holds the first in W-X; nobody ever received the second
    scans = [scan(world, stent_label(s), "stock_count", "W-H/A") for s in strays]
    for body in scans:
        body["count_id"] = count["id"]
    sent = client.post("/api/v1/scans/batch", json={"scans": scans}, headers=device)
    assert sent.get_json()["accepted"] == 2, sent.get_json()

    report = client.get(f"/api/v1/stock-counts/{count['id']}", headers=h_manager)
    notes = {x["serial"]: x["note"] for x in report.get_json()["unexpected"]}
    assert notes == {"RLS-1": NOT_YOURS, "RLS-404": "never received"}
    for secret in (world["X"], world["W-X"], world["W-X/Q"], "in_stock", "pending"):
        assert str(secret) not in report.get_data(as_text=True)

    confirmed = client.post(f"/api/v1/stock-counts/{count['id']}/confirm", headers=h_manager)
    assert confirmed.status_code == 200, confirmed.get_json()
    adjusted = {
        a["serial"]: (a["biz_step"], a["status"]) for a in confirmed.get_json()["adjustments"]
    }
    assert adjusted == {"RLS-404": ("receiving", "accepted")}  # X's unit is left alone
    x = token(world, "X", Role.WAREHOUSE_OPERATOR)
    mine = client.get(f"/api/v1/stock?di={STENT}&warehouse={world['W-X']}", headers=x).get_json()
    assert sum(s["quantity"] for s in mine["items"]) == 2  # RLS-1 and RLS-2, still X's
    assert world.session.execute(text("SELECT current_user")).scalar_one() == ROLE


def test_under_rls_a_receiver_outside_a_recall_still_puts_recalled_goods_on_hold(
    rls_app: Flask, client: FlaskClient, world: World
) -> None:
    # Why recall notices are read by every organisation: P neither registered, ordered nor
    # holds anything of this recall, and goods of the lot it receives must go on recall hold.
    maker = token(world, "M", Role.ORG_MANAGER)
    body = {"di": STENT, "lots": ["L9"], "reason": "RLS test", "recall_class": "I"}
    ordered = client.post("/api/v1/recalls", json=body, headers=maker)
    assert ordered.status_code == 201, ordered.get_json()
    p = token(world, "P", Role.SCANNER)
    goods = [stent("RLS-R1", lot="L9"), stent("RLS-R2", lot="L8")]
    _post(client, world, p, event_json(world, B.RECEIVING, goods, at="W-P/Q", owner="X"))
    stock = client.get(f"/api/v1/stock?di={STENT}", headers=p).get_json()["items"]
    assert sorted((s["lot"], s["status"]) for s in stock) == [
        ("L8", "pending_acceptance"),
        ("L9", "recalled"),
    ]
    recall = client.get(f"/api/v1/recalls/{ordered.get_json()['id']}", headers=maker).get_json()
    held = {h["holder_id"]: h["held"] for h in recall["progress"]["holders"]}
    assert held == {str(world["P"]): 1}  # P's hold line, written under P's own policy
