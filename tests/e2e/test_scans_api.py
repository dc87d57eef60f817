"""Scanner devices, POST /api/v1/scans(/batch) and the exceptions queue, on both engines."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scanning import tables as scan_tables
from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import STENT, World, build_world, token
from tests.scanning_world import (
    Headers,
    count_events,
    gauze_label,
    register,
    scan,
    stent_label,
)
from warehouse.domain.roles import Role


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


@pytest.fixture
def device(client: FlaskClient, world: World) -> tuple[dict[str, Any], Headers]:
    return register(client, world)


def post_one(client: FlaskClient, body: dict[str, Any], headers: Headers) -> Any:
    return client.post("/api/v1/scans", json=body, headers=headers)


def post_batch(client: FlaskClient, scans: list[dict[str, Any]], headers: Headers) -> Any:
    response = client.post("/api/v1/scans/batch", json={"scans": scans}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# --- Devices --------------------------------------------------------------------------------------


def test_a_registered_scanner_gets_its_own_token_once_and_is_identified_by_it(
    client: FlaskClient, world: World
) -> None:
    device, headers = register(client, world, quirks={"gs_substitutes": ["|"], "prefix": "#"})
    assert device["token"].startswith("udi_")
    assert device["token_prefix"] == device["token"][:12]
    assert device["quirks"]["gs_substitutes"] == ["|"]
    assert device["organisation_id"] == str(world["P"])
    current = client.get("/api/v1/tokens/current", headers=headers).get_json()
    assert current["roles"] == ["scanner"]
    assert current["token_id"] == device["token_id"]
    manager = token(world, "P", Role.ORG_MANAGER)
    read = client.get(f"/api/v1/scanners/{device['id']}", headers=manager).get_json()
    assert "token" not in read
    assert read["name"] == "handheld 1"
    listed = client.get("/api/v1/scanners", headers=manager).get_json()["items"]
    assert [d["id"] for d in listed] == [device["id"]]
    stranger = token(world, "X", Role.ORG_MANAGER)
    assert client.get("/api/v1/scanners", headers=stranger).get_json()["items"] == []
    assert_problem(
        client.get(f"/api/v1/scanners/{device['id']}", headers=stranger), 404, "request.not_found"
    )
    again = {"name": "handheld 1", "warehouse_id": str(world["W-P"])}
    assert_problem(
        client.post("/api/v1/scanners", json=again, headers=manager),
        409,
        "scanner.duplicate_name",
    )


def test_registration_is_for_managers_valid_quirks_and_a_warehouse_of_the_organisation(
    client: FlaskClient, world: World
) -> None:
    body = {"name": "h", "warehouse_id": str(world["W-P"])}
    operator = token(world, "P", Role.WAREHOUSE_OPERATOR)
    assert_problem(
        client.post("/api/v1/scanners", json=body, headers=operator), 403, "auth.role_required"
    )
    manager = token(world, "P", Role.ORG_MANAGER)
    bad = {**body, "quirks": {"sufix": "#"}}
    problem = assert_problem(
        client.post("/api/v1/scanners", json=bad, headers=manager), 422, "request.validation"
    )
    assert problem["errors"][0]["field"] == "quirks.sufix"
    data = {**body, "quirks": {"gs_substitutes": ["GS"]}}
    problem = assert_problem(
        client.post("/api/v1/scanners", json=data, headers=manager), 422, "request.validation"
    )
    assert problem["errors"][0]["field"] == "quirks.gs_substitutes[0]"
    elsewhere = {**body, "warehouse_id": str(world["W-X"])}
    problem = assert_problem(
        client.post("/api/v1/scanners", json=elsewhere, headers=manager), 422, "request.validation"
    )
    assert problem["errors"][0]["field"] == "warehouse_id"
    for_other = {**body, "organisation_id": str(world["X"])}
    assert_problem(
        client.post("/api/v1/scanners", json=for_other, headers=manager),
        403,
        "auth.not_own_organisation",
    )


def test_revoking_a_scanner_revokes_its_token(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    body, headers = device
    manager = token(world, "P", Role.ORG_MANAGER)
    revoked = client.post(f"/api/v1/scanners/{body['id']}/revoke", headers=manager)
    assert revoked.status_code == 200
    assert revoked.get_json()["revoked_at"]
    one = scan(world, stent_label("S1"), "receive", "W-P/Q", owner="X")
    assert_problem(post_one(client, one, headers), 401, "auth.invalid_token")
    active = client.get("/api/v1/scanners?revoked=false", headers=manager).get_json()["items"]
    assert active == []


# --- One scan -------------------------------------------------------------------------------------


def test_one_scan_is_recorded_and_its_replay_answers_the_same_event(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    body, headers = device
    one = scan(world, stent_label("S1"), "receive", "W-P/Q", owner="X")
    first = post_one(client, one, headers)
    assert first.status_code == 201, first.get_data(as_text=True)
    answer = first.get_json()
    assert answer["status"] == "accepted"
    event = client.get(f"/api/v1/events/{answer['event_id']}", headers=headers).get_json()
    assert (event["biz_step"], event["scanner_device_id"]) == ("receiving", body["id"])
    assert event["items"][0] == {
        "di": STENT,
        "serial": "S1",
        "lot": "L1",
        "quantity": 1,
        "expiry": "2029-12-31",
    }
    assert event["event_time"] == one["device_time"]
    again = post_one(client, one, headers)
    assert again.status_code == 200
    assert again.get_json() | {"status": "accepted", "original_status": None} == answer
    assert again.get_json()["original_status"] == "accepted"
    changed = {**one, "scan": stent_label("S2")}
    assert_problem(post_one(client, changed, headers), 422, "scan.id_reused")
    assert count_events(world, body["id"]) == 1


def test_a_bad_scan_is_a_problem_with_its_position_in_the_scan_as_sent(
    client: FlaskClient, world: World
) -> None:
    _, headers = register(client, world, quirks={"prefix": "#"})
    label = stent_label("S1").replace(STENT, STENT[:-1] + "2")  # wrong check digit
    body = scan(world, "#" + label, "receive", "W-P/Q")
    problem = assert_problem(post_one(client, body, headers), 422, "gs1.check_digit")
    error = problem["errors"][0]
    assert error["position"] == 1 + 5 + 13  # prefix, "]d201", then the 14th digit
    assert problem["scan_id"] == body["scan_id"]
    assert "duplicate" not in problem
    again = assert_problem(post_one(client, body, headers), 422, "gs1.check_digit")
    assert again["duplicate"] is True
    assert again["errors"] == problem["errors"]


def test_only_a_registered_device_token_sends_scans(client: FlaskClient, world: World) -> None:
    one = scan(world, stent_label("S1"), "receive", "W-P/Q")
    plain_scanner = token(world, "P", Role.SCANNER)
    assert_problem(post_one(client, one, plain_scanner), 403, "scan.device_required")
    operator = token(world, "P", Role.WAREHOUSE_OPERATOR)
    assert_problem(post_one(client, one, operator), 403, "auth.role_required")


def test_a_device_of_one_organisation_cannot_scan_into_another_organisations_warehouse(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    body, headers = device
    into_x = scan(world, stent_label("S1"), "receive", "W-X/Q", owner="X")
    problem = assert_problem(
        post_one(client, into_x, headers), 422, "scan.location_outside_warehouse"
    )
    assert problem["errors"][0]["field"] == "location_id"
    unknown = {
        **scan(world, stent_label("S2"), "receive", "W-P/Q"),
        "location_id": str(uuid.uuid4()),
    }
    assert_problem(post_one(client, unknown, headers), 422, "scan.location_outside_warehouse")
    from_x = scan(world, gauze_label(), "put_away", "W-P/A", from_="W-X/A", quantity=1)
    assert_problem(post_one(client, from_x, headers), 422, "scan.location_outside_warehouse")
    assert count_events(world, body["id"]) == 0


# --- Batches ------------------------------------------------------------------------------------


def test_a_batch_keeps_its_good_scans_and_answers_each_bad_one(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    body, headers = device
    scans = [
        scan(world, stent_label("S1"), "receive", "W-P/Q", owner="X"),
        scan(world, stent_label("S2")[:-3] + "\x07S2", "receive", "W-P/Q", owner="X"),
        {"scan_id": "not-a-uuid", "scan": "x"},
        scan(world, gauze_label(), "receive", "W-P/Q", owner="X"),
        scan(world, gauze_label(), "receive", "W-P/Q", owner="X", quantity=5),
        scan(world, "(01)" + STENT, "receive", "W-P/Q", owner="X", quantity=1),
        {**scan(world, stent_label("S3"), "receive", "W-P/Q"), "operation": "dance"},
        scan(world, stent_label("S4"), "pick", "W-P/A"),
    ]
    answer = post_batch(client, scans, headers)
    assert [r["status"] for r in answer["results"]] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert (answer["accepted"], answer["rejected"], answer["exceptions"]) == (2, 6, 1)
    problems = [r["problem"] for r in answer["results"]]
    control = problems[1]["errors"][0]
    position = scans[1]["scan"].index("\x07")
    assert (problems[1]["code"], control["position"]) == ("scan.control_character", position)
    assert problems[2]["code"] == "request.validation"
    assert answer["results"][2]["scan_id"] is None
    assert problems[3]["code"] == "scan.quantity_required"
    assert problems[5]["code"] == "movement.pi_mismatch"  # the DI's label carries more
    assert problems[6]["code"] == "request.validation"
    assert {e["field"] for e in problems[6]["errors"]} == {"operation"}
    assert problems[7]["code"] == "movement.not_in_stock"
    assert answer["results"][7]["exception_id"]
    assert answer["results"][5]["exception_id"] is None
    stored = world.session.execute(select(scan_tables.scans)).mappings().all()
    world.session.rollback()
    assert len(stored) == 7  # all but the one without a usable scan_id
    assert {row["raw"] for row in stored} >= {scans[1]["scan"], "(01)" + STENT}
    assert count_events(world, body["id"]) == 2
    reader = token(world, "P")
    listed = client.get("/api/v1/scans?status=rejected", headers=reader).get_json()["items"]
    assert [x["scan"] for x in listed] == [scans[i]["scan"] for i in (1, 3, 5, 6)]
    assert listed[0]["problem"]["code"] == "scan.control_character"
    sent = datetime.fromisoformat(scans[1]["device_time"])
    assert datetime.fromisoformat(listed[0]["device_time"]) == sent  # stored in UTC
    assert datetime.fromisoformat(listed[0]["received_at"]) > sent
    queued = client.get("/api/v1/scans?status=exception", headers=reader).get_json()["items"]
    assert [x["item"]["serial"] for x in queued] == ["S4"]
    everything = client.get(f"/api/v1/scans?device_id={body['id']}", headers=reader).get_json()
    assert len(everything["items"]) == 7
    assert client.get("/api/v1/scans", headers=token(world, "X")).get_json()["items"] == []


def test_replaying_a_batch_ten_times_records_one_set_of_events(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    body, headers = device
    scans = [scan(world, stent_label(f"S{n}"), "receive", "W-P/Q", owner="X") for n in range(5)]
    scans += [scan(world, stent_label(f"S{n}"), "accept", "W-P/Q") for n in range(5)]
    scans.append(scan(world, stent_label("S0"), "pick", "W-P/B"))  # not there: an exception
    scans.append(scans[0])  # the same scan twice in one batch
    first = post_batch(client, scans, headers)
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (10, 1, 1)
    events = count_events(world, body["id"])
    assert events == 10
    for _ in range(10):
        again = post_batch(client, scans, headers)
        assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 12, 0)
        for before, after in zip(first["results"], again["results"], strict=True):
            assert after["event_id"] == before["event_id"]
            assert after["exception_id"] == before["exception_id"]
            assert after["problem"] == before["problem"]
    assert [r["original_status"] for r in again["results"][-2:]] == ["exception", "accepted"]
    assert count_events(world, body["id"]) == events
    queue = client.get("/api/v1/scans/exceptions", headers=token(world, "P")).get_json()
    assert len(queue["items"]) == 1


def test_a_batch_is_recorded_in_device_time_order(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    _, headers = device
    late = scan(world, stent_label("S1"), "accept", "W-P/Q", minute=30)
    early = scan(world, stent_label("S1"), "receive", "W-P/Q", minute=10, owner="X")
    answer = post_batch(client, [late, early], headers)
    assert [r["status"] for r in answer["results"]] == ["accepted", "accepted"]
    assert world.unit("S1")["status"] == "available"


def test_lot_quantities_move_from_the_location_they_are_taken_from(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    _, headers = device
    scans = [
        scan(world, gauze_label(), "receive", "W-P/Q", owner="X", quantity=10),
        scan(world, gauze_label(), "accept", "W-P/Q", quantity=10),
        scan(world, gauze_label(), "put_away", "W-P/A", from_="W-P/Q", quantity=6),
        scan(world, gauze_label(), "pick", "W-P/A", quantity=2),
        scan(world, gauze_label(), "ship", "W-P/A", to="H", quantity=2),
    ]
    answer = post_batch(client, scans, headers)
    assert [r["status"] for r in answer["results"]] == ["accepted"] * 5, answer
    assert world.stock() == {
        ("W-P/Q", scans[0]["scan"][5:19], "G1", "available"): 4,
        ("W-P/A", scans[0]["scan"][5:19], "G1", "available"): 4,
    }
    no_destination = scan(world, gauze_label(), "ship", "W-P/A", quantity=1)
    assert_problem(post_one(client, no_destination, headers), 422, "scan.destination_required")


def test_a_nul_character_is_refused_and_the_scan_still_stored(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    _, headers = device
    raw = stent_label("S1").replace("L1", "L\x001")
    with_nul = scan(world, raw, "receive", "W-P/Q", owner="X", staff_id="nurse\x00")
    answer = post_batch(client, [with_nul, {**with_nul, "scan_id": str(uuid.uuid4())}], headers)
    problems = [r["problem"] for r in answer["results"]]
    assert [e["field"] for e in problems[0]["errors"]] == ["staff_id"]
    listed = client.get("/api/v1/scans", headers=token(world, "P")).get_json()["items"]
    assert [x["scan"] for x in listed] == [raw.replace("\x00", "\u2400")] * 2
    assert post_batch(client, [with_nul], headers)["duplicates"] == 1


def test_every_operation_from_receipt_to_the_patient_through_scans(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    _, p_device = device
    _, h_device = register(client, world, "H", "W-H", name="ward")
    labels = [stent_label("S1"), stent_label("S2")]
    to_h = {
        "destination_warehouse_id": str(world["W-H"]),
        "document": {"type": "desadv", "id": "D"},
    }
    outbound = []
    for operation, at, extra in (
        ("receive", "W-P/Q", {"owner": "X"}),
        ("accept", "W-P/Q", {}),
        ("put_away", "W-P/A", {}),
        ("pick", "W-P/A", {}),
        ("ship", "W-P/A", {"to": "H", **to_h}),
    ):
        outbound += [scan(world, label, operation, at, **extra) for label in labels]
    shipped = post_batch(client, outbound, p_device)
    assert shipped["accepted"] == 10, shipped
    assert world.unit("S1")["status"] == "in_transit"
    inbound = []
    for operation, at in (
        ("receive", "W-H/Q"),
        ("accept", "W-H/Q"),
        ("put_away", "W-H/A"),
        ("issue_to_department", "W-H/DEPT"),
    ):
        inbound += [scan(world, label, operation, at) for label in labels]
    assert post_batch(client, inbound, h_device)["accepted"] == 8
    no_patient = post_one(client, scan(world, labels[0], "use_on_patient", "W-H/DEPT"), h_device)
    problem = assert_problem(no_patient, 422, "movement.patient_required")
    assert "exception_id" not in problem  # the scan lacks data: not a review item
    with_patient = scan(
        world, labels[0], "use_on_patient", "W-H/DEPT", patient_ref="P-9", encounter_ref="E-1"
    )
    assert post_one(client, with_patient, h_device).status_code == 201
    assert world.unit("S1")["status"] == "dispensed"
    returned = post_one(client, scan(world, labels[1], "return", "W-H/R"), h_device)
    assert returned.status_code == 201, returned.get_data(as_text=True)
    unit = world.unit("S2")
    assert (unit["status"], unit["location_id"]) == ("pending_acceptance", "W-H/R")
    admin = token(world, "P", Role.ADMIN)
    events = client.get(f"/api/v1/events?di={STENT}&serial=S1", headers=admin).get_json()
    assert [e["biz_step"] for e in events["items"]] == [
        "receiving",
        "accepting",
        "storing",
        "picking",
        "shipping",
        "receiving",
        "accepting",
        "storing",
        "stocking",
        "dispensing",
    ]
    assert events["items"][4]["documents"] == [{"type": "desadv", "id": "D"}]


# --- Quirks -------------------------------------------------------------------------------------


QUIRKY = {
    "gs_substitutes": ["|"],
    "prefix": "\x02",
    "suffix": "#",
    "sends_symbology_id": True,
    "caps_lock_inverted": True,
}


@pytest.mark.parametrize(
    ("sent", "serial"),
    [
        ("\x02]D201{di}17291231|10l1|21s1#\r\n", "S1"),  # STX, |, caps lock, #, CR/LF
        ("\x02]D201{di}17291231\x1d10l1\x1d21s2#", "S2"),  # a real GS still works
        ("]D201{di}17291231|10l1|21s3#\n", "S3"),  # prefix absent: a warning, kept
        ("\x02]D2０１{di}17291231|10l1|21s4#", "S4"),  # full-width digits (Chinese IME)
    ],
)
def test_every_quirk_of_a_registered_device_is_undone(
    client: FlaskClient, world: World, sent: str, serial: str
) -> None:
    _, headers = register(client, world, quirks=QUIRKY)
    raw = sent.format(di=STENT)
    response = post_one(client, scan(world, raw, "receive", "W-P/Q", owner="X"), headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert world.unit(serial)["lot"] == "L1"


@pytest.mark.parametrize(
    ("sent", "code", "position"),
    [
        ("\x02" + f"01{STENT}" + "#", "scan.symbology_missing", 1),
        ("\x02]D201{di}17291231|10l1\x0721s1#", "scan.control_character", "\x07"),
        ("\x02]D201{di}17291231|10l\ufffd|21s1#", "scan.undecodable", "\ufffd"),
        ("\x02]D201{di}\x0017291231|10l1|21s1#", "scan.control_character", "\x00"),
        ("\x02#", "scan.empty", 0),
        ("\x02]D201{di}17291231|10l1|21s1" + "9" * 5000, "scan.too_long", 4096),
    ],
)
def test_a_scan_a_quirk_cannot_explain_is_refused_with_its_position(
    client: FlaskClient, world: World, sent: str, code: str, position: int | str
) -> None:
    _, headers = register(client, world, quirks=QUIRKY)
    raw = sent.format(di=STENT)
    if isinstance(position, str):  # the offending character's place in the raw text
        position = raw.index(position)
    problem = assert_problem(
        post_one(client, scan(world, raw, "receive", "W-P/Q", owner="X"), headers), 422, code
    )
    assert problem["errors"][0]["position"] == position


def test_accepted_oddities_come_back_as_warnings(client: FlaskClient, world: World) -> None:
    quirks = {"prefix": "#", "sends_symbology_id": False}
    _, headers = register(client, world, quirks=quirks)
    body = scan(world, stent_label("S1"), "receive", "W-P/Q", owner="X")
    answer = post_one(client, body, headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    warnings = answer.get_json()["warnings"]
    assert {w["code"] for w in warnings} == {"scan.prefix_absent", "scan.unexpected_symbology"}
    assert post_one(client, body, headers).get_json()["warnings"] == warnings
    _, raw_device = register(client, world, name="raw", quirks={"strip_line_endings": False})
    sent = stent_label("S2") + "\r\n"
    kept = post_one(client, scan(world, sent, "receive", "W-P/Q", owner="X"), raw_device)
    assert kept.status_code == 201, kept.get_data(as_text=True)
    trailing = [w for w in kept.get_json()["warnings"] if w["code"] == "scan.trailing_line_end"]
    assert trailing[0]["position"] == sent.index("\r")  # the parser trims them, and says so
    assert world.unit("S2")["serial"] == "S2"


# --- Exceptions -----------------------------------------------------------------------------------


def test_the_exception_lifecycle(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    _, headers = device
    offline = [
        scan(world, stent_label("S1"), "pick", "W-P/Q"),
        scan(world, stent_label("S2"), "pick", "W-P/Q"),
        scan(world, stent_label("S3"), "pick", "W-P/Q"),
    ]
    answer = post_batch(client, offline, headers)
    assert answer["exceptions"] == 3
    ids = [r["exception_id"] for r in answer["results"]]
    reviewer = token(world, "P", Role.WAREHOUSE_OPERATOR)
    base = "/api/v1/scans/exceptions"
    listed = client.get(f"{base}?status=open", headers=reviewer).get_json()["items"]
    assert [e["id"] for e in listed] == ids
    assert listed[0]["problem"]["code"] == "movement.not_in_stock"
    assert listed[0]["scan"]["serial"] == "S1"
    assert listed[0]["scan"]["scan"] == offline[0]["scan"]
    assert client.get(base, headers=token(world, "X")).get_json()["items"] == []
    assert_problem(
        client.get(f"{base}/{ids[0]}", headers=token(world, "X")), 404, "request.not_found"
    )

    still = client.post(f"{base}/{ids[0]}/resolve", json={"action": "resubmit"}, headers=reviewer)
    assert_problem(still, 422, "movement.not_in_stock")
    after = client.get(f"{base}/{ids[0]}", headers=reviewer).get_json()
    assert (after["status"], after["attempts"]) == ("open", 1)
    assert after["last_problem"]["code"] == "movement.not_in_stock"

    fix = [
        scan(world, stent_label("S1"), "receive", "W-P/Q", owner="X", minute=-30),
        scan(world, stent_label("S1"), "accept", "W-P/Q", minute=-20),
    ]
    assert post_batch(client, fix, headers)["accepted"] == 2
    resolved = client.post(
        f"{base}/{ids[0]}/resolve", json={"action": "resubmit"}, headers=reviewer
    )
    assert resolved.status_code == 200, resolved.get_data(as_text=True)
    body = resolved.get_json()
    assert (body["status"], body["resolution"], body["attempts"]) == ("resolved", "resubmitted", 2)
    assert world.unit("S1")["status"] == "picked"
    assert client.get(f"/api/v1/events/{body['event_id']}", headers=reviewer).status_code == 200

    no_reason = client.post(f"{base}/{ids[1]}/resolve", json={"action": "accept"}, headers=reviewer)
    assert_problem(no_reason, 422, "request.validation")
    accepted = client.post(
        f"{base}/{ids[1]}/resolve",
        json={"action": "accept", "reason": "unit was used in theatre; recorded on paper"},
        headers=reviewer,
    ).get_json()
    assert (accepted["status"], accepted["resolution"], accepted["event_id"]) == (
        "resolved",
        "accepted",
        None,
    )
    rejected = client.post(
        f"{base}/{ids[2]}/reject", json={"reason": "scanned the wrong box"}, headers=reviewer
    ).get_json()
    assert (rejected["status"], rejected["reason"]) == ("rejected", "scanned the wrong box")
    closed = client.post(f"{base}/{ids[2]}/resolve", json={"action": "resubmit"}, headers=reviewer)
    assert_problem(closed, 409, "scan_exception.closed")
    everything = client.get(base, headers=reviewer).get_json()["items"]
    assert [e["status"] for e in everything] == ["resolved", "resolved", "rejected"]
    assert client.get(f"{base}?status=open", headers=reviewer).get_json()["items"] == []
    replay = post_batch(client, offline, headers)
    assert [r["exception_id"] for r in replay["results"]] == ids  # nothing deleted, same answer
    nurse = token(world, "P", Role.HOSPITAL_USER)
    denied = client.post(f"{base}/{ids[0]}/reject", json={"reason": "x"}, headers=nurse)
    assert_problem(denied, 403, "auth.role_required")


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+14:00",  # UTC conversion overflows below year 1
        "9999-12-31T23:59:59-14:00",  # ... and above year 9999
        "1999-12-31T23:59:59+00:00",  # a scanner whose clock was reset
        "9999-01-01T00:00:00+00:00",
    ],
)
def test_a_device_time_out_of_range_refuses_that_scan_only(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers], moment: str
) -> None:
    body, headers = device
    good = scan(world, stent_label("S1"), "receive", "W-P/Q", owner="X")
    bad = {**scan(world, stent_label("S2"), "receive", "W-P/Q", owner="X"), "device_time": moment}
    answer = post_batch(client, [good, bad], headers)
    assert [r["status"] for r in answer["results"]] == ["accepted", "rejected"]
    problem = answer["results"][1]["problem"]
    assert problem["code"] == "scan.device_time_range"
    assert problem["errors"][0]["field"] == "device_time"
    assert count_events(world, body["id"]) == 1
    alone = {**bad, "scan_id": str(uuid.uuid4())}
    assert_problem(post_one(client, alone, headers), 422, "scan.device_time_range")
    stored = client.get("/api/v1/scans?status=rejected", headers=token(world, "P")).get_json()
    assert [x["device_time"] for x in stored["items"]] == [None, None]  # not stored as a time


def test_nul_characters_are_refused_in_scanner_names_and_review_reasons(
    client: FlaskClient, world: World, device: tuple[dict[str, Any], Headers]
) -> None:
    _, headers = device
    manager = token(world, "P", Role.ORG_MANAGER)
    named = {"name": "dock\x00", "warehouse_id": str(world["W-P"])}
    problem = assert_problem(
        client.post("/api/v1/scanners", json=named, headers=manager), 422, "request.validation"
    )
    assert {e["field"] for e in problem["errors"]} == {"name"}
    answer = post_batch(client, [scan(world, stent_label("S1"), "pick", "W-P/Q")], headers)
    exception_id = answer["results"][0]["exception_id"]
    base = f"/api/v1/scans/exceptions/{exception_id}"
    for path, body in (
        ("resolve", {"action": "accept", "reason": "on paper\x00"}),
        ("reject", {"reason": "wrong box\x00"}),
    ):
        problem = assert_problem(
            client.post(f"{base}/{path}", json=body, headers=manager), 422, "request.validation"
        )
        assert {e["field"] for e in problem["errors"]} == {"reason"}
    assert client.get(base, headers=manager).get_json()["status"] == "open"
