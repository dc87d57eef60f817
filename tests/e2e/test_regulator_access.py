"""Regulator tokens: read across organisations within a jurisdiction, never write, always logged.

The world's warehouses lie in Xiamen (350206). Distributor X owns goods stored by the 3PL P in
W-P, a warehouse registered on P's licence and not on X's. Hospital H also runs a store in
Fuzhou (350102), added here, so that a Xiamen regulator (3502) and a Fuzhou one (3501) each see
only their own city.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import STENT, T0, World, build_world, event_json, gauze, stent, token
from warehouse.domain.movements import BizStep as B
from warehouse.domain.roles import Role
from warehouse.domain.warehouses import LocationPurpose, WarehouseKind
from warehouse.services import warehouses
from warehouse.services.access import SYSTEM

Headers = dict[str, str]


@pytest.fixture
def world(db_session: Session) -> World:
    world = build_world(db_session)
    new = warehouses.NewWarehouse(
        world["H"], "H 福州仓", "福州市鼓楼区", "350102", WarehouseKind.REGISTERED
    )
    world.ids["W-HF"] = uuid.UUID(warehouses.create(db_session, SYSTEM, new).id)
    location = warehouses.add_location(
        db_session,
        SYSTEM,
        world["W-HF"],
        warehouses.NewLocation("Q", purpose=LocationPurpose.QUARANTINE),
    )
    world.ids["W-HF/Q"] = uuid.UUID(location.id)
    world.receive_stock("P", "W-P", [stent("S1"), stent("S2"), gauze(10)], owner="X")
    world.ok(B.RECEIVING, "H", [stent("F1", lot="LF")], at="W-HF/Q")
    return world


@pytest.fixture
def xiamen(make_token: Any) -> Headers:
    return make_token(Role.REGULATOR, jurisdiction="3502")


@pytest.fixture
def fuzhou(make_token: Any) -> Headers:
    return make_token(Role.REGULATOR, jurisdiction="3501")


def items(client: FlaskClient, path: str, headers: Headers) -> list[dict[str, Any]]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def test_a_regulator_sees_another_orgs_goods_in_a_3pl_warehouse_of_its_jurisdiction(
    client: FlaskClient, world: World, xiamen: Headers
) -> None:
    x, w_p = world["X"], world["W-P"]
    events = items(client, f"/api/v1/events?party_id={x}&warehouse_id={w_p}", xiamen)
    assert [e["biz_step"] for e in events] == ["receiving", "inspecting", "storing"]
    assert {(e["acting_org_id"], e["owner_id"]) for e in events} == {(str(world["P"]), str(x))}
    by_serial = items(client, f"/api/v1/events?di={STENT}&lot=L1&serial=S2", xiamen)
    assert len(by_serial) == 3
    window = (T0 + timedelta(minutes=2)).isoformat().replace("+", "%2B")
    later = items(client, f"/api/v1/events?party_id={x}&event_time_from={window}", xiamen)
    assert [e["biz_step"] for e in later] == ["inspecting", "storing"]
    one = client.get(f"/api/v1/events/{events[0]['id']}", headers=xiamen)
    assert one.status_code == 200
    stock = items(client, f"/api/v1/stock?owner_id={x}&warehouse={w_p}", xiamen)
    assert sorted((s["di"], s["quantity"]) for s in stock) == sorted(
        [(STENT, 2), (gauze(1).di, 10)]
    )
    units = items(client, f"/api/v1/regulator/units?di={STENT}&serial=S1", xiamen)
    assert [(u["serial"], u["owner_id"], u["status"]) for u in units] == [
        ("S1", str(x), "available")
    ]
    # The Fuzhou store of H is not Xiamen's to see.
    assert items(client, f"/api/v1/events?warehouse_id={world['W-HF']}", xiamen) == []
    assert items(client, "/api/v1/regulator/units?serial=F1", xiamen) == []


def test_a_regulator_outside_the_jurisdiction_gets_nothing(
    client: FlaskClient, world: World, fuzhou: Headers, xiamen: Headers
) -> None:
    x = world["X"]
    assert items(client, f"/api/v1/events?party_id={x}", fuzhou) == []
    assert items(client, f"/api/v1/stock?owner_id={x}", fuzhou) == []
    assert items(client, "/api/v1/discrepancies", fuzhou) == []
    assert items(client, f"/api/v1/regulator/units?di={STENT}&lot=L1", fuzhou) == []
    event_id = items(client, f"/api/v1/events?party_id={x}", xiamen)[0]["id"]
    assert_problem(
        client.get(f"/api/v1/events/{event_id}", headers=fuzhou), 404, "request.not_found"
    )
    # Its own city: only H's Fuzhou store.
    seen = items(client, "/api/v1/events", fuzhou)
    assert [(e["biz_step"], e["warehouse_id"]) for e in seen] == [("receiving", str(world["W-HF"]))]
    assert [u["serial"] for u in items(client, "/api/v1/regulator/units", fuzhou)] == ["F1"]


def test_regulators_are_read_only(client: FlaskClient, world: World, xiamen: Headers) -> None:
    body = event_json(world, B.PICKING, [stent("S1")], rp="W-P/A", acting_org_id=world["P"])
    assert_problem(
        client.post("/api/v1/events", json=body, headers=xiamen), 403, "auth.role_required"
    )
    recall = {"di": STENT, "lots": ["L1"], "reason": "责令召回", "recall_class": "I"}
    assert_problem(
        client.post("/api/v1/recalls", json=recall, headers=xiamen), 403, "auth.role_required"
    )
    assert world.unit("S1")["status"] == "available"


def test_every_regulator_query_is_recorded_for_its_own_organisations_auditors(
    client: FlaskClient, world: World, xiamen: Headers, make_token: Any, auth: Headers
) -> None:
    x = world["X"]
    client.get(f"/api/v1/events?party_id={x}&di={STENT}", headers=xiamen)
    client.get(f"/api/v1/stock?owner_id={x}", headers=xiamen)
    client.get(f"/api/v1/events/{uuid.uuid4()}", headers=xiamen)
    client.get(f"/api/v1/stock?owner_id={x}", headers=token(world, "X", Role.ORG_MANAGER))
    assert_problem(
        client.get("/api/v1/regulator/queries", headers=xiamen), 403, "auth.role_required"
    )
    auditor = make_token(Role.AUDITOR)
    logged = items(client, "/api/v1/regulator/queries?jurisdiction=3502", auditor)
    found = [(q["method"], q["path"], q["status"], q["result_count"]) for q in logged]
    assert found == [
        ("GET", "/api/v1/events", 200, 3),
        ("GET", "/api/v1/stock", 200, 2),
        ("GET", found[2][1], 404, 0),
        ("GET", "/api/v1/regulator/queries", 403, 0),
    ]
    assert logged[0]["query_args"] == {"party_id": [str(x)], "di": [STENT]}
    assert {q["jurisdiction"] for q in logged} == {"3502"}
    assert len({q["token_id"] for q in logged}) == 1
    assert logged[0]["requested_at"] <= logged[1]["requested_at"]
    # Admins read it too, filtered by path; nothing of the distributor's own query is logged.
    stock = items(client, "/api/v1/regulator/queries?path_prefix=/api/v1/stock", auth)
    assert [q["result_count"] for q in stock] == [2]
    assert items(client, "/api/v1/regulator/queries?jurisdiction=3501", auth) == []
    scanner = token(world, "P", Role.SCANNER)
    assert_problem(
        client.get("/api/v1/regulator/queries", headers=scanner), 403, "auth.role_required"
    )


def test_the_serial_listing_is_for_regulators_and_admins(
    client: FlaskClient, world: World, auth: Headers
) -> None:
    scanner = token(world, "P", Role.SCANNER)
    answer = client.get("/api/v1/regulator/units", headers=scanner)
    assert_problem(answer, 403, "auth.role_required")
    every = items(client, f"/api/v1/regulator/units?di={STENT}", auth)
    assert sorted(u["serial"] for u in every) == ["F1", "S1", "S2"]
    assert_problem(
        client.get("/api/v1/regulator/units?status=lost", headers=auth), 422, "request.validation"
    )


def test_an_auditor_reads_only_the_queries_of_its_own_organisations_regulators(
    client: FlaskClient, world: World, xiamen: Headers, make_token: Any, auth: Headers
) -> None:
    # Two regulator bodies: the one of the default test organisation, and one registered as M.
    other = token(world, "M", Role.REGULATOR, jurisdiction="3502")
    client.get(f"/api/v1/regulator/units?serial=S1&di={STENT}", headers=xiamen)
    client.get(f"/api/v1/regulator/units?serial=S2&owner_id={world['X']}", headers=other)

    def serials(headers: Headers, query: str = "") -> list[str]:
        logged = items(client, f"/api/v1/regulator/queries{query}", headers)
        return [q["query_args"]["serial"][0] for q in logged]

    assert serials(token(world, "H", Role.AUDITOR)) == []  # the hospital's own auditor
    m = world["M"]
    assert serials(token(world, "H", Role.AUDITOR), f"?organisation_id={m}") == []
    assert serials(token(world, "M", Role.AUDITOR)) == ["S2"]
    assert serials(make_token(Role.AUDITOR)) == ["S1"]
    assert serials(auth) == ["S1", "S2"]  # admins read every regulator's queries
    assert serials(auth, f"?organisation_id={m}") == ["S2"]
    assert_problem(
        client.get("/api/v1/regulator/queries", headers=token(world, "M", Role.ORG_MANAGER)),
        403,
        "auth.role_required",
    )


def test_nul_characters_are_refused_and_logged_as_symbols(
    client: FlaskClient, world: World, xiamen: Headers, auth: Headers
) -> None:
    # PostgreSQL text and JSON cannot hold NUL: these used to answer 500 there. In a path or
    # query string NUL is refused before any view (warehouse/web/hardening.py).
    for name in ("di", "serial", "lot"):
        answer = client.get(f"/api/v1/regulator/units?{name}=a%00b", headers=xiamen)
        assert_problem(answer, 400, "request.nul_character")
    nul = "request.nul_character"
    assert_problem(client.get("/api/v1/recalls/%00", headers=xiamen), 400, nul)
    assert_problem(client.get("/api/v1/regulator/units?a%00=1", headers=xiamen), 400, nul)
    answer = client.get("/api/v1/regulator/queries?path_prefix=%00", headers=auth)
    assert_problem(answer, 400, nul)
    answer = client.get("/api/v1/regulator/queries?jurisdiction=3502%0A", headers=auth)
    assert_problem(answer, 422, "request.validation")
    # The log keeps what the regulator asked for, NUL shown as U+2400 (␀).
    logged = items(client, "/api/v1/regulator/queries", auth)
    assert [(q["path"], q["query_args"], q["status"]) for q in logged] == [
        ("/api/v1/regulator/units", {"di": ["a\u2400b"]}, 400),
        ("/api/v1/regulator/units", {"serial": ["a\u2400b"]}, 400),
        ("/api/v1/regulator/units", {"lot": ["a\u2400b"]}, 400),
        ("/api/v1/recalls/\u2400", {}, 400),
        ("/api/v1/regulator/units", {"a\u2400": ["1"]}, 400),
    ]
