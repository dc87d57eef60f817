"""Demo data: a Xiamen 3PL group, a manufacturer, a distributor, hospitals and a regulator.

Loading twice changes nothing already there (every record is looked up by its business key
first); every run prints fresh tokens, because secrets cannot be shown again.

The world (all fictional)::

    鹭通医药物流（厦门） 3PL  --100%--> 鹭通医药物流（福州） 3PL, Fuzhou
                              --100%--> 鹭通供应链管理（厦门） --100%--> 鹭通医药物流（泉州）
                              --60%---> 鹭通医药物流（漳州） 3PL, Zhangzhou
    厦门鹭康医疗器械     manufacturer  --70%---> 厦门鹭康生物科技 (registrant), 异地库 in Chengdu
    福建闽海医疗器械     distributor, entrusts storage/transport to 鹭通 (agreement)
    two Xiamen hospitals with department stores, and the Xiamen market regulator
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from udi.checksums import gs1_mod10
from warehouse import demo_events, tables, tokens
from warehouse.domain.catalogue import ProductionIdentifiers
from warehouse.domain.codes import credit_code_check_character
from warehouse.domain.entrustment import LogisticsService
from warehouse.domain.licences import DeviceClass, LicenceKind, ScopeEntry
from warehouse.domain.organisations import OrgRole
from warehouse.domain.roles import Role
from warehouse.domain.warehouses import LocationPurpose, StorageConditions, WarehouseKind
from warehouse.ids import new_id
from warehouse.repository import versions
from warehouse.services import agreements, licences, ownership, today, warehouses
from warehouse.services.access import SYSTEM
from warehouse.services.catalogue import (
    UNRESOLVED,
    ImportRecord,
    NewCertificate,
    NewDevice,
    NewPackage,
    RegistrantRef,
    import_records,
)

PLATFORM = ("UDI 追溯平台运营方 (demo platform operator)", "91350200MA33NK2H7A", "350203")

CLASS_I, II, III = DeviceClass.CLASS_I, DeviceClass.CLASS_II, DeviceClass.CLASS_III
TPL, MAKER, REG = OrgRole.THIRD_PARTY_LOGISTICS, OrgRole.MANUFACTURER, OrgRole.REGISTRANT
SINCE = date(2020, 1, 1)


def ensure_organisation(
    session: Session, name: str, credit_code: str, jurisdiction: str, roles: list[str]
) -> uuid.UUID:
    """Return the id of the organisation with ``credit_code``, creating it if needed.

    Inserts without committing: the caller owns the transaction (tests and CLI commands).
    """
    org = tables.organisations
    existing = session.execute(
        select(org.c.id).where(org.c.credit_code == credit_code.upper())
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    org_id = new_id()
    values = {
        "name": name,
        "credit_code": credit_code.upper(),
        "roles": sorted(roles),
        "jurisdiction": jurisdiction,
    }
    session.execute(org.insert().values(id=org_id, created_at=datetime.now(UTC), **values))
    versions.append(
        session, "organisation", org_id, values, effective_from=today(), recorded_by=None
    )
    return org_id


def credit_code(body: str) -> str:
    """A valid credit code from its first 17 characters (GB 32100 check character added)."""
    return body + credit_code_check_character(body)


def gtin(body13: str) -> str:
    """A GTIN-14 from its first 13 digits (GS1 check digit added)."""
    return body13 + str(gs1_mod10(body13))


@dataclass(frozen=True)
class DemoOrg:
    key: str
    name: str
    body: str
    jurisdiction: str
    roles: tuple[OrgRole, ...]

    @property
    def credit_code(self) -> str:
        return credit_code(self.body)


ORGS = (
    DemoOrg("tpl", "鹭通医药物流（厦门）有限公司", "91350206MA2Y4TL0Q", "350206", (TPL,)),
    DemoOrg("tpl_fz", "鹭通医药物流（福州）有限公司", "91350102MA31FX0L5", "350102", (TPL,)),
    DemoOrg("tpl_hold", "鹭通供应链管理（厦门）有限公司", "91350206MA31HQ2K8", "350206", ()),
    DemoOrg("tpl_qz", "鹭通医药物流（泉州）有限公司", "91350503MA32QY7T3", "350503", (TPL,)),
    DemoOrg("tpl_zz", "鹭通医药物流（漳州）有限公司", "91350602MA31WW6N4", "350602", (TPL,)),
    DemoOrg("maker", "厦门鹭康医疗器械有限公司", "91350205MA2XLK8C1", "350205", (MAKER, REG)),
    DemoOrg("maker_bio", "厦门鹭康生物科技有限公司", "91350205MA31HK6P2", "350205", (REG,)),
    DemoOrg(
        "distributor",
        "福建闽海医疗器械有限公司",
        "91350203MA2XMH8B2",
        "350203",
        (OrgRole.DISTRIBUTOR,),
    ),
    DemoOrg(
        "hospital",
        "厦门市鹭岛第一医院",
        "12350200426600356",
        "350203",
        (OrgRole.MEDICAL_INSTITUTION,),
    ),
    DemoOrg(
        "hospital2",
        "厦门市海沧中医院",
        "12350205MB0187263",
        "350205",
        (OrgRole.MEDICAL_INSTITUTION,),
    ),
    DemoOrg(
        "regulator",
        "厦门市市场监督管理局",
        "11350200MB0190542",
        "350200",
        (OrgRole.REGULATOR,),
    ),
    DemoOrg("maker_bj", "北京康联医疗科技有限公司", "91110108MA01XYW4R", "110108", (REG,)),
)


@dataclass(frozen=True)
class DemoWarehouse:
    key: str
    operator: str
    name: str
    address: str
    jurisdiction: str
    kind: WarehouseKind
    locations: tuple[tuple[str, str | None, LocationPurpose, str | None], ...] = ()


_STANDARD_AREAS = (
    ("A", "01", LocationPurpose.NORMAL, None),
    ("A", "02", LocationPurpose.NORMAL, None),
    ("Q", None, LocationPurpose.QUARANTINE, None),
    ("R", None, LocationPurpose.RETURNS, None),
    ("X", None, LocationPurpose.RECALLED, None),
    ("D", None, LocationPurpose.DAMAGED, None),
)
K3PL, REGISTERED = WarehouseKind.THIRD_PARTY_LOGISTICS, WarehouseKind.REGISTERED

WAREHOUSES = (
    DemoWarehouse(
        "wh_tpl",
        "tpl",
        "鹭通厦门中心仓",
        "厦门市湖里区象屿路 88 号",
        "350206",
        K3PL,
        _STANDARD_AREAS,
    ),
    DemoWarehouse(
        "wh_fz",
        "tpl_fz",
        "鹭通福州仓",
        "福州市鼓楼区湖东路 120 号",
        "350102",
        K3PL,
        _STANDARD_AREAS[:3],
    ),
    DemoWarehouse(
        "wh_qz",
        "tpl_qz",
        "鹭通泉州仓",
        "泉州市丰泽区东海大街 66 号",
        "350503",
        K3PL,
        _STANDARD_AREAS[:3],
    ),
    DemoWarehouse(
        "wh_zz",
        "tpl_zz",
        "鹭通漳州仓",
        "漳州市芗城区南昌路 9 号",
        "350602",
        K3PL,
        _STANDARD_AREAS[:3],
    ),
    DemoWarehouse(
        "wh_maker",
        "maker",
        "鹭康海沧成品库",
        "厦门市海沧区新阳路 168 号",
        "350205",
        REGISTERED,
        _STANDARD_AREAS[:3],
    ),
    DemoWarehouse(
        "wh_maker_cd",
        "maker",
        "鹭康成都异地库",
        "成都市双流区西航港大道 18 号",
        "510116",
        WarehouseKind.OFF_SITE,
        _STANDARD_AREAS[:3],
    ),
    DemoWarehouse(
        "wh_dist",
        "distributor",
        "闽海思明库",
        "厦门市思明区湖滨南路 57 号",
        "350203",
        REGISTERED,
        _STANDARD_AREAS[:3],
    ),
    DemoWarehouse(
        "wh_hospital",
        "hospital",
        "鹭岛第一医院医学装备库",
        "厦门市思明区镇海路 55 号",
        "350203",
        REGISTERED,
        (
            ("A", "01", LocationPurpose.NORMAL, None),
            ("Q", None, LocationPurpose.QUARANTINE, None),
            ("K", "XNK", LocationPurpose.DEPARTMENT, "心内科"),
            ("K", "GK", LocationPurpose.DEPARTMENT, "骨科"),
            ("K", "SSS", LocationPurpose.DEPARTMENT, "手术室"),
        ),
    ),
    DemoWarehouse(
        "wh_hospital2",
        "hospital2",
        "海沧中医院耗材库",
        "厦门市海沧区海虹路 4 号",
        "350205",
        REGISTERED,
        (
            ("A", "01", LocationPurpose.NORMAL, None),
            ("K", "NFM", LocationPurpose.DEPARTMENT, "内分泌科"),
            ("K", "XHN", LocationPurpose.DEPARTMENT, "消化内科"),
        ),
    ),
)

_TPL_SCOPE = (ScopeEntry(II), ScopeEntry(III))
LICENCES = (
    # (holder, kind, number, scope, warehouses, valid_from, valid_to)
    (
        "tpl",
        LicenceKind.THIRD_PARTY_LOGISTICS,
        "闽厦食药监械经营许20200012号",
        _TPL_SCOPE,
        ("wh_tpl", "wh_zz"),
        date(2020, 6, 1),
        date(2030, 5, 31),
    ),
    (
        "tpl_fz",
        LicenceKind.THIRD_PARTY_LOGISTICS,
        "闽榕食药监械经营许20210031号",
        _TPL_SCOPE,
        ("wh_fz",),
        date(2021, 3, 1),
        date(2031, 2, 28),
    ),
    (
        "tpl_qz",
        LicenceKind.THIRD_PARTY_LOGISTICS,
        "闽泉食药监械经营许20210007号",
        _TPL_SCOPE,
        ("wh_qz",),
        date(2021, 4, 1),
        date(2031, 3, 31),
    ),
    (
        "tpl_zz",
        LicenceKind.THIRD_PARTY_LOGISTICS,
        "闽漳食药监械经营许20220004号",
        _TPL_SCOPE,
        ("wh_zz",),
        date(2022, 1, 1),
        date(2031, 12, 31),
    ),
    (
        "maker",
        LicenceKind.PRODUCTION_LICENCE,
        "闽食药监械生产许20150012号",
        _TPL_SCOPE,
        ("wh_maker", "wh_maker_cd"),
        date(2020, 3, 1),
        date(2030, 2, 28),
    ),
    (
        "distributor",
        LicenceKind.CLASS_III_OPERATION_LICENCE,
        "闽厦食药监械经营许20190035号",
        (ScopeEntry(III, "13"),),
        ("wh_dist",),
        date(2019, 5, 1),
        date(2024, 4, 30),
    ),
    (
        "distributor",
        LicenceKind.CLASS_II_OPERATION_FILING,
        "闽厦食药监械经营备20190088号",
        (ScopeEntry(II),),
        ("wh_dist",),
        date(2019, 5, 1),
        None,
    ),
)
RENEWAL = {
    "number": "闽厦食药监械经营许20240051号",
    "scope": (ScopeEntry(III),),
    "valid_from": date(2024, 5, 1),
    "valid_to": date(2029, 4, 30),
}
"""The distributor's Class III licence, renewed with the whole class from 2024-05-01."""

LINKS = (
    ("tpl", "tpl_fz", 100),
    ("tpl", "tpl_hold", 100),
    ("tpl_hold", "tpl_qz", 100),
    ("tpl", "tpl_zz", 60),
    ("maker", "maker_bio", 70),
)

_ALL_PI = ProductionIdentifiers(lot=True, serial=True, production_date=True, expiry_date=True)
_LOT_PI = ProductionIdentifiers(lot=True, production_date=True, expiry_date=True)
_SERIAL_PI = ProductionIdentifiers(serial=True, production_date=True, expiry_date=True)
_ROOM = StorageConditions(Decimal(10), Decimal(30), 75)
_COOL = StorageConditions(Decimal(2), Decimal(30), None)


@dataclass(frozen=True)
class DemoFamily:
    """A product family: one certificate, several models (one DI each)."""

    registrant: str
    prefix: str
    """GS1 China company prefix (690-699…) of the registrant, 7 digits."""

    name: str
    device_class: DeviceClass
    category: str
    certificate: str
    models: tuple[str, ...]
    label_pi: ProductionIdentifiers = _LOT_PI
    implantable: bool = False
    storage: StorageConditions | None = None
    packed: bool = False
    """Whether the DIs come in 中包装 x10 and 箱 x10 package levels."""


FAMILIES = (
    DemoFamily(
        "maker",
        "6931234",
        "冠状动脉药物洗脱支架系统",
        III,
        "13",
        "国械注准20203130101",
        ("2.25x14mm", "2.5x18mm", "2.75x18mm", "3.0x18mm", "3.0x24mm", "3.5x24mm", "4.0x28mm"),
        _ALL_PI,
        True,
        _ROOM,
        True,
    ),
    DemoFamily(
        "maker",
        "6931234",
        "PTCA 球囊扩张导管",
        III,
        "03",
        "国械注准20213030202",
        ("2.0x15mm", "2.5x15mm", "3.0x20mm", "3.5x20mm"),
        _LOT_PI,
        False,
        _ROOM,
    ),
    DemoFamily(
        "maker",
        "6931234",
        "中心静脉导管包",
        III,
        "14",
        "国械注准20203140505",
        ("单腔 7Fr", "双腔 7Fr", "三腔 7Fr"),
        _LOT_PI,
    ),
    DemoFamily(
        "maker",
        "6931234",
        "一次性使用无菌注射器",
        II,
        "14",
        "闽械注准20202140012",
        ("1ml", "2ml", "5ml", "10ml", "20ml"),
        _LOT_PI,
        packed=True,
    ),
    DemoFamily(
        "maker",
        "6931234",
        "一次性使用输液器",
        II,
        "14",
        "闽械注准20202140013",
        ("带针 0.55mm", "带针 0.7mm", "精密过滤 5μm"),
    ),
    DemoFamily(
        "maker",
        "6931234",
        "医用检查手套",
        CLASS_I,
        "14",
        "闽厦械备20200015号",
        ("S", "M", "L"),
        ProductionIdentifiers(lot=True, expiry_date=True),
    ),
    DemoFamily("maker", "6931234", "医用棉签", CLASS_I, "14", "闽厦械备20200016号", ("10cm 50支",)),
    DemoFamily(
        "maker_bio",
        "6945678",
        "一次性使用血液透析器",
        III,
        "10",
        "国械注准20203100404",
        ("1.4㎡", "1.6㎡", "1.8㎡"),
        _LOT_PI,
        False,
        _ROOM,
    ),
    DemoFamily(
        "maker_bio",
        "6945678",
        "可吸收性外科缝线",
        III,
        "02",
        "国械注准20213020606",
        ("2-0", "3-0", "4-0", "5-0"),
        _LOT_PI,
        True,
        _ROOM,
    ),
    DemoFamily(
        "maker_bio",
        "6945678",
        "医用外科口罩",
        II,
        "14",
        "闽械注准20202140031",
        ("成人 挂耳式", "儿童 挂耳式"),
    ),
    DemoFamily(
        "maker_bio",
        "6945678",
        "电子血压计",
        II,
        "07",
        "闽械注准20212070088",
        ("BP-11", "BP-21"),
        _SERIAL_PI,
    ),
    DemoFamily(
        "maker_bio",
        "6945678",
        "一次性使用心电电极",
        II,
        "07",
        "闽械注准20212070099",
        ("成人 圆形", "儿童 圆形"),
    ),
    DemoFamily(
        "maker_bio",
        "6945678",
        "血糖试纸",
        II,
        "22",
        "闽械注准20192400123",
        ("25片/盒", "50片/盒"),
        ProductionIdentifiers(lot=True, expiry_date=True),
        storage=_COOL,
    ),
    DemoFamily(
        "maker_bio", "6945678", "医用冷敷贴", CLASS_I, "09", "闽厦械备20210022号", ("10x14cm",)
    ),
    DemoFamily(
        "maker_bj",
        "6967890",
        "植入式心脏起搏器",
        III,
        "12",
        "国械注准20193120303",
        ("SR-101", "DR-201"),
        _SERIAL_PI,
        True,
        _ROOM,
    ),
)
OTHER_DIS = (
    # (DI, registrant, name, model, class, category, certificate, implantable)
    (
        "+EKLSHIP1201",
        "maker_bj",
        "髋关节假体股骨柄",
        "HIP-12 12mm",
        III,
        "13",
        "国械注进20203130222",
        True,
    ),
    (
        "+EKLSHIP1401",
        "maker_bj",
        "髋关节假体股骨柄",
        "HIP-14 14mm",
        III,
        "13",
        "国械注进20203130222",
        True,
    ),
    (
        "+EKLSKNE0301",
        "maker_bj",
        "膝关节假体胫骨垫",
        "KNE-03 10mm",
        III,
        "13",
        "国械注进20203130223",
        True,
    ),
    (
        "MA.156.M0.100761.3BP21001",
        "maker_bio",
        "上臂式电子血压计",
        "BP-21 家用",
        II,
        "07",
        "闽械注准20212070088",
        False,
    ),
    (
        "MA.156.M0.100761.3EC10002",
        "maker_bio",
        "心电电极片",
        "EC-10",
        II,
        "07",
        "闽械注准20212070099",
        False,
    ),
    (
        "MA.156.M0.100761.3LF00003",
        "maker_bio",
        "医用冷敷凝胶",
        "LF-3 20g",
        CLASS_I,
        "09",
        "闽厦械备20210022号",
        False,
    ),
)
DEMO_DI = gtin("0" + "6931234" + "10004")
"""The 3.0x18mm stent (Class III): the DI of the demo custody checks and demo events."""

BALLOON_DI = gtin("0" + "6931234" + "10010")
"""The 3.0x20mm PTCA balloon (Class III, lot-level): the demo's lot-quantity movements."""

TOKENS = (
    # (org key, roles, what the token is for)
    ("platform", (Role.ADMIN,), "platform administrator"),
    ("tpl", (Role.ORG_MANAGER,), "3PL group master data"),
    ("maker", (Role.ORG_MANAGER,), "manufacturer master data and catalogue"),
    ("distributor", (Role.ORG_MANAGER,), "distributor master data"),
    ("tpl", (Role.WAREHOUSE_OPERATOR,), "Xiamen central warehouse staff"),
    ("tpl", (Role.SCANNER,), "handheld scanner"),
    ("distributor", (Role.DISTRIBUTOR_SYNC,), "ERP synchronisation"),
    ("hospital", (Role.HOSPITAL_USER,), "hospital materials department"),
    ("regulator", (Role.REGULATOR,), "Xiamen regulator (jurisdiction 3502)"),
    ("platform", (Role.AUDITOR,), "auditor"),
)
CUSTODY_PATH = "/api/v1/rules/custody-check"
SERVE_URL = "http://127.0.0.1:8000"
"""Where ``python3 scripts/dev.py serve`` listens by default."""


def load(session: Session) -> Iterator[str]:
    """Create the demo data (idempotent) and yield human-readable lines, tokens included."""
    orgs = _organisations(session)
    places = _warehouses(session, orgs)
    _licences(session, orgs, places)
    _links(session, orgs)
    _agreement(session, orgs, places)
    report = import_records(session, _device_records())
    yield f"demo data: {len(orgs)} organisations, {len(places)} warehouses, " + (
        f"{len(report.imported)} devices added ({len(report.skipped)} already there)"
    )
    yield from demo_events.record(session, orgs, places, DEMO_DI, BALLOON_DI)
    admin_secret = ""
    for key, roles, purpose in TOKENS:
        name = PLATFORM[0] if key == "platform" else _org(key).name
        jurisdiction = "3502" if Role.REGULATOR in roles else None
        issued = tokens.create_token(
            session,
            organisation_id=orgs[key],
            roles=roles,
            name=f"demo {purpose}",
            jurisdiction=jurisdiction,
        )
        admin_secret = admin_secret or issued.secret
        role_names = ",".join(role.value for role in roles)
        yield f"{role_names} token: {issued.secret}  for {name} ({purpose})"
    for label, path in custody_paths(orgs, places):
        yield f"custody check {label}:"
        yield f"  curl -s -H 'Authorization: Bearer {admin_secret}' '{SERVE_URL}{path}'"


def custody_paths(
    orgs: dict[str, uuid.UUID], places: dict[str, uuid.UUID]
) -> Iterator[tuple[str, str]]:
    """The custody checks worth trying first: (label, path with query)."""
    cases = (
        ("allowed by R2 (wholly owned through a holding company)", "tpl", "wh_qz"),
        ("refused (sister company, no agreement)", "tpl_fz", "wh_qz"),
        ("allowed by R4, not R2 (60% subsidiary, agreement)", "tpl", "wh_zz"),
    )
    for label, actor, place in cases:
        query = urlencode(
            {
                "actor": orgs[actor],
                "warehouse": places[place],
                "di": DEMO_DI,
                "owner": orgs["distributor"],
                "service": LogisticsService.STORAGE.value,
            }
        )
        yield label, f"{CUSTODY_PATH}?{query}"


def _org(key: str) -> DemoOrg:
    return next(org for org in ORGS if org.key == key)


def _organisations(session: Session) -> dict[str, uuid.UUID]:
    name, code, jurisdiction = PLATFORM
    ids = {"platform": ensure_organisation(session, name, code, jurisdiction, [])}
    for org in ORGS:
        roles = [role.value for role in org.roles]
        ids[org.key] = ensure_organisation(
            session, org.name, org.credit_code, org.jurisdiction, roles
        )
    session.commit()
    return ids


def _warehouses(session: Session, orgs: dict[str, uuid.UUID]) -> dict[str, uuid.UUID]:
    ids: dict[str, uuid.UUID] = {}
    wh = tables.warehouses
    for place in WAREHOUSES:
        operator = orgs[place.operator]
        query = select(wh.c.id).where(wh.c.operator_id == operator, wh.c.name == place.name)
        existing = _first(session, query)
        if existing is None:
            new = warehouses.NewWarehouse(
                operator, place.name, place.address, place.jurisdiction, place.kind, _ROOM
            )
            existing = uuid.UUID(warehouses.create(session, SYSTEM, new).id)
            for zone, aisle, purpose, department in place.locations:
                location = warehouses.NewLocation(zone, aisle, None, purpose, department)
                warehouses.add_location(session, SYSTEM, existing, location)
        ids[place.key] = existing
    return ids


def _licences(session: Session, orgs: dict[str, uuid.UUID], places: dict[str, uuid.UUID]) -> None:
    lic = tables.licences
    for holder, kind, number, scope, names, valid_from, valid_to in LICENCES:
        query = select(lic.c.id).where(lic.c.holder_id == orgs[holder], lic.c.number == number)
        if _first(session, query) is not None:
            continue
        new = licences.NewLicence(
            orgs[holder],
            kind,
            number,
            valid_from,
            valid_to,
            scope,
            tuple(places[n] for n in names),
        )
        stored = licences.create(session, SYSTEM, new)
        if number == "闽厦食药监械经营许20190035号":
            licences.supersede(
                session, SYSTEM, uuid.UUID(stored.licence_id), RENEWAL["valid_from"], RENEWAL
            )


def _links(session: Session, orgs: dict[str, uuid.UUID]) -> None:
    link = tables.ownership_links
    for parent, child, share in LINKS:
        query = select(link.c.id).where(
            link.c.parent_id == orgs[parent], link.c.child_id == orgs[child]
        )
        if _first(session, query) is None:
            new = ownership.NewLink(orgs[parent], orgs[child], Decimal(share), SINCE)
            ownership.create(session, SYSTEM, new)


def _agreement(session: Session, orgs: dict[str, uuid.UUID], places: dict[str, uuid.UUID]) -> None:
    agr = tables.entrustment_agreements
    number = "LT-WT-2024-018"
    if _first(session, select(agr.c.id).where(agr.c.number == number)) is not None:
        return
    new = agreements.NewAgreement(
        client_id=orgs["distributor"],
        provider_id=orgs["tpl"],
        valid_from=date(2024, 1, 1),
        valid_to=date(2027, 12, 31),
        classes=(II, III),
        services=(LogisticsService.STORAGE, LogisticsService.TRANSPORT),
        warehouse_ids=tuple(places[k] for k in ("wh_tpl", "wh_fz", "wh_qz", "wh_zz")),
        number=number,
    )
    agreements.create(session, SYSTEM, new)


def _first(session: Session, query: Select[Any]) -> uuid.UUID | None:
    # Reads end their transaction so that the next service can begin its write one.
    found: uuid.UUID | None = session.execute(query).scalar_one_or_none()
    session.rollback()
    return found


def _device_records() -> list[ImportRecord]:
    records: list[ImportRecord] = []
    items: dict[str, int] = {}
    for family in FAMILIES:
        for model in family.models:
            items[family.prefix] = items.get(family.prefix, 10000) + 1
            di = gtin("0" + family.prefix + str(items[family.prefix]))
            records.append(_record(len(records) + 1, family, model, di))
    for di, registrant, name, model, device_class, category, number, implantable in OTHER_DIS:
        device = NewDevice(
            di=di,
            name=name,
            model_spec=model,
            device_class=device_class,
            registrant_id=UNRESOLVED,
            certificates=(_certificate(number, device_class),),
            category=category,
            implantable=implantable,
            label_pi=_ALL_PI if implantable else _SERIAL_PI,
        )
        records.append(ImportRecord(len(records) + 1, device, _registrant(registrant)))
    return records


def _record(number: int, family: DemoFamily, model: str, di: str) -> ImportRecord:
    packages: tuple[NewPackage, ...] = ()
    if family.packed:
        middle, case = gtin("1" + di[1:13]), gtin("2" + di[1:13])
        packages = (NewPackage(middle, di, 10, "中包装"), NewPackage(case, middle, 10, "箱"))
    device = NewDevice(
        di=di,
        name=family.name,
        model_spec=model,
        device_class=family.device_class,
        registrant_id=UNRESOLVED,
        certificates=(_certificate(family.certificate, family.device_class),),
        category=family.category,
        implantable=family.implantable,
        label_pi=family.label_pi,
        storage=family.storage,
        insurance_code=_insurance_code(family, di) if family.device_class is not CLASS_I else None,
        packages=packages,
    )
    return ImportRecord(number, device, _registrant(family.registrant))


def _certificate(number: str, device_class: DeviceClass) -> NewCertificate:
    if device_class is CLASS_I:  # Class I filings do not expire
        return NewCertificate(number, date(2020, 1, 1), None)
    return NewCertificate(number, date(2021, 1, 1), date(2030, 12, 31))


def _insurance_code(family: DemoFamily, di: str) -> str:
    # 医保耗材编码 shape: C + category + subcategory digits + a product serial.
    return f"C{family.category}0100{di[-9:-1]}00"


def _registrant(key: str) -> RegistrantRef:
    org = _org(key)
    return RegistrantRef(org.credit_code, org.name)
