"""Stock count sessions through the API: open, scan, report, confirm, on both engines."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from scanning import counts
from scanning import tables as scan_tables
from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import GAUZE, STENT, World, build_world, gauze, stent, token
from tests.scanning_world import Headers, gauze_label, register, scan, stent_label
from warehouse.demo import gtin
from warehouse.domain.movements import BizStep as B
from warehouse.domain.roles import Role


@pytest.fixture
def world(db_session: Session) -> World:
    built = build_world(db_session)
    stock = [stent("S1"), stent("S2"), stent("S3"), gauze(10, lot="G1")]
    built.receive_stock("P", "W-P", stock, owner="X")
    built.ok(B.RECEIVING, "P", [stent("S9")], at="W-P/Q", owner="X")
    built.ok(B.INSPECTING, "P", [stent("S9")], at="W-P/Q")
    built.ok(B.STORING, "P", [stent("S9")], at="W-P/B")
    return built


def _count(client: FlaskClient, world: World, headers: Headers, at: str = "W-P/A") -> Any:
    response = client.post(
        "/api/v1/stock-counts", json={"location_id": str(world[at])}, headers=headers
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _lines(report: dict[str, Any], kind: str) -> list[tuple[Any, ...]]:
    return [(x["di"], x["lot"], x["serial"], x["counted"], x["on_hand"]) for x in report[kind]]


def test_a_count_reports_and_confirms_its_differences(client: FlaskClient, world: World) -> None:
    _, device = register(client, world)
    count = _count(client, world, device)
    assert (count["status"], count["scans"]) == ("open", 0)
    assert len(count["missing"]) == 4  # nothing scanned yet: S1, S2, S3 and lot G1
    counted = [
        scan(world, stent_label("S1"), "stock_count", "W-P/A"),
        scan(world, stent_label("S2"), "stock_count", "W-P/A"),
        scan(world, stent_label("S2"), "stock_count", "W-P/A"),  # scanned twice: one unit
        scan(world, stent_label("S9"), "stock_count", "W-P/A"),
        scan(world, stent_label("S77"), "stock_count", "W-P/A"),
        scan(world, gauze_label("G1"), "stock_count", "W-P/A", quantity=7),
        scan(world, gauze_label("G1"), "stock_count", "W-P/A", quantity=1),
        scan(world, gauze_label("G2"), "stock_count", "W-P/A", quantity=3),
    ]
    for body in counted:
        body["count_id"] = count["id"]
    answer = client.post("/api/v1/scans/batch", json={"scans": counted}, headers=device)
    assert answer.get_json()["accepted"] == 8, answer.get_json()
    url = f"/api/v1/stock-counts/{count['id']}"
    report = client.get(url, headers=token(world, "P")).get_json()
    assert report["scans"] == 8
    assert _lines(report, "missing") == [(STENT, "L1", "S3", 0, 1)]
    assert _lines(report, "unexpected") == [
        (STENT, "L1", "S77", 1, 0),
        (STENT, "L1", "S9", 1, 0),
        (GAUZE, "G2", None, 3, 0),
    ]
    assert [x["note"] for x in report["unexpected"][:2]] == [
        "never received",
        f"recorded at location {world['W-P/B']}",
    ]
    assert _lines(report, "mismatched") == [(GAUZE, "G1", None, 8, 10)]
    assert report["mismatched"][0]["difference"] == -2

    assert_problem(client.post(f"{url}/confirm", headers=device), 403, "auth.role_required")
    operator = token(world, "P", Role.WAREHOUSE_OPERATOR)
    confirmed = client.post(f"{url}/confirm", headers=operator)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    body = confirmed.get_json()
    assert body["status"] == "confirmed"
    steps = sorted(
        (a["serial"] or a["lot"], a["biz_step"], a["status"]) for a in body["adjustments"]
    )
    assert steps == [
        ("G1", "destroying", "accepted"),
        ("G2", "receiving", "accepted"),
        ("S3", "destroying", "accepted"),
        ("S77", "receiving", "accepted"),
        ("S9", "storing", "accepted"),
    ]
    assert world.unit("S3")["status"] == "destroyed"
    assert world.unit("S9")["location_id"] == "W-P/A"
    assert world.unit("S77")["status"] == "pending_acceptance"
    stock = world.stock(location_id="W-P/A")
    assert stock[("W-P/A", GAUZE, "G1", "available")] == 8
    assert stock[("W-P/A", GAUZE, "G2", "pending_acceptance")] == 3
    after = client.get(url, headers=operator).get_json()
    assert (after["missing"], after["mismatched"]) == ([], [])

    assert_problem(client.post(f"{url}/confirm", headers=operator), 409, "stock_count.confirmed")
    late = {**scan(world, stent_label("S1"), "stock_count", "W-P/A"), "count_id": count["id"]}
    problem = assert_problem(
        client.post("/api/v1/scans", json=late, headers=device), 422, "scan.count_closed"
    )
    assert problem["errors"][0]["field"] == "count_id"


def test_count_scans_belong_to_their_session_location_and_organisation(
    client: FlaskClient, world: World
) -> None:
    _, device = register(client, world)
    count = _count(client, world, device)
    wrong_place = {
        **scan(world, stent_label("S1"), "stock_count", "W-P/B"),
        "count_id": count["id"],
    }
    assert_problem(
        client.post("/api/v1/scans", json=wrong_place, headers=device), 422, "scan.count_location"
    )
    no_count = scan(world, stent_label("S1"), "stock_count", "W-P/A")
    assert_problem(
        client.post("/api/v1/scans", json=no_count, headers=device), 422, "scan.count_unknown"
    )
    with_pick = {**scan(world, stent_label("S1"), "pick", "W-P/A"), "count_id": count["id"]}
    assert_problem(
        client.post("/api/v1/scans", json=with_pick, headers=device), 422, "scan.count_operation"
    )
    for label, code in (
        (f"(01){STENT}(17)291231(10)L1", "movement.pi_mismatch"),  # the stent's serial missing
        (f"(01){gtin('0693123499999')}(10)L1", "movement.unknown_device"),
    ):
        counted = {
            **scan(world, label, "stock_count", "W-P/A", quantity=1),
            "count_id": count["id"],
        }
        assert_problem(client.post("/api/v1/scans", json=counted, headers=device), 422, code)
    h_manager = token(world, "H", Role.ORG_MANAGER)
    _, h_device = register(client, world, "H", "W-H", name="ward scanner")
    into_p = {**scan(world, stent_label("S1"), "stock_count", "W-H/A"), "count_id": count["id"]}
    assert_problem(
        client.post("/api/v1/scans", json=into_p, headers=h_device), 422, "scan.count_unknown"
    )
    url = f"/api/v1/stock-counts/{count['id']}"
    assert_problem(client.get(url, headers=h_manager), 404, "request.not_found")
    other = client.post(
        "/api/v1/stock-counts", json={"location_id": str(world["W-X/A"])}, headers=device
    )
    problem = assert_problem(other, 422, "request.validation")
    assert problem["errors"][0]["field"] == "location_id"


def test_a_scan_made_while_the_count_is_confirmed_is_refused_not_written_off(
    app: Flask, client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lines are computed after the session is claimed: a scan arriving meanwhile (here:
    while the adjustments are recorded) is refused, instead of being stored into a count whose
    adjustments already wrote its unit off."""
    _, device = register(client, world)
    count = _count(client, world, device)
    url = f"/api/v1/stock-counts/{count['id']}"
    manager = token(world, "P", Role.ORG_MANAGER)
    seen: dict[str, Any] = {}
    real = counts.movements.record

    def racing(session: Session, principal: Any, events: Any) -> Any:
        with app.test_client() as other:
            late = {**scan(world, stent_label("S3"), "stock_count", "W-P/A")}
            late["count_id"] = count["id"]
            seen["scan"] = other.post("/api/v1/scans", json=late, headers=device)
            seen["report"] = other.get(url, headers=manager).get_json()
            seen["again"] = other.post(f"{url}/confirm", headers=manager)
        return real(session, principal, events)

    monkeypatch.setattr(counts.movements, "record", racing)
    confirmed = client.post(f"{url}/confirm", headers=manager)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    problem = assert_problem(seen["scan"], 422, "scan.count_closed")
    assert problem["errors"][0]["field"] == "count_id"
    assert "confirming" in problem["detail"]
    assert (seen["report"]["status"], seen["report"]["confirmed_at"]) == ("confirming", None)
    assert_problem(seen["again"], 409, "stock_count.confirming")
    body = confirmed.get_json()
    assert (body["status"], body["scans"]) == ("confirmed", 0)
    written_off = sorted(a["serial"] or a["lot"] for a in body["adjustments"])
    assert written_off == ["G1", "S1", "S2", "S3"]  # what the report said, nothing unseen
    assert client.get(url, headers=manager).get_json()["scans"] == 0


def test_a_refused_adjustment_opens_the_count_again(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, device = register(client, world)
    count = _count(client, world, device)
    url = f"/api/v1/stock-counts/{count['id']}"
    manager = token(world, "P", Role.ORG_MANAGER)
    real = counts.movements.record

    def as_someone_else(session: Session, principal: Any, events: Any) -> Any:
        other = [dataclasses.replace(e, acting_org_id=world["H"]) for e in events]
        return real(session, principal, other)

    monkeypatch.setattr(counts.movements, "record", as_someone_else)
    problem = assert_problem(
        client.post(f"{url}/confirm", headers=manager), 409, "stock_count.adjustment_refused"
    )
    assert {a["status"] for a in problem["adjustments"]} == {"rejected"}
    report = client.get(url, headers=manager).get_json()
    assert (report["status"], report["confirmed_at"]) == ("open", None)
    counted = {**scan(world, stent_label("S1"), "stock_count", "W-P/A"), "count_id": count["id"]}
    assert client.post("/api/v1/scans", json=counted, headers=device).status_code == 201
    monkeypatch.setattr(counts.movements, "record", real)
    confirmed = client.post(f"{url}/confirm", headers=manager)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    assert confirmed.get_json()["status"] == "confirmed"
    assert world.unit("S1")["status"] == "available"


def test_a_unit_another_organisation_holds_is_reported_without_its_state_in_one_query(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    h_manager = token(world, "H", Role.ORG_MANAGER)
    _, h_device = register(client, world, "H", "W-H", name="ward scanner")
    count = _count(client, world, h_manager, at="W-H/A")
    strays = ["S1", "S2", "S3", "S9", "S77", "S78"]  # P holds the first four; two unknown
    scans = [scan(world, stent_label(s), "stock_count", "W-H/A") for s in strays]
    for body in scans:
        body["count_id"] = count["id"]
    answer = client.post("/api/v1/scans/batch", json={"scans": scans}, headers=h_device)
    assert answer.get_json()["accepted"] == len(strays), answer.get_json()
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    bind = db_session.get_bind()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        report = client.get(f"/api/v1/stock-counts/{count['id']}", headers=h_manager).get_json()
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    notes = {x["serial"]: x["note"] for x in report["unexpected"]}
    assert notes == {
        "S1": "not in your stock",
        "S2": "not in your stock",
        "S3": "not in your stock",
        "S9": "not in your stock",
        "S77": "never received",
        "S78": "never received",
    }
    assert "available" not in str(report)
    assert "another party" not in str(report)
    unit_queries = [s for s in statements if re.search(r"\bFROM units\b", s)]
    assert len(unit_queries) == 2, unit_queries  # units on hand here, then all strays at once


def test_a_confirmation_that_died_is_taken_over_after_a_while(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    _, device = register(client, world)
    count = _count(client, world, device)
    url = f"/api/v1/stock-counts/{count['id']}"
    manager = token(world, "P", Role.ORG_MANAGER)
    table = scan_tables.stock_counts

    def started(ago: timedelta) -> None:
        db_session.execute(
            update(table)
            .where(table.c.id == uuid.UUID(count["id"]))
            .values(status="confirming", confirmed_at=datetime.now(UTC) - ago)
        )
        db_session.commit()

    started(timedelta(minutes=1))
    assert_problem(client.post(f"{url}/confirm", headers=manager), 409, "stock_count.confirming")
    started(counts.STALE_CONFIRMATION + timedelta(minutes=1))
    confirmed = client.post(f"{url}/confirm", headers=manager)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    assert confirmed.get_json()["status"] == "confirmed"
