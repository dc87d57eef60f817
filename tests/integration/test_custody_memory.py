"""Custody facts reused while master data is unchanged (migration 0016), on both engines.

The movement service remembers the facts of a custody check under the master-data
generation, a value triggers replace on every master-data write. These tests show the
generation moves with master data and only with it, and that a decision is made afresh as
soon as the facts it rested on change.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.movements_world import World, build_world, stent
from warehouse import tables
from warehouse.domain.movements import BizStep as B
from warehouse.services import ownership, warehouses
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
