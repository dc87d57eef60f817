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
from sqlalchemy import Connection, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from tests.movements_world import World, build_world, event_json, gauze, stent, token
from tests.scanning_world import register, scan, stent_label
from warehouse import tables
from warehouse.db import RLS_ROLE_CONFIG
from warehouse.domain.movements import BizStep as B
from warehouse.domain.roles import Role
from warehouse.services import movements

ROLE = "udi_rls"
VERSIONS = Path(__file__).resolve().parents[2] / "migrations/versions"
MIGRATIONS = ("0009_row_level_security.py", "0011_row_level_security_scanning.py")


def _migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"migration_{name[:4]}", VERSIONS / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TENANT_TABLES = sorted(table for name in MIGRATIONS for table in _migration(name).POLICIES)


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
            " WHERE c.relname = ANY(:tables) AND c.relkind = 'r'"
        ),
        {"tables": TENANT_TABLES},
    ).all()
    assert sorted(found) == [(table, True, "tenant") for table in TENANT_TABLES]
    role = db_session.execute(
        text("SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = :r"),
        {"r": ROLE},
    ).one()
    assert tuple(role) == (False, False, False)


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
