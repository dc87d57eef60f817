"""POST/GET /api/v1/recalls: blast radius, recall hold, progress, sweep and exports, both engines.

The world (tests/movements_world.py): M registers the stent (serialised, lot L1) and the gauze
(lot quantities). Before the recall of stent lot L1:

    S1, S2   P's 3PL warehouse W-P/A, owned by X, packed in one container
    S3       used on a patient at hospital H
    S4       destroyed at H
    S5       in stock at H (W-H/Q)
    S6       in transit from P to H
    S7       lot L2 at P: not recalled
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import GAUZE, STENT, World, build_world, event_json, gauze, stent, token
from warehouse import tables
from warehouse.db import RLS_ROLE_CONFIG
from warehouse.domain.movements import Action, EventType
from warehouse.domain.movements import BizStep as B
from warehouse.domain.recalls import RecallClass
from warehouse.domain.roles import Role
from warehouse.services import audit, recalls
from warehouse.services.access import SYSTEM
from warehouse.services.errors import ValidationFailed

Headers = dict[str, str]
SSCC = "106141411234567897"
PATIENT = {"patient_ref": "p-7f3a", "encounter_ref": "e-2026-1"}


@pytest.fixture
def world(db_session: Session) -> World:
    world = build_world(db_session)
    world.receive_stock("P", "W-P", [stent(f"S{n}") for n in range(1, 7)], owner="X")
    world.receive_stock("P", "W-P", [stent("S7", lot="L2"), gauze(10)], owner="X")
    pack = {"event_type": EventType.AGGREGATION, "parent_sscc": SSCC, "action": Action.ADD}
    world.ok(B.PACKING, "P", [stent("S1"), stent("S2")], **pack)
    world.ok(B.SHIPPING, "P", [stent("S3"), stent("S4"), stent("S5")], rp="W-P/A", to="H")
    world.ok(B.RECEIVING, "H", [stent("S3"), stent("S4"), stent("S5")], at="W-H/Q", owner="H")
    world.ok(B.INSPECTING, "H", [stent("S3"), stent("S4"), stent("S5")], at="W-H/Q")
    world.ok(B.DISPENSING, "H", [stent("S3")], **PATIENT)
    world.ok(B.DESTROYING, "H", [stent("S4")])
    world.ok(B.SHIPPING, "P", [stent("S6")], rp="W-P/A", to="H", to_wh="W-H")
    return world


@pytest.fixture
def maker(world: World) -> Headers:
    return token(world, "M", Role.ORG_MANAGER)


def order(client: FlaskClient, headers: Headers, **body: Any) -> Any:
    payload = {"di": STENT, "lots": ["L1"], "reason": "支架涂层脱落", "recall_class": "I", **body}
    return client.post("/api/v1/recalls", json=payload, headers=headers)


def names(world: World) -> dict[str, str]:
    return {str(v): k for k, v in world.ids.items()}


def test_a_recall_reports_the_blast_radius_and_holds_what_is_in_stock(
    client: FlaskClient, world: World, maker: Headers
) -> None:
    response = order(client, maker)
    assert response.status_code == 201, response.get_data(as_text=True)
    recall = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/recalls/{recall['id']}")
    assert (recall["recall_class_label_zh"], recall["notify_within_days"]) == ("一级召回", 1)
    radius, key = recall["blast_radius"], names(world)
    assert radius["totals"] == {
        "in_stock": 3,
        "in_transit": 1,
        "in_container": 2,
        "dispensed": 1,
        "destroyed": 1,
        "returned": 0,
        "already_recalled": 0,
    }
    in_stock = sorted(
        (key[line["possessor_id"]], key[line["location_id"]], line["status"], line["quantity"])
        for line in radius["in_stock"]
    )
    assert in_stock == [("H", "W-H/Q", "available", 1), ("P", "W-P/A", "available", 2)]
    assert radius["in_stock"][0]["possessor_name"]
    [transit] = radius["in_transit"]
    assert (key[transit["from_org_id"]], key[transit["destination_party_id"]]) == ("P", "H")
    assert transit["quantity"] == 1
    [box] = radius["in_container"]
    assert (box["sscc"], key[box["possessor_id"]], box["quantity"]) == (SSCC, "P", 2)
    assert [(key[x["organisation_id"]], x["quantity"]) for x in radius["dispensed"]] == [("H", 1)]
    assert [(key[x["organisation_id"]], x["quantity"]) for x in radius["destroyed"]] == [("H", 1)]
    assert recall["held_quantity"] == 3
    holders = {key[h["holder_id"]]: h for h in recall["progress"]["holders"]}
    assert {k: (h["held"], h["outstanding"]) for k, h in holders.items()} == {
        "H": (1, 1),
        "P": (2, 2),
    }
    # The hold: units and balances recalled, S7 (lot L2) untouched, the stock still balanced.
    statuses = {s: world.unit(s)["status"] for s in ("S1", "S2", "S5", "S6", "S7", "S3")}
    assert statuses == {
        "S1": "recalled",
        "S2": "recalled",
        "S5": "recalled",
        "S6": "in_transit",
        "S7": "available",
        "S3": "dispensed",
    }
    assert world.unit("S1")["container_sscc"] == SSCC
    assert world.stock(possessor_id="P") == {
        ("W-P/A", STENT, "L1", "recalled"): 2,
        ("W-P/A", STENT, "L2", "available"): 1,
        ("W-P/A", GAUZE, "G1", "available"): 10,
    }
    assert world.stock(possessor_id="H") == {("W-H/Q", STENT, "L1", "recalled"): 1}


def test_the_hold_is_recorded_as_holding_events_per_holder_and_location(
    client: FlaskClient, world: World, maker: Headers
) -> None:
    recall = order(client, maker).get_json()
    events = client.get("/api/v1/events?biz_step=holding", headers=maker).get_json()["items"]
    key = names(world)
    found = sorted(
        (
            key[e["possessor_id"]],
            key[e["location_id"]],
            e["disposition"],
            [(i["lot"], i["quantity"]) for i in e["items"]],
        )
        for e in events
    )
    assert found == [
        ("H", "W-H/Q", "recalled", [("L1", 1)]),
        ("P", "W-P/A", "recalled", [("L1", 2)]),
    ]
    assert {key[e["acting_org_id"]] for e in events} == {"M"}
    holds = world.session.execute(select(tables.recall_holds)).mappings().all()
    assert {h["event_id"] for h in holds} == {uuid.UUID(e["id"]) for e in events}
    assert {str(h["recall_id"]) for h in holds} == {recall["id"]}
    event_of_p = next(e["id"] for e in events if key[e["possessor_id"]] == "P")
    assert str(world.unit("S1")["last_event_id"]) == event_of_p
    world.session.rollback()
    checked = audit.verify(world.session)  # the holding events are sealed in the audit chain
    assert checked.ok, checked.broken
    assert checked.events >= len(events) + 1


def test_recalled_goods_may_not_be_picked_shipped_or_used(
    client: FlaskClient, world: World, maker: Headers
) -> None:
    order(client, maker)
    order(client, maker, di=GAUZE, lots=["G1"], recall_class="II")
    scanner = token(world, "P", Role.SCANNER)
    for body in (
        event_json(world, B.PICKING, [stent("S2")], rp="W-P/A"),
        event_json(world, B.PICKING, [gauze(3)], rp="W-P/A"),
        event_json(world, B.SHIPPING, [stent("S7", lot="L2"), stent("S2")], rp="W-P/A", to="H"),
    ):
        answer = client.post("/api/v1/events", json=body, headers=scanner)
        problem = assert_problem(answer, 422, "movement.recalled")
        assert problem["errors"][0]["code"] == "movement.recalled"
    hospital = token(world, "H", Role.HOSPITAL_USER)
    use = event_json(world, B.DISPENSING, [stent("S5")], **PATIENT)
    assert_problem(
        client.post("/api/v1/events", json=use, headers=hospital), 422, "movement.recalled"
    )
    assert world.unit("S7")["status"] == "available"  # the refused shipment left it alone


def test_progress_counts_returns_and_destructions_per_holder(
    client: FlaskClient, world: World, maker: Headers
) -> None:
    recall = order(client, maker).get_json()
    world.ok(B.RETURNING, "H", [stent("S5")], at="W-H/R")
    world.ok(B.DESTROYING, "P", [stent("S1")])
    world.ok(B.RETURNING, "P", [stent("S7", lot="L2")], at="W-P/R")  # another lot: not counted
    body = client.get(f"/api/v1/recalls/{recall['id']}", headers=maker).get_json()
    key = names(world)
    progress = {
        key[h["holder_id"]]: (
            h["held"],
            h["returned"],
            h["destroyed"],
            h["accounted_for"],
            h["outstanding"],
            h["done"],
        )
        for h in body["progress"]["holders"]
    }
    assert progress == {"H": (1, 1, 0, 1, 0, True), "P": (2, 0, 1, 1, 1, False)}
    assert body["progress"]["totals"] == {
        "held": 3,
        "returned": 1,
        "destroyed": 1,
        "accounted_for": 2,
        "outstanding": 1,
    }
    assert body["blast_radius"]["totals"]["in_stock"] == 3  # as ordered, not as now


def test_goods_received_after_the_recall_go_straight_on_recall_hold(
    client: FlaskClient, world: World, maker: Headers
) -> None:
    recall = order(client, maker).get_json()
    world.ok(B.RECEIVING, "H", [stent("S6")], at="W-H/Q", owner="H")
    assert world.unit("S6")["status"] == "recalled"
    refused = world.refused(B.INSPECTING, "H", [stent("S6")], at="W-H/Q")
    assert (refused.code, "got recalled" in refused.detail) == ("movement.not_in_stock", True)
    assert world.refused(B.PICKING, "H", [stent("S6")], rp="W-H/Q").code == "movement.recalled"
    body = client.get(f"/api/v1/recalls/{recall['id']}", headers=maker).get_json()
    holders = {names(world)[h["holder_id"]]: h for h in body["progress"]["holders"]}
    assert (holders["H"]["held"], holders["H"]["outstanding"]) == (2, 2)
    swept = client.post(f"/api/v1/recalls/{recall['id']}/sweep", headers=maker)
    assert swept.status_code == 200, swept.get_data(as_text=True)
    assert swept.get_json()["progress"]["totals"]["held"] == 4  # nothing left to hold


def test_a_lot_quantity_received_after_the_recall_is_held_on_arrival(
    client: FlaskClient, world: World, maker: Headers
) -> None:
    world.ok(B.SHIPPING, "P", [gauze(4)], rp="W-P/A", to="H")
    recall = order(client, maker, di=GAUZE, lots=["G1"], recall_class="III").get_json()
    world.ok(B.RECEIVING, "H", [gauze(4)], at="W-H/Q", owner="H")
    gauze_at_h = {k: v for k, v in world.stock(possessor_id="H").items() if k[1] == GAUZE}
    assert gauze_at_h == {("W-H/Q", GAUZE, "G1", "recalled"): 4}
    body = client.get(f"/api/v1/recalls/{recall['id']}", headers=maker).get_json()
    holders = {names(world)[h["holder_id"]]: h["held"] for h in body["progress"]["holders"]}
    assert holders == {"P": 6, "H": 4}


def test_single_serials_split_their_balance(
    client: FlaskClient, world: World, maker: Headers
) -> None:
    response = order(client, maker, lots=[], serials=["S2", "S7", "S3", "S404"])
    assert response.status_code == 201, response.get_data(as_text=True)
    recall = response.get_json()
    assert recall["held_quantity"] == 2
    assert recall["blast_radius"]["totals"]["dispensed"] == 1
    assert world.stock(possessor_id="P") == {
        ("W-P/A", STENT, "L1", "available"): 1,
        ("W-P/A", STENT, "L1", "recalled"): 1,
        ("W-P/A", STENT, "L2", "recalled"): 1,
        ("W-P/A", GAUZE, "G1", "available"): 10,
    }
    assert (world.unit("S1")["status"], world.unit("S2")["status"]) == ("available", "recalled")
    events = client.get("/api/v1/events?biz_step=holding", headers=maker).get_json()["items"]
    [event] = events
    assert sorted(i["serial"] for i in event["items"]) == ["S2", "S7"]


def test_lot_quantities_are_held_too(client: FlaskClient, world: World, maker: Headers) -> None:
    world.ok(B.SHIPPING, "P", [gauze(4)], rp="W-P/A", to="H")
    recall = order(client, maker, di=GAUZE, lots=["G1"], recall_class="III").get_json()
    totals = recall["blast_radius"]["totals"]
    assert (totals["in_stock"], totals["in_transit"], recall["held_quantity"]) == (6, 4, 6)
    assert world.stock(possessor_id="P")[("W-P/A", GAUZE, "G1", "recalled")] == 6
    assert ("W-P/A", GAUZE, "G1", "available") not in world.stock(possessor_id="P")
    world.ok(B.DESTROYING, "P", [gauze(2)], rp="W-P/A")
    world.ok(B.RETURNING, "P", [gauze(1)], rp="W-P/A", at="W-P/R")
    body = client.get(f"/api/v1/recalls/{recall['id']}", headers=maker).get_json()
    [holder] = body["progress"]["holders"]
    assert (holder["held"], holder["returned"], holder["destroyed"]) == (6, 1, 2)
    assert (holder["accounted_for"], holder["outstanding"]) == (3, 3)
    assert world.stock(possessor_id="P")[("W-P/R", GAUZE, "G1", "pending_acceptance")] == 1


def test_only_the_registrant_or_an_admin_orders_a_recall(
    client: FlaskClient, world: World, maker: Headers, auth: Headers, make_token: Any
) -> None:
    distributor = token(world, "X", Role.ORG_MANAGER)
    assert_problem(order(client, distributor), 403, "auth.not_own_organisation")
    regulator = make_token(Role.REGULATOR, jurisdiction="3502")
    assert_problem(order(client, regulator), 403, "auth.role_required")
    scanner = token(world, "M", Role.SCANNER)
    assert_problem(order(client, scanner), 403, "auth.role_required")
    assert world.unit("S1")["status"] == "available"
    problem = assert_problem(order(client, maker, lots=[], serials=[]), 422, "request.validation")
    assert problem["errors"][0]["code"] == "recall.scope"
    problem = assert_problem(order(client, maker, di="06900000000000"), 422, "request.validation")
    assert problem["errors"][0]["code"] == "recall.unknown_device"
    assert_problem(order(client, maker, recall_class="IV"), 422, "request.validation")
    assert order(client, auth).status_code == 201


def test_who_sees_a_recall(
    client: FlaskClient, world: World, maker: Headers, make_token: Any
) -> None:
    recall = order(client, maker).get_json()
    path = f"/api/v1/recalls/{recall['id']}"
    stranger = token(world, "S60", Role.ORG_MANAGER)
    assert_problem(client.get(path, headers=stranger), 404, "request.not_found")
    assert client.get("/api/v1/recalls", headers=stranger).get_json()["items"] == []
    hospital = token(world, "H", Role.HOSPITAL_USER)
    seen = client.get(path, headers=hospital).get_json()
    key = names(world)
    assert [key[h["holder_id"]] for h in seen["progress"]["holders"]] == ["H"]
    assert {key[x["possessor_id"]] for x in seen["blast_radius"]["in_stock"]} == {"H"}
    assert seen["blast_radius"]["in_container"] == []
    listed = client.get("/api/v1/recalls", headers=hospital).get_json()["items"]
    assert [r["id"] for r in listed] == [recall["id"]]
    inside = make_token(Role.REGULATOR, jurisdiction="3502")
    whole = client.get(path, headers=inside).get_json()
    assert len(whole["progress"]["holders"]) == 2
    assert [r["id"] for r in client.get("/api/v1/recalls", headers=inside).get_json()["items"]] == [
        recall["id"]
    ]
    outside = make_token(Role.REGULATOR, jurisdiction="3501")
    assert_problem(client.get(path, headers=outside), 404, "request.not_found")
    assert client.get("/api/v1/recalls", headers=outside).get_json()["items"] == []
    assert client.get(f"/api/v1/recalls?di={STENT}", headers=maker).get_json()["items"]
    assert client.get(f"/api/v1/recalls?di={GAUZE}", headers=maker).get_json()["items"] == []


def test_exports_per_holder_as_csv_and_xlsx(
    client: FlaskClient, world: World, maker: Headers
) -> None:
    recall = order(client, maker).get_json()
    world.ok(B.DESTROYING, "P", [stent("S1")])
    response = client.get(f"/api/v1/recalls/{recall['id']}/export.csv", headers=maker)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["类别 category", "持有单位 holder", "统一社会信用代码 credit_code"]
    rows = {(r[0], r[1]): r for r in table[1:]}
    p_name = client.get(f"/api/v1/organisations/{world['P']}", headers=maker).get_json()["name"]
    h_name = client.get(f"/api/v1/organisations/{world['H']}", headers=maker).get_json()["name"]
    p_row = rows[("on_hold", p_name)]
    assert p_row[5:] == ["2", "0", "1", "1", "1"]
    assert "W-P 仓" in p_row[3]
    assert rows[("in_transit", h_name)][5] == "1"
    assert rows[("dispensed", h_name)][5] == "1"
    assert rows[("destroyed", h_name)][5] == "1"
    xlsx = client.get(f"/api/v1/recalls/{recall['id']}/export.xlsx", headers=maker)
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.get_data()))
    sheet = [list(r) for r in book["holders"].iter_rows(values_only=True)]
    assert sheet[0] == table[0]
    assert [str(c) if c is not None else "" for c in sheet[1]] == table[1]
    about = dict(book["recall"].iter_rows(values_only=True))
    assert (about["id"], about["lots"], about["recall_class"]) == (recall["id"], "L1", "I")
    stranger = token(world, "S60", Role.ORG_MANAGER)
    export = client.get(f"/api/v1/recalls/{recall['id']}/export.csv", headers=stranger)
    assert_problem(export, 404, "request.not_found")


def test_a_recall_reaches_every_holder_under_row_level_security(
    app: Flask, client: FlaskClient, world: World, maker: Headers, engine_name: str
) -> None:
    if engine_name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's (migration 0009)")
    app.config[RLS_ROLE_CONFIG] = "udi_rls"
    try:
        response = order(client, maker)
        assert response.status_code == 201, response.get_data(as_text=True)
        recall = response.get_json()
        progress = client.get(f"/api/v1/recalls/{recall['id']}", headers=maker).get_json()
        stranger = client.get("/api/v1/stock", headers=token(world, "S60", Role.SCANNER))
    finally:
        app.config.pop(RLS_ROLE_CONFIG, None)
    assert recall["held_quantity"] == 3
    assert recall["blast_radius"]["totals"]["in_stock"] == 3
    assert progress["progress"]["totals"]["outstanding"] == 3
    holders = {names(world)[h["holder_id"]] for h in progress["progress"]["holders"]}
    assert holders == {"H", "P"}
    assert stranger.get_json()["items"] == []  # the bypass ended with the recall's transactions


def test_nul_characters_are_refused_before_they_reach_the_database(
    client: FlaskClient, world: World, maker: Headers
) -> None:
    # PostgreSQL text cannot hold NUL: it used to answer 500 there (SQLite stored it).
    for body, field in (
        ({"lots": ["L\x00"]}, "lots.0"),
        ({"lots": [], "serials": ["S1", "S\x002"]}, "serials.1"),
        ({"reason": "涂层\x00脱落"}, "reason"),
        ({"di": STENT + "\x00"}, "di"),
    ):
        problem = assert_problem(order(client, maker, **body), 422, "request.validation")
        assert [e["field"] for e in problem["errors"]] == [field], problem
        assert "NUL" in problem["errors"][0]["message"]
    assert client.get("/api/v1/recalls", headers=maker).get_json()["items"] == []
    assert world.unit("S1")["status"] == "available"
    # In a query string NUL is refused before any view (warehouse/web/hardening.py).
    assert_problem(
        client.get("/api/v1/recalls?di=%00", headers=maker), 400, "request.nul_character"
    )
    # Callers of the service other than the HTTP edge (CLI, imports) are refused too.
    with_nul = recalls.NewRecall(
        di=STENT + "\x00",
        reason="涂层\x00脱落",
        recall_class=RecallClass.I,
        lots=("L\x00",),
        serials=("S\x001",),
    )
    with pytest.raises(ValidationFailed) as refused:
        recalls.create(world.session, SYSTEM, with_nul)
    assert sorted(e.field for e in refused.value.errors) == ["di", "lots", "reason", "serials"]
    assert all("NUL" in e.message for e in refused.value.errors)


def test_a_regulator_token_of_a_holder_outside_its_jurisdiction_sees_only_its_own_lines(
    client: FlaskClient, world: World, maker: Headers
) -> None:
    recall = order(client, maker).get_json()
    path = f"/api/v1/recalls/{recall['id']}"
    key = names(world)
    # H holds goods of the recall, so its Fuzhou-regulator token sees it, as a holder only:
    # neither the registrant M nor any hold warehouse lies in Fuzhou (3501).
    elsewhere = token(world, "H", Role.REGULATOR, jurisdiction="3501")
    seen = client.get(path, headers=elsewhere)
    assert seen.status_code == 200, seen.get_data(as_text=True)
    body = seen.get_json()
    assert [key[h["holder_id"]] for h in body["progress"]["holders"]] == ["H"]
    assert {key[x["possessor_id"]] for x in body["blast_radius"]["in_stock"]} == {"H"}
    assert body["blast_radius"]["in_container"] == []
    assert body["blast_radius"]["totals"]["in_stock"] == 1
    export = client.get(f"{path}/export.csv", headers=elsewhere).get_data().decode("utf-8-sig")
    p_name = client.get(f"/api/v1/organisations/{world['P']}", headers=maker).get_json()["name"]
    assert p_name not in export
    # The same holder's Xiamen-regulator token: the recall is within 3502, so every holder.
    inside = token(world, "H", Role.REGULATOR, jurisdiction="3502")
    whole = client.get(path, headers=inside).get_json()
    assert sorted(key[h["holder_id"]] for h in whole["progress"]["holders"]) == ["H", "P"]
