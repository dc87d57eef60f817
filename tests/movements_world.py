"""A supply chain for movement tests, built through the master-data services.

::

    M  manufacturer (production licence, warehouse W-M)
    P  3PL parent (3PL licence registering W-P)   --100%--> S  (W-S)
                                                  --60%---> S60 (W-S60)
    X  distributor (Class III licence, W-X); entrusts storage to P for W-P and W-S only
    H  hospital (W-H: central store, quarantine, returns, 心内科 department)
    R  Xiamen regulator

Devices: a Class III implantable stent labelled with lot, serial and expiry; Class II gauze
labelled with lot and expiry (lot-level quantities). Licences run 2021-01-01 to 2030-12-31;
events happen from 2026-06-15 09:00 +08:00, one minute apart.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict as dataclasses_asdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.demo import credit_code, gtin
from warehouse.domain.catalogue import ProductionIdentifiers
from warehouse.domain.entrustment import LogisticsService
from warehouse.domain.licences import DeviceClass, LicenceKind, ScopeEntry
from warehouse.domain.movements import BizStep, Disposition
from warehouse.domain.organisations import OrgRole
from warehouse.domain.roles import Role
from warehouse.domain.warehouses import LocationPurpose, WarehouseKind
from warehouse.services import (
    agreements,
    catalogue,
    licences,
    movements,
    organisations,
    ownership,
    warehouses,
)
from warehouse.services.access import SYSTEM
from warehouse.services.movements import BatchResult, EventResult, NewEvent, NewItem
from warehouse.tokens import create_token

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 6, 15, 9, 0, tzinfo=CST)
D = T0.date()
STENT = gtin("0693123410004")
GAUZE = gtin("0693123420001")
SCALPEL = gtin("0693123430008")
FAR = date(2029, 12, 31)
START, END = date(2021, 1, 1), date(2030, 12, 31)
II, III = DeviceClass.CLASS_II, DeviceClass.CLASS_III

_LOCATIONS = (
    ("Q", LocationPurpose.QUARANTINE, None),
    ("A", LocationPurpose.NORMAL, None),
    ("B", LocationPurpose.NORMAL, None),
    ("R", LocationPurpose.RETURNS, None),
    ("X", LocationPurpose.RECALLED, None),
)


def stent(serial: str, lot: str = "L1", expiry: date = FAR) -> NewItem:
    return NewItem(di=STENT, serial=serial, lot=lot, expiry=expiry)


def gauze(quantity: int, lot: str = "G1", expiry: date = FAR) -> NewItem:
    return NewItem(di=GAUZE, lot=lot, quantity=quantity, expiry=expiry)


@dataclass
class World:
    session: Session
    ids: dict[str, uuid.UUID]
    minutes: int = 0
    results: list[BatchResult] = field(default_factory=list)

    def __getitem__(self, key: str) -> uuid.UUID:
        return self.ids[key]

    def tick(self) -> datetime:
        self.minutes += 1
        return T0 + timedelta(minutes=self.minutes)

    def event(
        self, step: BizStep, actor: str, items: tuple[NewItem, ...] | list[NewItem], **kw: Any
    ) -> NewEvent:
        """An event of ``actor``; ``at``/``rp``/``owner``… take world keys."""
        keyed = {
            "at": "location_id",
            "rp": "read_point_id",
            "owner": "owner_id",
            "possessor": "possessor_id",
            "to": "destination_party_id",
            "to_wh": "destination_warehouse_id",
            "source": "source_party_id",
        }
        values: dict[str, Any] = {}
        for short, name in keyed.items():
            if short in kw:
                values[name] = self.ids[kw.pop(short)]
        if isinstance(kw.get("disposition"), str):
            kw["disposition"] = Disposition(kw["disposition"])
        return NewEvent(
            event_id=kw.pop("event_id", None) or uuid.uuid4(),
            biz_step=step,
            event_time=kw.pop("event_time", None) or self.tick(),
            items=tuple(items),
            acting_org_id=self.ids[actor],
            **values,
            **kw,
        )

    def record(self, *events: NewEvent) -> BatchResult:
        result = movements.record(self.session, SYSTEM, list(events))
        self.results.append(result)
        return result

    def ok(self, step: BizStep, actor: str, items: Any, **kw: Any) -> EventResult:
        """Record one event and insist it is accepted."""
        outcome = self.record(self.event(step, actor, items, **kw)).results[0]
        problem = outcome.problem
        assert outcome.status == "accepted", (problem.code, problem.detail, problem.errors)
        return outcome

    def refused(self, step: BizStep, actor: str, items: Any, **kw: Any) -> movements.EventRefused:
        """Record one event and insist it is rejected; return the refusal."""
        outcome = self.record(self.event(step, actor, items, **kw)).results[0]
        assert outcome.status == "rejected", outcome
        assert outcome.problem is not None
        return outcome.problem

    def stock(self, **where: str) -> dict[tuple[str, str, str, str], int]:
        """Non-zero balances as {(location key, DI, lot, status): quantity}."""
        names = {v: k for k, v in self.ids.items()}
        st = tables.stock
        query = select(st).where(st.c.quantity > 0)
        for column, key in where.items():
            query = query.where(st.c[column] == self.ids[key])
        found = {
            (names[r["location_id"]], r["di"], r["lot"], r["status"]): r["quantity"]
            for r in self.session.execute(query).mappings()
        }
        self.session.rollback()
        return found

    def unit(self, serial: str, di: str = STENT) -> dict[str, Any]:
        un = tables.units
        query = select(un).where(un.c.di == di, un.c.serial == serial)
        row = self.session.execute(query).mappings().one()
        self.session.rollback()
        names = {v: k for k, v in self.ids.items()}
        return {k: names.get(v, v) if isinstance(v, uuid.UUID) else v for k, v in row.items()}

    def receive_stock(self, actor: str, warehouse: str, items: list[NewItem], owner: str) -> None:
        """Receive, accept and put away into ``<warehouse>/A``."""
        self.ok(BizStep.RECEIVING, actor, items, at=f"{warehouse}/Q", owner=owner)
        self.ok(BizStep.INSPECTING, actor, items, at=f"{warehouse}/Q")
        self.ok(BizStep.STORING, actor, items, at=f"{warehouse}/A", rp=f"{warehouse}/Q")


def _org(session: Session, name: str, body: str, *roles: OrgRole) -> uuid.UUID:
    new = organisations.NewOrganisation(name, credit_code(body), "350206", roles)
    return uuid.UUID(organisations.create(session, SYSTEM, new).id)


def _warehouse(
    session: Session, ids: dict[str, uuid.UUID], key: str, operator: str, *, hospital: bool = False
) -> None:
    kind = (
        WarehouseKind.REGISTERED
        if operator in ("M", "X", "H")
        else WarehouseKind.THIRD_PARTY_LOGISTICS
    )
    new = warehouses.NewWarehouse(ids[operator], f"{key} 仓", "厦门市湖里区", "350206", kind)
    ids[key] = uuid.UUID(warehouses.create(session, SYSTEM, new).id)
    places = list(_LOCATIONS)
    if hospital:
        places.append(("DEPT", LocationPurpose.DEPARTMENT, "心内科"))
    for zone, purpose, department in places:
        location = warehouses.add_location(
            session,
            SYSTEM,
            ids[key],
            warehouses.NewLocation(zone, purpose=purpose, department=department),
        )
        ids[f"{key}/{zone}"] = uuid.UUID(location.id)


def _licence(session: Session, holder: uuid.UUID, kind: LicenceKind, *where: uuid.UUID) -> None:
    new = licences.NewLicence(
        holder,
        kind,
        f"闽厦食药监械许{holder.hex[-8:]}号",
        START,
        END,
        (ScopeEntry(II), ScopeEntry(III)),
        where,
    )
    licences.create(session, SYSTEM, new)


def build_world(session: Session) -> World:
    s = session
    tpl = OrgRole.THIRD_PARTY_LOGISTICS
    ids = {
        "M": _org(s, "鹭康医疗", "91350205MA2XLK8C1", OrgRole.MANUFACTURER, OrgRole.REGISTRANT),
        "P": _org(s, "鹭通物流", "91350206MA2Y4TL0Q", tpl),
        "S": _org(s, "鹭通福州", "91350102MA31FX0L5", tpl),
        "S60": _org(s, "鹭通漳州", "91350602MA31WW6N4", tpl),
        "X": _org(s, "闽海器械", "91350203MA2XMH8B2", OrgRole.DISTRIBUTOR),
        "H": _org(s, "鹭岛第一医院", "12350200426600356", OrgRole.MEDICAL_INSTITUTION),
    }
    for key, operator in (("W-M", "M"), ("W-P", "P"), ("W-S", "S"), ("W-S60", "S60"), ("W-X", "X")):
        _warehouse(s, ids, key, operator)
    _warehouse(s, ids, "W-H", "H", hospital=True)
    _licence(s, ids["M"], LicenceKind.PRODUCTION_LICENCE, ids["W-M"])
    _licence(s, ids["P"], LicenceKind.THIRD_PARTY_LOGISTICS, ids["W-P"], ids["W-S60"])
    _licence(s, ids["S"], LicenceKind.THIRD_PARTY_LOGISTICS, ids["W-S"])
    _licence(s, ids["S60"], LicenceKind.THIRD_PARTY_LOGISTICS, ids["W-S60"])
    _licence(s, ids["X"], LicenceKind.CLASS_III_OPERATION_LICENCE, ids["W-X"])
    for child, share in (("S", 100), ("S60", 60)):
        link = ownership.NewLink(ids["P"], ids[child], Decimal(share), date(2020, 1, 1))
        ownership.create(s, SYSTEM, link)
    agreement = agreements.NewAgreement(
        ids["X"],
        ids["P"],
        START,
        END,
        (II, III),
        (LogisticsService.STORAGE,),
        (ids["W-P"], ids["W-S"]),
    )
    agreements.create(s, SYSTEM, agreement)
    certificate = (catalogue.NewCertificate("国械注准20213130456", START, END),)
    full = ProductionIdentifiers(lot=True, serial=True, expiry_date=True)
    for di, name, device_class, implantable, pi in (
        (STENT, "冠状动脉药物洗脱支架系统", III, True, full),
        (SCALPEL, "一次性使用手术刀", III, False, full),
        (GAUZE, "医用纱布", II, False, ProductionIdentifiers(lot=True, expiry_date=True)),
    ):
        device = catalogue.NewDevice(
            di,
            name,
            "标准型",
            device_class,
            ids["M"],
            certificate,
            category="13",
            implantable=implantable,
            label_pi=pi,
        )
        catalogue.create(s, SYSTEM, device)
    return World(s, ids)


def token(world: World, org: str, *roles: Role, jurisdiction: str | None = None) -> dict[str, str]:
    """Request headers of a token of the world organisation ``org``."""
    issued = create_token(
        world.session,
        organisation_id=world.ids[org],
        roles=roles or (Role.WAREHOUSE_OPERATOR,),
        name=f"{org} test",
        jurisdiction=jurisdiction,
    )
    return {"Authorization": f"Bearer {issued.secret}"}


def item_json(item: NewItem) -> dict[str, Any]:
    """An item as the API takes it."""
    body = {k: v for k, v in dataclasses_asdict(item).items() if v is not None}
    for key in ("expiry", "production_date"):
        if key in body:
            body[key] = body[key].isoformat()
    return body


def event_json(world: World, step: BizStep, items: list[NewItem], **kw: Any) -> dict[str, Any]:
    """An event as the API takes it; ``at``/``rp``/``owner``/``to`` take world keys."""
    body: dict[str, Any] = {
        "event_id": str(kw.pop("event_id", uuid.uuid4())),
        "biz_step": step.value,
        "event_time": kw.pop("event_time", world.tick()).isoformat(),
        "items": [item_json(i) for i in items],
    }
    keyed = {
        "at": "location_id",
        "rp": "read_point_id",
        "owner": "owner_id",
        "to": "destination_party_id",
        "to_wh": "destination_warehouse_id",
    }
    for short, name in keyed.items():
        if short in kw:
            body[name] = str(world.ids[kw.pop(short)])
    body.update({k: str(v) if isinstance(v, uuid.UUID) else v for k, v in kw.items()})
    return body
