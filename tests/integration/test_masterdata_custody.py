"""The custody check on facts loaded from the database, for the cases the rules must show.

The world, built through the services (licences valid 2021-01-01 to 2030-12-31)::

    P 3PL --100%--> S  (warehouse W-S)
          --100%--> H --100%--> S2 (warehouse W-S2)
          --60%---> S60 (warehouse W-S60, also registered on P's licence)
    X distributor, owner of the goods; entrusts storage to P for W-S, W-S2 and W-S60
    M manufacturer, registrant of the Class III stent
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from warehouse.demo import credit_code, gtin
from warehouse.domain.entrustment import LogisticsService
from warehouse.domain.licences import DeviceClass, LicenceKind, ScopeEntry
from warehouse.domain.organisations import OrgRole
from warehouse.domain.warehouses import WarehouseKind
from warehouse.services import (
    agreements,
    catalogue,
    custody,
    licences,
    organisations,
    ownership,
    warehouses,
)
from warehouse.services.access import SYSTEM

D = date(2025, 6, 15)
STENT = gtin("0693123410004")
START, END = date(2021, 1, 1), date(2030, 12, 31)
II, III = DeviceClass.CLASS_II, DeviceClass.CLASS_III


@dataclass
class World:
    session: Session
    ids: dict[str, uuid.UUID]

    def check(self, actor: str, warehouse: str, owner: str = "X", on: date = D):
        question = custody.CustodyQuestion(
            self.ids[actor], self.ids[warehouse], STENT, self.ids[owner], on
        )
        return custody.check(self.session, SYSTEM, question).decision


def _org(session: Session, name: str, body: str, *roles: OrgRole) -> uuid.UUID:
    new = organisations.NewOrganisation(name, credit_code(body), "350206", roles)
    return uuid.UUID(organisations.create(session, SYSTEM, new).id)


def _warehouse(session: Session, operator: uuid.UUID, name: str) -> uuid.UUID:
    new = warehouses.NewWarehouse(
        operator,
        name,
        "厦门市湖里区",
        "350206",
        WarehouseKind.THIRD_PARTY_LOGISTICS,
        effective_from=date(2020, 1, 1),
    )
    return uuid.UUID(warehouses.create(session, SYSTEM, new).id)


def _licence(
    session: Session, holder: uuid.UUID, classes: tuple[DeviceClass, ...], *where: uuid.UUID
) -> str:
    new = licences.NewLicence(
        holder,
        LicenceKind.THIRD_PARTY_LOGISTICS,
        f"闽厦食药监械经营许{holder.hex[-8:]}号",
        START,
        END,
        tuple(ScopeEntry(c) for c in classes),
        where,
    )
    return licences.create(session, SYSTEM, new).licence_id


def _link(session: Session, parent: uuid.UUID, child: uuid.UUID, share: int) -> str:
    new = ownership.NewLink(parent, child, Decimal(share), date(2020, 1, 1))
    return ownership.create(session, SYSTEM, new).link_id


@pytest.fixture
def world(db_session: Session) -> World:
    s = db_session
    tpl = OrgRole.THIRD_PARTY_LOGISTICS
    ids = {
        "P": _org(s, "鹭通物流", "91350206MA2Y4TL0Q", tpl),
        "S": _org(s, "鹭通福州", "91350102MA31FX0L5", tpl),
        "H": _org(s, "鹭通控股", "91350206MA31HQ2K8"),
        "S2": _org(s, "鹭通泉州", "91350503MA32QY7T3", tpl),
        "S60": _org(s, "鹭通漳州", "91350602MA31WW6N4", tpl),
        "X": _org(s, "闽海器械", "91350203MA2XMH8B2", OrgRole.DISTRIBUTOR),
        "M": _org(s, "鹭康医疗", "91350205MA2XLK8C1", OrgRole.MANUFACTURER),
    }
    for operator in ("S", "S2", "S60"):
        ids[f"W-{operator}"] = _warehouse(s, ids[operator], f"{operator} 仓")
    ids["L-P"] = uuid.UUID(_licence(s, ids["P"], (II, III), ids["W-S60"]))
    for operator in ("S", "S2", "S60"):
        _licence(s, ids[operator], (II, III), ids[f"W-{operator}"])
    ids["P-S"] = uuid.UUID(_link(s, ids["P"], ids["S"], 100))
    _link(s, ids["P"], ids["H"], 100)
    _link(s, ids["H"], ids["S2"], 100)
    _link(s, ids["P"], ids["S60"], 60)
    agreement = agreements.NewAgreement(
        ids["X"],
        ids["P"],
        START,
        END,
        (II, III),
        (LogisticsService.STORAGE,),
        (ids["W-S"], ids["W-S2"], ids["W-S60"]),
    )
    ids["A"] = uuid.UUID(agreements.create(s, SYSTEM, agreement).id)
    device = catalogue.NewDevice(
        STENT,
        "冠状动脉药物洗脱支架系统",
        "3.0x18mm",
        III,
        ids["M"],
        (catalogue.NewCertificate("国械注准20213130456", START, END),),
        category="13",
    )
    catalogue.create(s, SYSTEM, device)
    return World(s, ids)


def test_an_indirect_wholly_owned_chain_allows_r2_and_is_returned(world: World) -> None:
    decision = world.check("P", "W-S2")
    assert (decision.allowed, decision.rule) == (True, "R2")
    assert [(link.parent_id, link.child_id) for link in decision.chain or ()] == [
        (str(world.ids["P"]), str(world.ids["H"])),
        (str(world.ids["H"]), str(world.ids["S2"])),
    ]


def test_ownership_ended_yesterday_refuses_what_it_allowed_the_day_before(
    world: World,
) -> None:
    ended = {"valid_to": D - timedelta(days=1)}
    ownership.supersede(world.session, SYSTEM, world.ids["P-S"], ended)
    assert world.check("P", "W-S", on=D - timedelta(days=1)).rule == "R2"
    today = world.check("P", "W-S", on=D)
    assert not today.allowed
    r2 = today.attempt("R2")
    assert r2 is not None
    assert {reason.code for reason in r2.reasons} == {"custody.not_wholly_owned"}


def test_a_licence_scope_without_class_iii_refuses(world: World) -> None:
    narrowed = {"scope": (ScopeEntry(II),)}
    licences.supersede(world.session, SYSTEM, world.ids["L-P"], date(2025, 1, 1), narrowed)
    decision = world.check("P", "W-S2")
    assert not decision.allowed
    assert [reason.code for reason in decision.general] == ["custody.receiver_licence_scope"]
    assert world.check("P", "W-S2", on=date(2024, 12, 31)).allowed  # the old version


def test_a_60_percent_subsidiary_is_refused_by_r2_but_allowed_by_r4(world: World) -> None:
    decision = world.check("P", "W-S60")
    r2 = decision.attempt("R2")
    assert r2 is not None
    assert not r2.allowed
    assert "custody.not_wholly_owned" in {reason.code for reason in r2.reasons}
    assert (decision.allowed, decision.rule) == (True, "R4")


def test_without_the_agreement_the_60_percent_subsidiary_is_refused(world: World) -> None:
    decision = world.check("P", "W-S60", owner="M")
    assert not decision.allowed
    r4 = decision.attempt("R4")
    assert r4 is not None
    assert "custody.no_agreement" in {reason.code for reason in r4.reasons}


def test_the_facts_hold_only_the_records_the_request_can_reach(world: World) -> None:
    request = custody.CustodyRequest(
        str(world.ids["P"]), str(world.ids["W-S2"]), STENT, str(world.ids["X"]), D
    )
    facts = custody.load_facts(world.session, request)
    names = {org.name for org in facts.organisations.values()}
    assert names == {"鹭通物流", "鹭通控股", "鹭通泉州", "闽海器械", "鹭康医疗"}
    assert {v.holder_id for v in facts.licences.versions} == {
        str(world.ids["P"]),
        str(world.ids["S2"]),
    }


def test_an_agreement_ended_early_by_a_new_version_allows_before_the_end_only(
    world: World,
) -> None:
    ended = {"valid_to": date(2025, 7, 31)}
    agreements.supersede(world.session, SYSTEM, world.ids["A"], date(2025, 7, 1), ended)
    assert world.check("P", "W-S60", on=date(2025, 6, 30)).rule == "R4"  # first version
    before = world.check("P", "W-S60", on=date(2025, 7, 31))  # second, last day
    assert (before.allowed, before.rule) == (True, "R4")
    after = world.check("P", "W-S60", on=date(2025, 8, 1))
    assert not after.allowed
    r4 = after.attempt("R4")
    assert r4 is not None
    assert [reason.code for reason in r4.reasons] == ["custody.agreement_expired"]


def test_the_custody_check_reads_the_agreement_version_in_effect_on_its_date(
    world: World,
) -> None:
    # From 2025-07-01 the agreement no longer lists W-S60; before, it did.
    narrowed = {"warehouse_ids": (world.ids["W-S"], world.ids["W-S2"])}
    agreements.supersede(world.session, SYSTEM, world.ids["A"], date(2025, 7, 1), narrowed)
    assert world.check("P", "W-S60", on=date(2025, 6, 30)).rule == "R4"
    after = world.check("P", "W-S60", on=date(2025, 7, 1))
    assert not after.allowed
    r4 = after.attempt("R4")
    assert r4 is not None
    assert [reason.code for reason in r4.reasons] == ["custody.agreement_scope"]


def test_the_custody_check_reads_the_warehouse_kind_in_effect_on_its_date(
    world: World,
) -> None:
    request = custody.CustodyRequest(
        str(world.ids["P"]), str(world.ids["W-S"]), STENT, str(world.ids["X"]), D
    )
    changed = {"kind": WarehouseKind.OFF_SITE}
    warehouses.supersede(world.session, SYSTEM, world.ids["W-S"], D + timedelta(days=1), changed)
    kind = custody.load_facts(world.session, request).warehouses[str(world.ids["W-S"])].kind
    assert kind is WarehouseKind.THIRD_PARTY_LOGISTICS
    later = dataclasses.replace(request, on=D + timedelta(days=1))
    kind = custody.load_facts(world.session, later).warehouses[str(world.ids["W-S"])].kind
    assert kind is WarehouseKind.OFF_SITE
