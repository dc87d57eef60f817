"""Custody facts reused while master data is unchanged (migration 0016), on both engines.

The movement service remembers the facts of a custody check under the master-data
generation, a value triggers replace on every master-data write. These tests show the
generation moves with master data and only with it, and that a decision is made afresh as
soon as the facts it rested on change.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.movements_world import World, build_world, stent
from warehouse import tables
from warehouse.domain.movements import BizStep as B
from warehouse.services import movements, ownership, warehouses
from warehouse.services.access import SYSTEM
from warehouse.services.custody import master_data_generation


@pytest.fixture
def world(db_session) -> World:  # type: ignore[no-untyped-def]
    return build_world(db_session)


def _generation(world: World) -> str:
    value = master_data_generation(world.session)
    world.session.rollback()
    return value


def _link_to(world: World, child: str) -> object:
    links = tables.ownership_links
    found = world.session.execute(
        select(links.c.link_id).where(links.c.child_id == world[child])
    ).scalar_one()
    world.session.rollback()
    return found


def test_the_generation_changes_with_master_data_and_not_with_movements(world: World) -> None:
    before = _generation(world)
    world.ok(B.RECEIVING, "P", [stent("G1")], at="W-P/Q", owner="X")
    assert _generation(world) == before  # events, units, stock: not master data
    warehouses.add_location(world.session, SYSTEM, world["W-P"], warehouses.NewLocation("NEW"))
    after_location = _generation(world)
    assert after_location != before
    ownership.supersede(world.session, SYSTEM, _link_to(world, "S"), {"valid_to": date(2030, 1, 1)})
    assert _generation(world) not in (before, after_location)


def test_a_decision_is_made_afresh_once_the_ownership_it_rested_on_changes(
    world: World,
) -> None:
    world.ok(B.RECEIVING, "P", [stent("M1")], at="W-S/Q", owner="X")  # 100 %: allowed (R2)
    world.ok(B.RECEIVING, "P", [stent("M2")], at="W-S/Q", owner="X")  # the same facts again
    ownership.supersede(world.session, SYSTEM, _link_to(world, "S"), {"share": Decimal(60)})
    refusal = world.refused(B.RECEIVING, "P", [stent("M3")], at="W-S/Q", owner="X")
    assert refusal.code == "custody.refused"
    assert "custody.not_wholly_owned" in {e.code for e in refusal.errors}


def test_the_generation_changes_when_a_real_transaction_commits(own_app: Flask) -> None:
    """Outside the test transaction: the PostgreSQL trigger fires at commit (deferred)."""
    world = build_world(own_app.extensions["udi_db"].session_factory())
    before = _generation(world)
    warehouses.add_location(world.session, SYSTEM, world["W-P"], warehouses.NewLocation("NEW"))
    after = _generation(world)
    world.session.close()
    assert after != before


def test_master_data_writers_in_opposite_orders_do_not_deadlock_on_the_generation(
    own_app: Flask,
) -> None:
    """T1 changes organisation M, then S; T2 changes only S meanwhile. T2 waits for nothing but
    S, and T1 for S until T2 commits: the generation row is locked only at each commit."""
    engine = own_app.extensions["udi_db"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    world = build_world(own_app.extensions["udi_db"].session_factory())
    first, second = world["M"], world["S"]
    world.session.close()
    outcome: dict[str, str] = {}
    orgs = tables.organisations

    def rename(name: str, ids: list[object], pause: float, delay: float) -> None:
        try:
            time.sleep(delay)
            with engine.begin() as connection:
                for index, org_id in enumerate(ids):
                    if index:
                        time.sleep(pause)
                    statement = orgs.update().where(orgs.c.id == org_id).values(name=name)
                    connection.execute(statement)
            outcome[name] = "committed"
        except Exception as error:  # reported by the assertion below
            outcome[name] = repr(error)[:200]

    t1 = threading.Thread(target=rename, args=("T1", [first, second], 0.5, 0.0))
    t2 = threading.Thread(target=rename, args=("T2", [second], 0.0, 0.2))
    for thread in (t1, t2):
        thread.start()
    for thread in (t1, t2):
        thread.join(30)
    assert outcome == {"T1": "committed", "T2": "committed"}


def test_a_change_committed_while_a_batch_runs_is_never_remembered_as_new(
    own_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction expires the stent's certificate just as a batch reads the
    generation. Whatever the batch decides, the facts it remembers must not outlive the
    change: the next batch is refused. (Read after the catalogue, the generation would be the
    new one while the facts were built from the old rows, and be reused until the next
    master-data write.)"""
    if own_app.extensions["udi_db"].engine.dialect.name != "postgresql":
        pytest.skip("SQLite: the batch holds the only write lock, so no change commits meanwhile")
    factory = own_app.extensions["udi_db"].session_factory
    world = build_world(factory())
    real = movements.master_data_generation
    changed: list[bool] = []

    def racing(session: Session) -> str:
        if not changed:
            changed.append(True)
            with own_app.extensions["udi_db"].engine.begin() as other:
                certificates = tables.device_certificates
                other.execute(certificates.update().values(valid_to=date(2022, 1, 1)))
        return real(session)

    monkeypatch.setattr(movements, "master_data_generation", racing)
    world.record(world.event(B.RECEIVING, "P", [stent("R1")], at="W-P/Q", owner="X"))
    monkeypatch.setattr(movements, "master_data_generation", real)
    refusal = world.refused(B.RECEIVING, "P", [stent("R2")], at="W-P/Q", owner="X")
    world.session.close()
    assert changed
    assert refusal.code == "custody.refused"
