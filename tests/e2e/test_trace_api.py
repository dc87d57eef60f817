"""GET /api/v1/trace/unit and /api/v1/trace/lot on both engines.

The history (built through the movement service, tests/movements_world.py)::

    stents S1 S2 S3, lot L1:  M (W-M) --ship--> P (W-P, owned by X)
        S1 S2 packed by P into box BOX, shipped whole to X (W-X), received, unpacked whole
        S1: X --ship--> H (W-H) → 心内科 → used on patient pt-9 (dispensing)
        S3 stays at P
    gauze lot G1 (quantities): M receives 100, ships 40 + 20 to P; P ships 25 to H (received)
        and 10 more (in transit); H uses 5 and destroys 2.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import GAUZE, STENT, World, build_world, gauze, stent, token
from warehouse import tables
from warehouse.db import RLS_ROLE_CONFIG
from warehouse.domain.movements import Action, EventType
from warehouse.domain.movements import BizStep as B
from warehouse.domain.roles import Role
from warehouse.ids import new_id
from warehouse.services.movements import NewItem

Headers = dict[str, str]
BOX = "106141411234567897"
PACK = {"event_type": EventType.AGGREGATION, "parent_sscc": BOX, "action": Action.ADD}
UNPACK = {"event_type": EventType.AGGREGATION, "parent_sscc": BOX, "action": Action.DELETE}


def build_history(world: World) -> dict[str, Any]:
    """The history of the module docstring; returns the moments tests ask ``as_of``."""
    units = [stent("S1"), stent("S2"), stent("S3")]
    world.receive_stock("M", "W-M", units, owner="M")
    world.ok(B.SHIPPING, "M", units, rp="W-M/A", to="P", to_wh="W-P")
    world.receive_stock("P", "W-P", units, owner="X")
    at_p = world.tick()
    world.ok(B.PACKING, "P", units[:2], **PACK)
    world.ok(B.SHIPPING, "P", [NewItem(sscc=BOX)], to="X", to_wh="W-X")
    world.ok(B.RECEIVING, "X", [NewItem(sscc=BOX)], at="W-X/Q", owner="X")
    world.ok(B.UNPACKING, "X", [], **UNPACK)
    world.ok(B.INSPECTING, "X", units[:2], at="W-X/Q")
    world.ok(B.STORING, "X", units[:2], at="W-X/A", rp="W-X/Q")
    world.ok(B.SHIPPING, "X", units[:1], rp="W-X/A", to="H", to_wh="W-H")
    world.receive_stock("H", "W-H", units[:1], owner="H")
    world.ok(B.STOCKING, "H", units[:1], at="W-H/DEPT", rp="W-H/A")
    world.ok(B.DISPENSING, "H", units[:1], patient_ref="pt-9", encounter_ref="op-1")

    world.receive_stock("M", "W-M", [gauze(100)], owner="M")
    first = ship(world, "M", gauze(40), "P")
    second = ship(world, "M", gauze(20), "P")
    # Lot quantities name the shipment they receive (serials find it by themselves).
    world.ok(B.RECEIVING, "P", [gauze(40)], at="W-P/Q", owner="X", shipment_id=first)
    world.ok(B.RECEIVING, "P", [gauze(20)], at="W-P/Q", owner="X", shipment_id=second)
    world.ok(B.INSPECTING, "P", [gauze(60)], at="W-P/Q")
    world.ok(B.STORING, "P", [gauze(60)], at="W-P/A", rp="W-P/Q")
    third = ship(world, "P", gauze(25), "H")
    world.ok(B.RECEIVING, "H", [gauze(25)], at="W-H/Q", owner="H", shipment_id=third)
    world.ok(B.INSPECTING, "H", [gauze(25)], at="W-H/Q")
    world.ok(B.STORING, "H", [gauze(25)], at="W-H/A", rp="W-H/Q")
    ship(world, "P", gauze(10), "H")
    world.ok(B.DISPENSING, "H", [gauze(5)], rp="W-H/A")
    world.ok(B.DESTROYING, "H", [gauze(2)], rp="W-H/A")
    return {"at_p": at_p}


def ship(world: World, actor: str, item: NewItem, to: str) -> uuid.UUID:
    """Ship from ``actor``'s A location to ``to``'s warehouse; return the shipment id."""
    source = {"M": "W-M", "P": "W-P", "X": "W-X"}[actor]
    outcome = world.ok(B.SHIPPING, actor, [item], rp=f"{source}/A", to=to, to_wh=f"W-{to}")
    ships = tables.shipments
    query = select(ships.c.id).where(ships.c.shipping_event_id == uuid.UUID(outcome.id))
    found = world.session.execute(query).scalar_one()
    world.session.rollback()
    return found


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


@pytest.fixture
def history(world: World) -> dict[str, Any]:
    return build_history(world)


def names(world: World) -> dict[str, str]:
    return {str(v): k for k, v in world.ids.items()}


def who(world: World, party: dict[str, Any] | None) -> str | None:
    return None if party is None else names(world)[party["id"]]


def unit(client: FlaskClient, headers: Headers, query: str) -> Any:
    return client.get(f"/api/v1/trace/unit?{query}", headers=headers)


def lot(client: FlaskClient, headers: Headers, query: str) -> Any:
    return client.get(f"/api/v1/trace/lot?{query}", headers=headers)


HOP = ["receiving", "inspecting", "storing"]


def test_a_stents_whole_life_in_order_with_its_container_and_its_use(
    client: FlaskClient, world: World, history: dict[str, Any]
) -> None:
    admin = token(world, "M", Role.ADMIN)
    response = unit(client, admin, f"di={STENT}&serial=S1")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    steps = [(h["biz_step"], who(world, h["acting_party"])) for h in body["timeline"]]
    assert steps == (
        [(s, "M") for s in [*HOP, "shipping"]]
        + [(s, "P") for s in [*HOP, "packing", "shipping"]]
        + [("receiving", "X"), ("unpacking", "X"), ("inspecting", "X"), ("storing", "X")]
        + [("shipping", "X")]
        + [(s, "H") for s in [*HOP, "stocking", "dispensing"]]
    )
    by_step = {(h["biz_step"], who(world, h["acting_party"])): h for h in body["timeline"]}
    boxed = by_step[("shipping", "P")]
    assert (boxed["container"], boxed["via_container"]) == (BOX, True)
    assert by_step[("receiving", "X")]["via_container"] is True
    assert by_step[("unpacking", "X")]["container"] == BOX
    assert by_step[("shipping", "M")]["via_container"] is False
    assert who(world, by_step[("receiving", "P")]["after"]["owner"]) == "X"
    assert who(world, by_step[("receiving", "P")]["after"]["possessor"]) == "P"
    assert by_step[("storing", "P")]["warehouse"]["name"] == "W-P 仓"
    assert by_step[("stocking", "H")]["location"]["department"] == "心内科"
    assert by_step[("shipping", "X")]["after"]["status"] == "in_transit"
    # Times keep the offset they were recorded with.
    assert body["timeline"][0]["event_time"].endswith("+08:00")
    assert [b["sscc"] for b in body["containers"]] == [BOX]
    assert body["containers"][0]["unpacked_at"] is not None
    assert [who(world, a["party"]) for a in body["acceptance"]] == ["M", "P", "X", "H"]
    assert all(a["accepted"] for a in body["acceptance"])
    (use,) = body["patient_use"]
    assert (who(world, use["hospital"]), use["department"]) == ("H", "心内科")
    # Admins run the system; the patient reference is the hospital's and the regulator's.
    assert (use["patient_ref"], use["patient_ref_hidden"]) == (None, True)
    current = body["current"]
    assert (current["status"], current["status_label_zh"]) == ("dispensed", "已使用")
    assert who(world, current["holder"]) == "H"
    assert body["device"]["registrant"]["name"] == "鹭康医疗"
    assert (body["lot"], body["visibility"]) == ("L1", "full")


def test_a_unit_named_by_any_scan_form_is_the_same_trace(
    client: FlaskClient, world: World, history: dict[str, Any]
) -> None:
    admin = token(world, "M", Role.ADMIN)
    plain = unit(client, admin, f"di={STENT}&serial=S3").get_json()
    assert who(world, plain["current"]["holder"]) == "P"
    assert plain["current"]["status"] == "available"
    for scan in (
        f"(01){STENT}(10)L1(21)S3",
        f"]d201{STENT}10L1\x1d21S3",
        f"https://id.gs1.org/01/{STENT}/10/L1/21/S3",
    ):
        response = unit(client, admin, f"udi={quote(scan)}")
        assert response.status_code == 200, (scan, response.get_data(as_text=True))
        assert response.get_json() == plain


def test_a_party_sees_its_own_hops_in_full_and_others_without_private_details(
    client: FlaskClient, world: World, history: dict[str, Any]
) -> None:
    distributor = token(world, "X", Role.WAREHOUSE_OPERATOR)
    body = unit(client, distributor, f"di={STENT}&serial=S1").get_json()
    assert body["visibility"] == "party"
    hops = {(h["biz_step"], who(world, h["acting_party"])): h for h in body["timeline"]}
    makers = hops[("storing", "M")]
    assert makers["redacted"] is True
    assert makers["warehouse"] == {"jurisdiction": "350206"}
    assert (makers["location"], makers["client_event_id"], makers["shipment_id"]) == (
        None,
        None,
        None,
    )
    own = hops[("storing", "X")]
    assert own["redacted"] is False
    assert own["warehouse"]["name"] == "W-X 仓"
    assert own["location"]["code"] == "A"
    # P stored the goods X owns: X is the owner on those hops, so they are X's to see.
    assert hops[("storing", "P")]["redacted"] is False
    use = body["patient_use"][0]
    assert (use["patient_ref"], use["patient_ref_hidden"]) == (None, True)
    hospital = token(world, "H", Role.HOSPITAL_USER)
    use = unit(client, hospital, f"di={STENT}&serial=S1").get_json()["patient_use"][0]
    assert (use["patient_ref"], use["encounter_ref"]) == ("pt-9", "op-1")


def test_regulators_see_within_their_jurisdiction_and_strangers_get_404(
    client: FlaskClient, world: World, history: dict[str, Any], make_token: Any
) -> None:
    xiamen = make_token(Role.REGULATOR, jurisdiction="3502")
    body = unit(client, xiamen, f"di={STENT}&serial=S1").get_json()
    assert body["visibility"] == "full"
    assert not any(h["redacted"] for h in body["timeline"])
    assert body["patient_use"][0]["patient_ref"] == "pt-9"
    beijing = make_token(Role.REGULATOR, credit_code="11110000000013137J", jurisdiction="1101")
    assert_problem(unit(client, beijing, f"di={STENT}&serial=S1"), 404, "request.not_found")
    assert_problem(lot(client, beijing, f"di={GAUZE}&lot=G1"), 404, "request.not_found")
    stranger = token(world, "S60", Role.ORG_MANAGER)
    assert_problem(unit(client, stranger, f"di={STENT}&serial=S1"), 404, "request.not_found")
    assert_problem(lot(client, stranger, f"di={STENT}&lot=L1"), 404, "request.not_found")
    # H never held S3: exactly the answer for a serial that does not exist.
    hospital = token(world, "H")
    assert_problem(unit(client, hospital, f"di={STENT}&serial=S3"), 404, "request.not_found")
    assert_problem(unit(client, hospital, f"di={STENT}&serial=NOPE"), 404, "request.not_found")


def test_as_of_replays_the_state_at_that_time(
    client: FlaskClient, world: World, history: dict[str, Any]
) -> None:
    admin = token(world, "M", Role.ADMIN)
    moment = quote(history["at_p"].isoformat())
    body = unit(client, admin, f"di={STENT}&serial=S1&as_of={moment}").get_json()
    assert [h["biz_step"] for h in body["timeline"]][-3:] == HOP
    current = body["current"]
    assert current["status"] == "available"
    assert (who(world, current["owner"]), who(world, current["holder"])) == ("X", "P")
    assert current["warehouse"]["name"] == "W-P 仓"
    assert body["containers"] == []  # packed after that moment
    before = quote((history["at_p"] - timedelta(days=30)).isoformat())
    early = unit(client, admin, f"di={STENT}&serial=S1&as_of={before}").get_json()
    assert (early["timeline"], early["current"]) == ([], None)


def test_requests_naming_nothing_or_an_unreadable_scan_are_422(
    client: FlaskClient, world: World
) -> None:
    admin = token(world, "M", Role.ADMIN)
    assert_problem(unit(client, admin, f"di={STENT}"), 422, "trace.identifier_required")
    assert_problem(unit(client, admin, "udi=(01)06931234100041"), 422, "trace.identifier_required")
    assert_problem(lot(client, admin, "lot=L1"), 422, "trace.identifier_required")
    bad = assert_problem(
        unit(client, admin, "udi=(01)06931234100042(21)S1"), 422, "trace.udi_invalid"
    )
    assert bad["errors"][0]["code"] == "gs1.check_digit"
    assert bad["errors"][0]["field"] == "udi"
    assert_problem(unit(client, admin, "serial=S1&colour=red"), 422, "request.validation")
    assert_problem(
        client.get(f"/api/v1/trace/unit?di={STENT}&serial=S1"), 401, "auth.missing_token"
    )


def test_a_lot_flows_as_a_graph_and_a_table_and_balances(
    client: FlaskClient, world: World, history: dict[str, Any]
) -> None:
    admin = token(world, "M", Role.ADMIN)
    response = lot(client, admin, f"di={GAUZE}&lot=G1")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    nodes = {names(world)[n["id"]]: n for n in body["graph"]["nodes"]}
    counts = {
        key: (n["received"], n["shipped"], n["used"], n["destroyed"], n["on_hand"])
        for key, n in nodes.items()
    }
    assert counts == {
        "M": (100, 60, 0, 0, 40),
        "P": (60, 35, 0, 0, 25),
        "H": (25, 0, 5, 2, 18),
    }
    assert {k: n["depth"] for k, n in nodes.items()} == {"M": 0, "P": 1, "H": 2}
    assert nodes["H"]["in_transit_in"] == 10
    assert nodes["P"]["warehouses"] == [
        {"id": str(world["W-P"]), "name": "W-P 仓", "jurisdiction": "350206", "on_hand": 25}
    ]
    edges = {(names(world)[e["from"]], names(world)[e["to"]]): e for e in body["graph"]["edges"]}
    assert {k: (e["shipments"], e["quantity"], e["in_transit"]) for k, e in edges.items()} == {
        ("M", "P"): (2, 60, 0),
        ("P", "H"): (2, 35, 10),
    }
    table = body["shipments"]
    assert [
        (who(world, r["from"]), who(world, r["to"]), r["quantity"], r["status"]) for r in table
    ] == [
        ("M", "P", 40, "received"),
        ("M", "P", 20, "received"),
        ("P", "H", 25, "received"),
        ("P", "H", 10, "in_transit"),
    ]
    assert table[0]["received_at"] is not None
    assert table[3]["received_at"] is None
    assert body["balance"] == {"balanced": True, "imbalances": []}
    assert body["totals"]["in_transit"] == 10
    assert body["totals"]["shipments"] == 4


def test_a_serialised_lot_counts_the_units_that_travelled_in_a_container(
    client: FlaskClient, world: World, history: dict[str, Any]
) -> None:
    admin = token(world, "M", Role.ADMIN)
    body = lot(client, admin, f"di={STENT}&lot=L1").get_json()
    nodes = {names(world)[n["id"]]: n for n in body["graph"]["nodes"]}
    counts = {
        key: (n["received"], n["shipped"], n["used"], n["on_hand"]) for key, n in nodes.items()
    }
    assert counts == {
        "M": (3, 3, 0, 0),
        "P": (3, 2, 0, 1),
        "X": (2, 1, 0, 1),
        "H": (1, 0, 1, 0),
    }
    assert body["balance"]["balanced"] is True


def test_an_imbalance_is_reported_with_the_holder_and_the_difference(
    client: FlaskClient, world: World, history: dict[str, Any], db_session: Session
) -> None:
    # A balance that no event explains (a projection edited behind the service's back).
    db_session.execute(
        tables.stock.insert().values(
            id=new_id(),
            owner_id=world["H"],
            possessor_id=world["H"],
            warehouse_id=world["W-H"],
            location_id=world["W-H/B"],
            di=GAUZE,
            lot="G1",
            status="available",
            expiry=None,
            quantity=3,
            updated_at=history["at_p"],
        )
    )
    db_session.commit()
    admin = token(world, "M", Role.ADMIN)
    balance = lot(client, admin, f"di={GAUZE}&lot=G1").get_json()["balance"]
    assert balance["balanced"] is False
    (wrong,) = balance["imbalances"]
    assert (who(world, wrong["party"]), wrong["expected_on_hand"], wrong["on_hand"]) == (
        "H",
        18,
        21,
    )
    assert wrong["difference"] == 3


def test_a_party_sees_the_lot_backward_and_forward_of_itself_without_others_warehouses(
    client: FlaskClient, world: World, history: dict[str, Any]
) -> None:
    tpl = token(world, "P")
    body = lot(client, tpl, f"di={GAUZE}&lot=G1").get_json()
    assert body["visibility"] == "party"
    assert [names(world)[p] for p in body["backward"]] == ["M"]
    assert [names(world)[p] for p in body["forward"]] == ["H"]
    nodes = {names(world)[n["id"]]: n for n in body["graph"]["nodes"]}
    assert nodes["M"]["warehouses"] == []
    assert nodes["P"]["warehouses"] != []
    assert nodes["M"]["party"]["name"] == "鹭康医疗"
    scan = quote(f"(01){GAUZE}(17)291231(10)G1")
    assert lot(client, tpl, f"udi={scan}").get_json() == body


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = session.get_bind().engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_trace_costs_the_same_number_of_queries_however_many_other_events_exist(
    client: FlaskClient, world: World, history: dict[str, Any], db_session: Session
) -> None:
    admin = token(world, "M", Role.ADMIN)
    query = f"di={STENT}&serial=S1"
    unit(client, admin, query)  # the token's first use records last_used_at
    with counted(db_session) as before:
        first = unit(client, admin, query).get_json()
    others = [stent(f"OTHER-{n}") for n in range(60)]
    world.receive_stock("P", "W-P", others, owner="X")
    world.ok(B.SHIPPING, "P", others[:30], rp="W-P/A", to="X", to_wh="W-X")
    with counted(db_session) as after:
        second = unit(client, admin, query).get_json()
    assert second == first
    assert len(after) == len(before)
    traced = [s for s in after if "event_items" in s]
    assert traced
    assert all("WHERE" in s for s in traced)


def test_every_unit_of_a_container_has_the_containers_hops(
    client: FlaskClient, world: World, history: dict[str, Any]
) -> None:
    admin = token(world, "M", Role.ADMIN)
    other = unit(client, admin, f"di={STENT}&serial=S2").get_json()
    boxed = [(h["biz_step"], h["container"]) for h in other["timeline"] if h["via_container"]]
    assert boxed == [("shipping", BOX), ("receiving", BOX)]
    assert who(world, other["current"]["holder"]) == "X"
    # S3 was never packed: no container hop.
    alone = unit(client, admin, f"di={STENT}&serial=S3").get_json()
    assert alone["containers"] == []
    assert not any(h["container"] for h in alone["timeline"])


def test_under_row_level_security_a_party_still_sees_the_whole_chain_redacted(
    app: Any, client: FlaskClient, world: World, history: dict[str, Any], engine_name: str
) -> None:
    if engine_name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's (migration 0009)")
    distributor = token(world, "X", Role.WAREHOUSE_OPERATOR)
    app.config[RLS_ROLE_CONFIG] = "udi_rls"
    try:
        body = unit(client, distributor, f"di={STENT}&serial=S1").get_json()
        flows = lot(client, distributor, f"di={GAUZE}&lot=G1")
        stranger = unit(client, token(world, "S60"), f"di={STENT}&serial=S1")
    finally:
        app.config.pop(RLS_ROLE_CONFIG)
    parties = {who(world, h["acting_party"]) for h in body["timeline"]}
    assert parties == {"M", "P", "X", "H"}
    assert len(body["timeline"]) == 19
    # X owns what P stores: the lot's other holders (M, H) come through RLS, redacted.
    holders = {names(world)[n["id"]]: n for n in flows.get_json()["graph"]["nodes"]}
    assert set(holders) == {"M", "P", "H"}
    assert holders["M"]["warehouses"] == []
    assert_problem(stranger, 404, "request.not_found")


def test_proofs_come_with_the_trace_for_every_event_the_caller_may_read(
    client: FlaskClient, world: World, history: dict[str, Any]
) -> None:
    admin = token(world, "M", Role.ADMIN)
    body = unit(client, admin, f"di={STENT}&serial=S1&proofs=true").get_json()
    assert set(body["proofs"]) == {hop["event_id"] for hop in body["timeline"]}
    for event_id, proof in body["proofs"].items():
        assert proof["id"] == event_id
        assert proof["consistent"] is True
        leaf = hashlib.sha256(b"\x00" + proof["canonical"].encode()).hexdigest()  # RFC 9162
        assert proof["leaf_hash"] == leaf

    distributor = token(world, "X", Role.WAREHOUSE_OPERATOR)
    seen = unit(client, distributor, f"di={STENT}&serial=S1&proofs=true").get_json()
    redacted = {hop["event_id"] for hop in seen["timeline"] if hop["redacted"]}
    assert redacted, "the history has hops of other companies"
    assert set(seen["proofs"]).isdisjoint(redacted)
    assert set(seen["proofs"]) == {h["event_id"] for h in seen["timeline"]} - redacted
    assert "proofs" not in unit(client, distributor, f"di={STENT}&serial=S1").get_json()


def test_an_event_declared_erroneous_is_marked_with_its_correction(
    client: FlaskClient, world: World
) -> None:
    world.receive_stock("P", "W-P", [stent("E1")], owner="X")
    wrong = world.event(B.STORING, "P", [stent("E1")], at="W-P/B")
    world.record(wrong)
    world.ok(B.STORING, "P", [], declares_event_id=wrong.event_id, error_reason="incorrect_data")
    world.ok(B.STORING, "P", [stent("E1")], at="W-P/A", corrects_event_id=wrong.event_id)

    body = unit(client, token(world, "X", Role.WAREHOUSE_OPERATOR), f"di={STENT}&serial=E1")

    timeline = body.get_json()["timeline"]
    marked = [hop for hop in timeline if hop["declared_erroneous"]]
    assert [hop["client_event_id"] for hop in marked] == [str(wrong.event_id)]
    [hop] = marked
    assert hop["error_reason"] == "incorrect_data"
    correcting = timeline[-1]
    assert (correcting["declared_erroneous"], correcting["correction"]) == (False, None)
    assert hop["correction"]["corrected_by"] == [correcting["event_id"]]
    assert hop["correction"]["declared_by"] is not None
    assert sum(h["declared_erroneous"] for h in timeline) == 1


DESTROYED_BOX = "106141411234567903"
USED_BOX = "106141411234567910"


def test_units_used_or_destroyed_in_a_whole_container_count_in_the_lot_balance(
    client: FlaskClient, world: World
) -> None:
    # Lot L7: M receives five stents, destroys two inside a sealed box, ships a box of two
    # (with a stent of lot L8) to H, which uses that box whole on a patient; one stent stays
    # at M. Using or destroying a container stores only its SSCC as the event's item.
    units = [stent(f"S7{n}", lot="L7") for n in range(1, 6)]
    other = stent("S81", lot="L8")
    world.receive_stock("M", "W-M", [*units, other], owner="M")
    world.ok(B.PACKING, "M", units[:2], **{**PACK, "parent_sscc": DESTROYED_BOX})
    world.ok(B.DESTROYING, "M", [NewItem(sscc=DESTROYED_BOX)], rp="W-M/A")
    world.ok(B.PACKING, "M", [*units[2:4], other], **{**PACK, "parent_sscc": USED_BOX})
    world.ok(B.SHIPPING, "M", [NewItem(sscc=USED_BOX)], rp="W-M/A", to="H", to_wh="W-H")
    world.receive_stock("H", "W-H", [NewItem(sscc=USED_BOX)], owner="H")
    world.ok(B.STOCKING, "H", [NewItem(sscc=USED_BOX)], at="W-H/DEPT", rp="W-H/A")
    world.ok(B.DISPENSING, "H", [NewItem(sscc=USED_BOX)], patient_ref="pt-7", encounter_ref="op-7")
    statuses = [world.unit(f"S7{n}")["status"] for n in range(1, 6)]
    assert statuses == ["destroyed", "destroyed", "dispensed", "dispensed", "available"]

    admin = token(world, "M", Role.ADMIN)
    columns = ("received", "shipped", "used", "destroyed", "on_hand")

    def accounts(lot_number: str) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
        body = lot(client, admin, f"di={STENT}&lot={lot_number}").get_json()
        nodes = {names(world)[n["id"]]: n for n in body["graph"]["nodes"]}
        assert all(n["balanced"] for n in nodes.values())
        assert body["balance"] == {"balanced": True, "imbalances": []}
        return body, {key: tuple(n[c] for c in columns) for key, n in nodes.items()}

    body, counts = accounts("L7")
    assert counts == {"M": (5, 2, 0, 2, 1), "H": (2, 0, 2, 0, 0)}
    totals = body["totals"]
    assert (totals["used"], totals["destroyed"], totals["on_hand"]) == (2, 2, 1)
    # The used box held a unit of L8 too: each lot counts its own units only.
    assert accounts("L8")[1] == {"M": (1, 1, 0, 0, 0), "H": (1, 0, 1, 0, 0)}
