"""A recall racing scanners that pick units of the recalled lot, on separate connections.

Whatever the order, every unit of the lot ends on recall hold (a pick that won is held as
picked goods; a pick that lost is refused naming the rule), and the unit and stock projections
agree. PostgreSQL: 8 pickers; SQLite: 3 (writers queue on BEGIN IMMEDIATE).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from tests.movements_world import STENT, World, build_world, stent
from warehouse import tables
from warehouse.domain.movements import BizStep as B
from warehouse.domain.recalls import RecallClass
from warehouse.domain.roles import Principal, Role
from warehouse.services import movements, recalls
from warehouse.services.access import SYSTEM

PICKERS = {"sqlite": 3, "postgresql": 8}
UNITS = 20


def _run_all(jobs: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [RuntimeError("did not run")] * len(jobs)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = jobs[index]()
        except BaseException as error:  # reported by the caller
            results[index] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_a_recall_racing_pickers_leaves_every_unit_of_the_lot_on_hold(
    own_app: Flask,
) -> None:
    factory = own_app.extensions["udi_db"].session_factory
    engine = own_app.extensions["udi_db"].engine.dialect.name
    world: World = build_world(factory())
    serials = [f"R{n:02d}" for n in range(UNITS)]
    world.receive_stock("P", "W-P", [stent(s) for s in serials], owner="X")
    maker = Principal(uuid.uuid4(), world["M"], frozenset({Role.ORG_MANAGER}), None)
    picks = [world.event(B.PICKING, "P", [stent(s)], rp="W-P/A") for s in serials]

    def pick(index: int) -> Callable[[], Any]:
        def job() -> Any:
            session = factory()
            try:
                return movements.record(session, SYSTEM, [picks[index]]).results[0]
            finally:
                session.close()

        return job

    def order() -> Any:
        session = factory()
        try:
            new = recalls.NewRecall(STENT, "race", RecallClass.II, lots=("L1",))
            return recalls.create(session, maker, new)
        finally:
            session.close()

    jobs = [order] + [pick(n) for n in range(PICKERS[engine])]
    results = _run_all(jobs)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    recall, outcomes = results[0], results[1:]
    for outcome in outcomes:
        if outcome.status == "rejected":
            assert outcome.problem.code in ("movement.recalled", "stock.conflict"), outcome
    assert recall["held_quantity"] == UNITS
    session = factory()
    un, st = tables.units, tables.stock
    statuses = session.execute(
        select(un.c.status, func.count()).where(un.c.di == STENT).group_by(un.c.status)
    ).all()
    assert dict(statuses) == {"recalled": UNITS}
    balances = session.execute(
        select(st.c.status, func.sum(st.c.quantity)).where(st.c.di == STENT).group_by(st.c.status)
    ).all()
    assert {status: int(n) for status, n in balances if n} == {"recalled": UNITS}
    session.rollback()
    late = movements.record(session, SYSTEM, [world.event(B.PICKING, "P", [stent("R00")])])
    assert late.results[0].problem.code == "movement.recalled"
    session.close()
