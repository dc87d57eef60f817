"""Scanners racing for the last unit, on real separate connections and a database of its own.

PostgreSQL: 16 threads; SQLite: 4 threads (writers queue on BEGIN IMMEDIATE). Exactly one
pick wins, every other scanner gets a 409 problem, and stock never goes negative.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.movements_world import GAUZE, World, build_world, gauze, stent
from warehouse import tables
from warehouse.domain.movements import BizStep as B
from warehouse.domain.recalls import RecallClass
from warehouse.domain.roles import Principal, Role
from warehouse.services import movements, recalls
from warehouse.services.access import SYSTEM
from warehouse.services.movements import EventResult, NewEvent

THREADS = {"sqlite": 4, "postgresql": 16}


def _race(app: Flask, events: list[NewEvent]) -> list[EventResult]:
    factory = app.extensions["udi_db"].session_factory
    barrier = threading.Barrier(len(events))
    results: list[EventResult | BaseException] = [RuntimeError("did not run")] * len(events)

    def scan(index: int) -> None:
        session = factory()
        try:
            barrier.wait(timeout=30)
            results[index] = movements.record(session, SYSTEM, [events[index]]).results[0]
        except BaseException as error:  # reported below, with the thread's index
            results[index] = error
        finally:
            session.close()

    threads = [threading.Thread(target=scan, args=(n,)) for n in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    return [r for r in results if isinstance(r, EventResult)]


def _world(app: Flask) -> World:
    session = app.extensions["udi_db"].session_factory()
    world = build_world(session)
    world.receive_stock("P", "W-P", [gauze(1, lot="LAST"), stent("ONLY")], owner="X")
    return world


def test_scanners_racing_for_the_last_unit_of_a_lot(own_app: Flask) -> None:
    world = _world(own_app)
    n = THREADS[own_app.extensions["udi_db"].engine.dialect.name]
    picks = [world.event(B.PICKING, "P", [gauze(1, lot="LAST")], rp="W-P/A") for _ in range(n)]
    results = _race(own_app, picks)
    assert [r.status for r in results].count("accepted") == 1
    losers = [r.problem for r in results if r.status == "rejected"]
    assert len(losers) == n - 1
    assert {(p.code, p.status) for p in losers if p} == {("stock.insufficient", 409)}
    rows = world.session.execute(
        select(tables.stock.c.status, tables.stock.c.quantity).where(tables.stock.c.lot == "LAST")
    ).all()
    world.session.rollback()
    assert all(quantity >= 0 for _, quantity in rows)
    assert {status: q for status, q in rows if q} == {"picked": 1}
    count = world.session.execute(select(tables.events.c.id)).all()
    world.session.close()  # return the connection before the race database is dropped
    assert len(count) == 3 + 1  # receive, inspect, put away; then the one winning pick


def test_scanners_racing_for_one_serialised_unit(own_app: Flask) -> None:
    world = _world(own_app)
    n = THREADS[own_app.extensions["udi_db"].engine.dialect.name]
    picks = [world.event(B.PICKING, "P", [stent("ONLY")], event_id=uuid.uuid4()) for _ in range(n)]
    results = _race(own_app, picks)
    assert [r.status for r in results].count("accepted") == 1
    assert {(r.problem.code, r.problem.status) for r in results if r.problem} == {
        ("stock.conflict", 409)
    }
    assert world.unit("ONLY")["status"] == "picked"
    assert world.unit("ONLY")["version"] == 3


def test_handhelds_receiving_one_lot_at_once_each_count_once(own_app: Flask) -> None:
    """Receipts only add stock, so their balances are read without a lock (they overlap
    instead of queueing): every receipt must still be counted exactly once."""
    world = _world(own_app)
    n = THREADS[own_app.extensions["udi_db"].engine.dialect.name]
    receipts = [
        world.event(B.RECEIVING, "P", [gauze(index + 1, lot="RACE")], at="W-P/Q", owner="X")
        for index in range(n)
    ]
    results = _race(own_app, receipts)
    assert [r.status for r in results] == ["accepted"] * n
    rows = world.session.execute(
        select(tables.stock.c.status, tables.stock.c.quantity).where(tables.stock.c.lot == "RACE")
    ).all()
    world.session.close()  # return the connection before the race database is dropped
    assert dict(rows) == {"pending_acceptance": n * (n + 1) // 2}


@pytest.mark.parametrize("before", [5, 0], ids=["onto_a_balance", "a_new_balance"])
def test_a_recall_ordered_while_a_receipt_is_in_flight_holds_the_received_goods_too(
    own_app: Flask, before: int
) -> None:
    """The receipt read the recalls (none yet) at its start; the recall is ordered before the
    receipt commits. Whichever commits first, no unit of the recalled lot may end up outside
    the hold (warehouse/repository/recall_locks.py)."""
    if own_app.extensions["udi_db"].engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the two cannot interleave")
    factory = own_app.extensions["udi_db"].session_factory
    world = build_world(factory())
    if before:
        world.ok(B.RECEIVING, "P", [gauze(before, lot="RC")], at="W-P/Q", owner="X")
    receipt = world.event(B.RECEIVING, "P", [gauze(3, lot="RC")], at="W-P/Q", owner="X")
    maker = Principal(uuid.uuid4(), world["M"], frozenset({Role.ORG_MANAGER}), None)
    ordered: dict[str, Any] = {}

    def order_the_recall() -> None:
        session = factory()
        try:
            new = recalls.NewRecall(GAUZE, "sterility", RecallClass.II, lots=("RC",))
            ordered["recall"] = recalls.create(session, maker, new)
        except BaseException as error:  # reported by the assertion below
            ordered["recall"] = error
        finally:
            session.close()

    recall = threading.Thread(target=order_the_recall)

    def while_the_receipt_is_open(_result: Any) -> None:
        if not recall.is_alive() and "recall" not in ordered:
            recall.start()
            recall.join(timeout=1)  # it may not finish before the receipt commits

    session = factory()
    outcome = movements.record_as(session, [(SYSTEM, receipt)], then=while_the_receipt_is_open)
    session.close()
    recall.join(timeout=60)
    balances = world.session.execute(
        select(tables.stock.c.status, tables.stock.c.quantity).where(
            tables.stock.c.lot == "RC", tables.stock.c.quantity > 0
        )
    ).all()
    world.session.close()
    assert outcome.results[0].status == "accepted"
    assert isinstance(ordered["recall"], dict), ordered["recall"]
    assert ordered["recall"]["held_quantity"] == before + 3
    assert dict(balances) == {"recalled": before + 3}
