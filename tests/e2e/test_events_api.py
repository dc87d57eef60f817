"""POST/GET /api/v1/events, GET /api/v1/stock, /stock/fefo and /discrepancies on both engines."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import (
    GAUZE,
    STENT,
    World,
    build_world,
    event_json,
    gauze,
    stent,
    token,
)
from warehouse.domain.movements import BizStep as B
from warehouse.domain.roles import Role

Headers = dict[str, str]


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


@pytest.fixture
def p_token(world: World) -> Headers:
    return token(world, "P", Role.SCANNER)


def post(client: FlaskClient, body: dict[str, Any], headers: Headers) -> Any:
    return client.post("/api/v1/events", json=body, headers=headers)


def test_one_event_is_201_with_a_location_and_its_repeat_returns_the_original(
    client: FlaskClient, world: World, p_token: Headers
) -> None:
    body = event_json(world, B.RECEIVING, [stent("S1")], at="W-P/Q", owner="X")
    first = post(client, body, p_token)
    assert first.status_code == 201, first.get_data(as_text=True)
    created = first.get_json()
    assert (created["biz_step"], created["biz_step_label_zh"]) == ("receiving", "收货")
    assert created["event_time"] == body["event_time"]
    assert created["event_time_offset"] == "+08:00"
    assert created["items"][0]["serial"] == "S1"
    assert len(created["event_hash"]) == 64
    again = post(client, body, p_token)
    assert again.status_code == 200
    assert again.get_json()["id"] == created["id"]
    read = client.get(first.headers["Location"], headers=p_token)
    assert read.get_json() == created
    changed = {**body, "items": [{"di": STENT, "serial": "S2", "lot": "L1"}]}
    assert_problem(post(client, changed, p_token), 422, "event.id_reused")


def test_a_batch_answers_per_event_and_keeps_the_good_ones(
    client: FlaskClient, world: World, p_token: Headers
) -> None:
    events = [
        event_json(world, B.RECEIVING, [gauze(5)], at="W-P/Q", owner="X"),
        {"event_id": "not-a-uuid", "biz_step": "receiving"},
        event_json(world, B.PICKING, [stent("S9")], rp="W-P/Q"),
        event_json(world, B.RECEIVING, [stent("S1")], at="W-S60/Q", owner="X"),
        event_json(world, B.INSPECTING, [gauze(5)], at="W-P/Q"),
    ]
    response = post(client, {"events": events}, p_token)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 3)
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert results[1]["problem"]["code"] == "request.validation"
    assert {e["field"] for e in results[1]["problem"]["errors"]} >= {"event_id", "event_time"}
    assert results[2]["problem"]["code"] == "movement.not_in_stock"
    custody = results[3]["problem"]
    assert (custody["code"], custody["status"]) == ("custody.refused", 422)
    assert "custody.not_wholly_owned" in {e["code"] for e in custody["errors"]}
    assert results[0]["problem"] is None
    replay = post(client, {"events": events}, p_token).get_json()
    assert (replay["accepted"], replay["duplicates"], replay["rejected"]) == (0, 2, 3)


def test_a_double_pick_is_a_409_problem(
    client: FlaskClient, world: World, p_token: Headers
) -> None:
    world.receive_stock("P", "W-P", [stent("S1")], owner="X")
    assert post(client, event_json(world, B.PICKING, [stent("S1")]), p_token).status_code == 201
    second = post(client, event_json(world, B.PICKING, [stent("S1")]), p_token)
    problem = assert_problem(second, 409, "stock.conflict")
    assert problem["errors"][0]["field"] == "items[0]"


def test_roles_and_acting_organisation(client: FlaskClient, world: World) -> None:
    regulator = token(world, "P", Role.REGULATOR, jurisdiction="3502")
    body = event_json(world, B.RECEIVING, [stent("S1")], at="W-P/Q", owner="X")
    assert_problem(post(client, body, regulator), 403, "auth.role_required")
    for_other = {**body, "acting_org_id": str(world["X"])}
    assert_problem(post(client, for_other, token(world, "P")), 403, "auth.not_own_organisation")
    nurse = token(world, "H", Role.HOSPITAL_USER)
    receipt = event_json(world, B.RECEIVING, [stent("S2")], at="W-H/Q", owner="H")
    assert_problem(post(client, receipt, nurse), 403, "auth.role_required")


def test_events_are_filtered_and_walked_with_cursors(
    client: FlaskClient, world: World, p_token: Headers
) -> None:
    world.receive_stock("P", "W-P", [stent("S1"), stent("S2"), gauze(4, lot="G7")], owner="X")
    world.ok(B.PICKING, "P", [stent("S2")])
    base = "/api/v1/events"
    picked = client.get(f"{base}?biz_step=picking", headers=p_token).get_json()["items"]
    assert [e["items"][0]["serial"] for e in picked] == ["S2"]
    by_serial = client.get(f"{base}?di={STENT}&serial=S2", headers=p_token).get_json()
    assert [e["biz_step"] for e in by_serial["items"]] == [
        "receiving",
        "inspecting",
        "storing",
        "picking",
    ]
    by_lot = client.get(f"{base}?di={GAUZE}&lot=G7", headers=p_token).get_json()["items"]
    assert len(by_lot) == 3
    window = client.get(
        f"{base}?event_time_from=2026-06-15T09:02:00%2B08:00&event_time_to=2026-06-15T09:04:00Z",
        headers=p_token,
    ).get_json()["items"]
    assert [e["biz_step"] for e in window] == ["inspecting", "storing", "picking"]
    located = client.get(f"{base}?location_id={world['W-P/A']}", headers=p_token).get_json()
    assert [e["biz_step"] for e in located["items"]] == ["storing"]
    seen, url = [], f"{base}?limit=2"
    while url:
        page = client.get(url, headers=p_token).get_json()
        seen += [e["id"] for e in page["items"]]
        url = f"{base}?limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else ""
    everything = client.get(f"{base}?limit=500", headers=p_token).get_json()["items"]
    assert seen == [e["id"] for e in everything]
    assert len(seen) == 4
    stranger = token(world, "S60")
    assert client.get(base, headers=stranger).get_json()["items"] == []
    owner = token(world, "X")
    assert len(client.get(f"{base}?party_id={world['X']}", headers=owner).get_json()["items"]) == 4
    assert_problem(client.get(f"{base}?colour=red", headers=p_token), 422, "request.validation")


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00%2B14:00",  # before year 1 in UTC: astimezone(UTC) overflows
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
        "1969-12-31T23:59:59Z",
        "9999-01-01T00:00:00Z",
    ],
)
@pytest.mark.parametrize("name", ["event_time_from", "event_time_to"])
def test_time_filters_outside_the_supported_years_are_422_not_500(
    client: FlaskClient, world: World, p_token: Headers, name: str, moment: str
) -> None:
    response = client.get(f"/api/v1/events?{name}={moment}", headers=p_token)
    body = assert_problem(response, 422, "request.validation")
    (error,) = body["errors"]
    assert (error["field"], error["code"]) == (name, "field.invalid")
    assert error["message"].startswith("Expected a time in the years 1970 to 9998 (UTC)")
    edges = "event_time_from=1970-01-01T00:00:00Z&event_time_to=9998-12-31T23:59:59Z"
    assert client.get(f"/api/v1/events?{edges}", headers=p_token).status_code == 200


def test_stock_is_filtered_and_visible_to_owner_possessor_and_regulator(
    client: FlaskClient, world: World, p_token: Headers
) -> None:
    world.receive_stock("P", "W-P", [gauze(10, lot="G1", expiry=date(2026, 7, 1))], owner="X")
    world.receive_stock("P", "W-P", [gauze(4, lot="G2")], owner="X")
    world.ok(B.HOLDING, "P", [gauze(4, lot="G2")], rp="W-P/A")
    url = f"/api/v1/stock?warehouse={world['W-P']}&di={GAUZE}"
    items = client.get(url, headers=p_token).get_json()["items"]
    assert sorted((s["lot"], s["status"], s["quantity"]) for s in items) == [
        ("G1", "expired", 10),  # today (2026-11) is past 2026-07-01
        ("G2", "on_hold", 4),
    ]
    held = client.get(f"{url}&status=on_hold", headers=p_token).get_json()["items"]
    assert [(s["lot"], s["status_label_zh"]) for s in held] == [("G2", "暂控")]
    soon = client.get(f"{url}&expiring_before=2026-08-01", headers=p_token).get_json()["items"]
    assert [s["lot"] for s in soon] == ["G1"]
    expired = client.get(f"{url}&status=expired", headers=p_token).get_json()["items"]
    assert [s["lot"] for s in expired] == ["G1"]
    assert client.get(f"{url}&status=available", headers=p_token).get_json()["items"] == []
    assert len(client.get(url, headers=token(world, "X")).get_json()["items"]) == 2
    assert client.get(url, headers=token(world, "H")).get_json()["items"] == []
    regulator = token(world, "H", Role.REGULATOR, jurisdiction="3502")
    assert len(client.get(url, headers=regulator).get_json()["items"]) == 2


def test_fefo_suggests_the_earliest_expiry_first_and_skips_blocked_stock(
    client: FlaskClient, world: World, p_token: Headers
) -> None:
    world.receive_stock("P", "W-P", [gauze(3, lot="LATE", expiry=date(2029, 1, 1))], owner="X")
    world.receive_stock("P", "W-P", [gauze(2, lot="SOON", expiry=date(2027, 3, 1))], owner="X")
    world.receive_stock("P", "W-P", [gauze(9, lot="HELD", expiry=date(2027, 1, 1))], owner="X")
    world.ok(B.HOLDING, "P", [gauze(9, lot="HELD")], rp="W-P/A")
    world.ok(B.RECEIVING, "P", [gauze(5, lot="NEW", expiry=date(2026, 12, 1))], at="W-P/Q")
    url = f"/api/v1/stock/fefo?di={GAUZE}&warehouse={world['W-P']}&quantity=4"
    body = client.get(url, headers=p_token).get_json()
    assert [(line["lot"], line["take"]) for line in body["lines"]] == [("SOON", 2), ("LATE", 2)]
    assert body["missing"] == 0
    assert body["lines"][0]["location_code"] == "A"
    short = client.get(url.replace("quantity=4", "quantity=9"), headers=p_token).get_json()
    assert short["missing"] == 4


def test_discrepancies_have_their_own_endpoint(
    client: FlaskClient, world: World, p_token: Headers
) -> None:
    world.receive_stock("P", "W-P", [gauze(10)], owner="X")
    world.ok(B.SHIPPING, "P", [gauze(10)], rp="W-P/A", to="H")
    hospital = token(world, "H")
    receipt = event_json(world, B.RECEIVING, [gauze(8)], at="W-H/Q", owner="H")
    shipments = client.get("/api/v1/events?biz_step=shipping", headers=p_token).get_json()
    receipt["shipment_id"] = shipments["items"][0]["shipment_id"]
    assert post(client, receipt, hospital).status_code == 201
    found = client.get("/api/v1/discrepancies?kind=short", headers=hospital).get_json()["items"]
    assert [(d["kind"], d["expected_quantity"], d["received_quantity"]) for d in found] == [
        ("short", 10, 8)
    ]
    assert len(client.get("/api/v1/discrepancies", headers=p_token).get_json()["items"]) == 1
    assert client.get("/api/v1/discrepancies", headers=token(world, "S60")).get_json() == {
        "items": [],
        "next_cursor": None,
    }
    assert uuid.UUID(found[0]["receiving_event_id"])


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_an_event_time_outside_the_years_we_record_is_refused_and_the_batch_goes_on(
    client: FlaskClient, world: World, p_token: Headers, moment: str
) -> None:
    bad = event_json(world, B.RECEIVING, [stent("T-BAD")], at="W-P/Q", owner="X")
    good = event_json(world, B.RECEIVING, [stent("T-GOOD")], at="W-P/Q", owner="X")
    bad["event_time"] = moment

    response = post(client, {"events": [bad, good]}, p_token)

    assert response.status_code == 200, response.get_data(as_text=True)
    statuses = [result["status"] for result in response.get_json()["results"]]
    assert statuses == ["rejected", "accepted"]
