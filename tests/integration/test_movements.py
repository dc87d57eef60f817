"""Movement services on both engines: the state machine, projections, idempotency, refusals."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.movements_world import CST, GAUZE, SCALPEL, STENT, World, build_world, gauze, stent
from warehouse import tables
from warehouse.domain.movements import Action, EventType
from warehouse.domain.movements import BizStep as B
from warehouse.repository.movements import AppendOnlyError
from warehouse.services import movements
from warehouse.services.access import SYSTEM
from warehouse.services.errors import ValidationFailed
from warehouse.services.movements import NewItem


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


def _count(session: Session, table: object) -> int:
    found = session.execute(select(func.count()).select_from(table)).scalar_one()
    session.rollback()
    return int(found)


def test_receive_accept_put_away_pick_ship_and_receive_at_the_destination(world: World) -> None:
    items = [stent("S1"), stent("S2")]
    world.ok(B.RECEIVING, "P", items, at="W-P/Q", owner="X", source="M")
    assert world.stock() == {("W-P/Q", STENT, "L1", "pending_acceptance"): 2}
    world.ok(B.INSPECTING, "P", items, at="W-P/Q")
    world.ok(B.STORING, "P", items, at="W-P/A")
    assert world.stock() == {("W-P/A", STENT, "L1", "available"): 2}
    world.ok(B.PICKING, "P", [stent("S1")], rp="W-P/A")
    world.ok(B.STAGING_OUTBOUND, "P", [stent("S1")], rp="W-P/A")
    world.ok(B.SHIPPING, "P", [stent("S1")], rp="W-P/A", to="P", to_wh="W-S")
    assert world.unit("S1")["status"] == "in_transit"
    assert world.stock() == {("W-P/A", STENT, "L1", "available"): 1}
    world.ok(B.RECEIVING, "P", [stent("S1")], at="W-S/Q", owner="X")
    unit = world.unit("S1")
    assert (unit["location_id"], unit["status"], unit["owner_id"]) == (
        "W-S/Q",
        "pending_acceptance",
        "X",
    )
    assert unit["version"] == 6


def test_lot_quantities_are_received_picked_and_never_overdrawn(world: World) -> None:
    world.receive_stock("P", "W-P", [gauze(10)], owner="X")
    world.ok(B.PICKING, "P", [gauze(7)], rp="W-P/A")
    assert world.stock() == {
        ("W-P/A", GAUZE, "G1", "available"): 3,
        ("W-P/A", GAUZE, "G1", "picked"): 7,
    }
    refusal = world.refused(B.PICKING, "P", [gauze(4)], rp="W-P/A")
    assert (refusal.code, refusal.status) == ("stock.insufficient", 409)
    assert world.refused(B.PICKING, "P", [gauze(1)], rp="W-S/A").code == "movement.not_in_stock"
    world.ok(B.SHIPPING, "P", [gauze(9)], rp="W-P/A", to="H")
    assert world.stock() == {("W-P/A", GAUZE, "G1", "available"): 1}


def test_a_batch_keeps_good_events_and_answers_each_in_order(world: World) -> None:
    good = world.event(B.RECEIVING, "P", [stent("S1")], at="W-P/Q", owner="X")
    bad = world.event(B.PICKING, "P", [stent("S9")], rp="W-P/A")
    also_good = world.event(B.INSPECTING, "P", [stent("S1")], at="W-P/Q")
    result = world.record(good, bad, also_good)
    assert [r.status for r in result.results] == ["accepted", "rejected", "accepted"]
    assert result.results[1].problem is not None
    assert result.results[1].problem.code == "movement.not_in_stock"
    assert world.stock() == {("W-P/Q", STENT, "L1", "available"): 1}


def test_replaying_the_same_batch_ten_times_stores_one_set_of_events(world: World) -> None:
    batch = [
        world.event(B.RECEIVING, "P", [stent(f"S{n}")], at="W-P/Q", owner="X") for n in range(5)
    ]
    first = world.record(*batch)
    for _ in range(10):
        again = world.record(*batch)
        assert [r.status for r in again.results] == ["duplicate"] * 5
        assert [r.id for r in again.results] == [r.id for r in first.results]
    assert _count(world.session, tables.events) == 5
    assert world.stock() == {("W-P/Q", STENT, "L1", "pending_acceptance"): 5}


def test_a_reused_event_id_with_other_content_is_rejected(world: World) -> None:
    event = world.event(B.RECEIVING, "P", [stent("S1")], at="W-P/Q", owner="X")
    world.record(event)
    other = world.event(B.RECEIVING, "P", [stent("S2")], at="W-P/Q", event_id=event.event_id)
    problem = world.record(other).results[0].problem
    assert problem is not None
    assert problem.code == "event.id_reused"


def test_the_60_percent_subsidiarys_warehouse_is_refused_naming_the_rules(world: World) -> None:
    refusal = world.refused(B.RECEIVING, "P", [stent("S1")], at="W-S60/Q", owner="X")
    assert refusal.code == "custody.refused"
    codes = {e.code for e in refusal.errors}
    assert "custody.not_wholly_owned" in codes
    assert "custody.agreement_scope" in codes
    world.ok(B.RECEIVING, "P", [stent("S1")], at="W-S/Q", owner="X")  # 100%: allowed (R2)


def test_a_label_missing_a_declared_production_identifier_is_refused(world: World) -> None:
    no_serial = NewItem(di=STENT, lot="L1", expiry=date(2029, 1, 1))
    refusal = world.refused(B.RECEIVING, "P", [no_serial], at="W-P/Q", owner="X")
    assert refusal.code == "movement.pi_mismatch"
    assert "serial" in refusal.detail
    no_expiry = NewItem(di=GAUZE, lot="G", quantity=2)
    assert world.refused(B.RECEIVING, "P", [no_expiry], at="W-P/Q").code == "movement.pi_mismatch"


@pytest.mark.parametrize("quantity", [0, -3])
def test_quantities_must_be_positive(world: World, quantity: int) -> None:
    item = gauze(quantity)
    assert world.refused(B.RECEIVING, "P", [item], at="W-P/Q").code == "movement.quantity"


def test_a_serial_in_someone_elses_stock_cannot_be_received(world: World) -> None:
    world.ok(B.RECEIVING, "P", [stent("S1")], at="W-P/Q", owner="X")
    refusal = world.refused(B.RECEIVING, "X", [stent("S1")], at="W-X/Q", owner="X")
    assert refusal.code == "movement.serial_elsewhere"


def test_an_expired_unit_cannot_be_picked_but_can_be_returned_and_destroyed(world: World) -> None:
    old = stent("OLD", expiry=date(2026, 6, 20))
    world.receive_stock("P", "W-P", [old], owner="X")
    later = datetime(2026, 6, 21, 9, 0, tzinfo=CST)
    refusal = world.refused(B.PICKING, "P", [old], rp="W-P/A", event_time=later)
    assert refusal.code == "movement.expired"
    stored = world.refused(B.STORING, "P", [old], at="W-P/B", event_time=later)
    assert stored.code == "movement.expired"  # not into a pickable location
    world.ok(B.RETURNING, "P", [old], at="W-P/R", event_time=later)
    world.ok(B.DESTROYING, "P", [old], event_time=later)
    assert world.unit("OLD")["status"] == "destroyed"
    assert world.refused(B.PICKING, "P", [old]).code == "movement.destroyed"
    assert world.stock() == {}


def test_hold_blocks_picking_until_released_and_a_recalled_lot_stays_blocked(world: World) -> None:
    world.receive_stock("P", "W-P", [stent("S1"), gauze(5)], owner="X")
    world.ok(B.HOLDING, "P", [stent("S1")], disposition="non_sellable_other")
    assert world.refused(B.PICKING, "P", [stent("S1")]).code == "movement.on_hold"
    world.ok(B.HOLDING, "P", [stent("S1")], disposition="sellable_accessible")
    world.ok(B.PICKING, "P", [stent("S1")])
    world.ok(B.HOLDING, "P", [gauze(5)], rp="W-P/A", disposition="recalled")
    assert world.refused(B.PICKING, "P", [gauze(1)], rp="W-P/A").code == "movement.recalled"
    refusal = world.refused(B.HOLDING, "P", [gauze(5)], rp="W-P/A", disposition="conformant")
    assert refusal.code == "movement.recalled"
    world.ok(B.STORING, "P", [gauze(5)], rp="W-P/A", at="W-P/X")
    assert world.stock()[("W-P/X", GAUZE, "G1", "recalled")] == 5


def test_double_pick_of_a_serial_is_a_409_conflict(world: World) -> None:
    world.receive_stock("P", "W-P", [stent("S1")], owner="X")
    world.ok(B.PICKING, "P", [stent("S1")])
    refusal = world.refused(B.PICKING, "P", [stent("S1")])
    assert (refusal.code, refusal.status) == ("stock.conflict", 409)


def test_only_the_possessor_moves_goods(world: World) -> None:
    world.receive_stock("P", "W-P", [stent("S1")], owner="X")
    assert world.refused(B.PICKING, "X", [stent("S1")]).code == "movement.not_in_stock"


def test_a_receipt_is_matched_against_the_despatch(world: World) -> None:
    world.receive_stock("P", "W-P", [stent("S1"), stent("S2"), gauze(10)], owner="X")
    world.ok(B.SHIPPING, "P", [stent("S1"), stent("S2"), gauze(10)], rp="W-P/A", to="H")
    shipment = world.unit("S1")["shipment_id"]
    substitute = NewItem(di=SCALPEL, serial="K1", lot="K", expiry=date(2029, 1, 1))
    world.ok(
        B.RECEIVING,
        "H",
        [stent("S1"), stent("S7"), gauze(12), substitute],
        at="W-H/Q",
        owner="H",
        shipment_id=uuid.UUID(str(shipment)),
    )
    page = movements.list_discrepancies(world.session, SYSTEM, movements.PageRequest())
    found = sorted(
        (d["kind"], d["di"], d["serial"], d["expected_quantity"], d["received_quantity"])
        for d in page.items
    )
    assert found == [
        ("over", GAUZE, None, 10, 12),
        ("short", STENT, "S2", 1, 0),
        ("substitution", SCALPEL, "K1", 0, 1),
        ("unexpected_unit", STENT, "S7", 0, 1),
    ]
    assert world.stock(owner_id="H") == {
        ("W-H/Q", STENT, "L1", "pending_acceptance"): 1,
        ("W-H/Q", STENT, "L1", "on_hold"): 1,
        ("W-H/Q", GAUZE, "G1", "pending_acceptance"): 10,
        ("W-H/Q", GAUZE, "G1", "on_hold"): 2,
        ("W-H/Q", SCALPEL, "K", "on_hold"): 1,
    }
    again = world.refused(
        B.RECEIVING, "H", [stent("S2")], at="W-H/Q", shipment_id=uuid.UUID(str(shipment))
    )
    assert again.code == "movement.not_in_stock"


def test_hospital_issue_use_on_a_patient_and_return_unused(world: World) -> None:
    world.receive_stock("H", "W-H", [stent("S1"), stent("S2"), stent("S3")], owner="H")
    assert world.refused(B.STOCKING, "H", [stent("S1")], at="W-H/B").code == "movement.location"
    world.ok(B.STOCKING, "H", [stent("S1"), stent("S2")], at="W-H/DEPT")
    refusal = world.refused(B.DISPENSING, "H", [stent("S1")])
    assert refusal.code == "movement.patient_required"
    world.ok(B.DISPENSING, "H", [stent("S1")], patient_ref="p-7f3a", encounter_ref="e-2026-1")
    assert world.unit("S1")["status"] == "dispensed"
    assert world.refused(B.PICKING, "H", [stent("S1")]).code == "movement.dispensed"
    world.ok(B.RETURNING, "H", [stent("S2")], at="W-H/R")
    assert world.stock() == {
        ("W-H/A", STENT, "L1", "available"): 1,
        ("W-H/R", STENT, "L1", "pending_acceptance"): 1,
    }


def test_a_container_of_implants_used_on_a_patient_needs_the_patient(world: World) -> None:
    sscc = "106141411234567897"
    world.receive_stock("H", "W-H", [stent("S1"), stent("S2")], owner="H")
    pack = {"event_type": EventType.AGGREGATION, "parent_sscc": sscc, "action": Action.ADD}
    world.ok(B.PACKING, "H", [stent("S1"), stent("S2")], **pack)
    world.ok(B.STOCKING, "H", [NewItem(sscc=sscc)], at="W-H/DEPT")
    refusal = world.refused(B.DISPENSING, "H", [NewItem(sscc=sscc)])
    assert refusal.code == "movement.patient_required"
    assert f"implantable DI {STENT} in container {sscc}" in refusal.detail
    patient = {"patient_ref": "p-7f3a", "encounter_ref": "e-2026-1"}
    world.ok(B.DISPENSING, "H", [NewItem(sscc=sscc)], **patient)
    assert world.unit("S1")["status"] == "dispensed"


def test_packing_moves_units_with_their_container_and_unpacking_frees_them(world: World) -> None:
    sscc = "106141411234567897"
    world.receive_stock("P", "W-P", [stent("S1"), stent("S2")], owner="X")
    pack = {"event_type": EventType.AGGREGATION, "parent_sscc": sscc, "action": Action.ADD}
    world.ok(B.PACKING, "P", [stent("S1"), stent("S2")], **pack)
    assert world.unit("S2")["container_sscc"] == sscc
    world.ok(B.SHIPPING, "P", [NewItem(sscc=sscc)], to="X")
    world.ok(B.RECEIVING, "X", [NewItem(sscc=sscc)], at="W-X/Q", owner="X")
    assert world.stock() == {("W-X/Q", STENT, "L1", "pending_acceptance"): 2}
    assert world.unit("S1")["owner_id"] == "X"
    matched = movements.list_discrepancies(world.session, SYSTEM, movements.PageRequest())
    assert matched.items == []  # the container's units were the whole shipment
    unpack = {"event_type": EventType.AGGREGATION, "parent_sscc": sscc, "action": Action.DELETE}
    world.ok(B.UNPACKING, "X", [], **unpack)
    assert world.unit("S1")["container_sscc"] is None
    bad = dict(pack, parent_sscc="106141411234567890")
    assert world.refused(B.PACKING, "X", [stent("S1")], **bad).code == "movement.container"


def test_an_error_declaration_and_a_correcting_event(world: World) -> None:
    world.receive_stock("P", "W-P", [stent("S1")], owner="X")
    wrong = world.event(B.STORING, "P", [stent("S1")], at="W-P/B")
    world.record(wrong)
    orphan = world.refused(
        B.STORING, "P", [stent("S1")], at="W-P/A", corrects_event_id=wrong.event_id
    )
    assert orphan.code == "event.unknown_reference"
    world.ok(
        B.STORING,
        "P",
        [],
        declares_event_id=wrong.event_id,
        error_reason="incorrect_data",
    )
    world.ok(B.STORING, "P", [stent("S1")], at="W-P/A", corrects_event_id=wrong.event_id)
    assert world.unit("S1")["location_id"] == "W-P/A"
    declared = movements.list_events(
        world.session,
        SYSTEM,
        movements.PageRequest(),
        movements.EventFilter(error_declaration=True),
    )
    assert [e["error_reason"] for e in declared.items] == ["incorrect_data"]


@pytest.mark.parametrize("table", ["events", "event_items"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET quantity = 1", "DELETE FROM {t}"])
def test_the_database_refuses_to_change_stored_events(
    world: World, table: str, statement: str
) -> None:
    world.ok(B.RECEIVING, "P", [stent("S1")], at="W-P/Q", owner="X")
    sql = statement.format(t=table)
    if table == "events":
        sql = sql.replace("quantity = 1", "staff_id = 'x'")
    with pytest.raises(DBAPIError, match="append-only"), world.session.begin_nested():
        world.session.execute(text(sql))
    world.session.rollback()
    assert _count(world.session, tables.events) == 1


@pytest.mark.parametrize("build", [lambda t: update(t).values(staff_id="x"), lambda t: delete(t)])
def test_the_repository_refuses_updates_and_deletes_of_events_too(world: World, build) -> None:
    world.ok(B.RECEIVING, "P", [stent("S1")], at="W-P/Q", owner="X")
    with pytest.raises(AppendOnlyError, match="append-only table events"):
        world.session.execute(build(tables.events))
    world.session.rollback()
    assert _count(world.session, tables.events) == 1


def test_goods_cannot_be_put_away_or_issued_into_someone_elses_warehouse(world: World) -> None:
    world.receive_stock("P", "W-P", [stent("S1")], owner="X")
    assert world.refused(B.STORING, "P", [stent("S1")], at="W-X/A").code == "custody.refused"
    assert world.refused(B.STOCKING, "P", [stent("S1")], at="W-H/DEPT").code == "custody.refused"
    assert world.refused(B.RETURNING, "P", [stent("S1")], at="W-S60/R").code == "custody.refused"
    world.ok(B.RETURNING, "P", [stent("S1")], at="W-P/R")


def test_a_failed_inspection_puts_goods_on_hold(world: World) -> None:
    world.ok(B.ARRIVING, "P", [gauze(4)], at="W-P/Q", owner="X")
    world.ok(B.ACCEPTING, "P", [gauze(4)], at="W-P/Q", disposition="non_conformant")
    assert world.stock() == {("W-P/Q", GAUZE, "G1", "on_hold"): 4}
    refusal = world.refused(B.STORING, "P", [gauze(4)], rp="W-P/Q", at="W-P/A")
    assert refusal.code == "movement.on_hold"
    world.ok(B.STORING, "P", [gauze(4)], rp="W-P/Q", at="W-P/R")


def test_more_than_a_thousand_events_is_refused_as_a_whole(world: World) -> None:
    events = [world.event(B.RECEIVING, "P", [gauze(1)], at="W-P/Q") for _ in range(1001)]
    with pytest.raises(ValidationFailed) as caught:
        movements.record(world.session, SYSTEM, events)
    assert caught.value.errors[0].code == "request.batch_too_large"
