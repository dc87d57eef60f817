"""Custody facts and master-data rows reused while master data is unchanged (migration 0016),
on both engines.

The movement service remembers the facts of a custody check, and the locations,
organisations and catalogue devices a batch names, under the master-data generation, a value
triggers replace on every master-data write. These tests show the generation moves with
master data and only with it, and that a decision is made afresh as soon as the facts or
rows it rested on change.
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

from tests.movements_world import END, START, World, build_world, stent
from warehouse import tables
from warehouse.demo import gtin
from warehouse.domain.catalogue import ProductionIdentifiers
from warehouse.domain.licences import DeviceClass
from warehouse.domain.movements import BizStep as B
from warehouse.services import catalogue, movements, ownership, warehouses
from warehouse.services.access import SYSTEM
from warehouse.services.custody import master_data_generation
from warehouse.services.movements import NewItem


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


def test_a_di_refused_as_unknown_is_accepted_once_the_catalogue_registers_it(
    world: World,
) -> None:
    """The batch remembers that the DI named no device; registering it changes the
    generation, so the next batch looks it up again."""
    balloon = gtin("0693123450006")
    item = NewItem(di=balloon, serial="U1", lot="L1", expiry=END)
    refusal = world.refused(B.RECEIVING, "P", [item], at="W-P/Q", owner="X")
    assert refusal.code == "movement.unknown_device"
    certificate = (catalogue.NewCertificate("国械注准20213130457", START, END),)
    full = ProductionIdentifiers(lot=True, serial=True, expiry_date=True)
    new = catalogue.NewDevice(
        balloon,
        "球囊扩张导管",
        "标准型",
        DeviceClass.CLASS_III,
        world["M"],
        certificate,
        category="13",
        implantable=False,
        label_pi=full,
    )
    catalogue.create(world.session, SYSTEM, new)
    item = NewItem(di=balloon, serial="U2", lot="L1", expiry=END)
    assert world.ok(B.RECEIVING, "P", [item], at="W-P/Q", owner="X").status == "accepted"


def test_a_renamed_organisation_is_named_afresh_in_the_next_refusal(world: World) -> None:
    """Organisations a batch read are remembered; a rename is a master-data write."""
    world.ok(B.RECEIVING, "P", [stent("N1")], at="W-S/Q", owner="X")
    ownership.supersede(world.session, SYSTEM, _link_to(world, "S"), {"share": Decimal(60)})
    before = world.refused(B.RECEIVING, "P", [stent("N2")], at="W-S/Q", owner="X")
    orgs = tables.organisations
    rename = orgs.update().where(orgs.c.id == world["P"]).values(name="改名后的物流公司")
    world.session.execute(rename)
    world.session.commit()
    after = world.refused(B.RECEIVING, "P", [stent("N3")], at="W-S/Q", owner="X")
    assert "改名后的物流公司" not in before.detail
    assert "改名后的物流公司" in after.detail
