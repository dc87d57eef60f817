"""Master-data services on a real database (SQLite and PostgreSQL): round trips, versions,
ownership cycles and authorisation, each through the service functions the API calls."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.demo import credit_code
from warehouse.domain.licences import DeviceClass, LicenceKind, ScopeEntry
from warehouse.domain.organisations import OrgRole
from warehouse.domain.roles import Principal, Role
from warehouse.domain.warehouses import LocationPurpose, WarehouseKind
from warehouse.ids import new_id
from warehouse.repository.pages import PageRequest
from warehouse.services import licences, organisations, ownership, warehouses
from warehouse.services.access import SYSTEM
from warehouse.services.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from warehouse.services.ownership import ControlQuery

D = date(2025, 6, 15)


def org(session: Session, name: str, body: str, jurisdiction: str = "350206") -> uuid.UUID:
    new = organisations.NewOrganisation(
        name, credit_code(body), jurisdiction, (OrgRole.THIRD_PARTY_LOGISTICS,)
    )
    return uuid.UUID(organisations.create(session, SYSTEM, new).id)


def manager(org_id: uuid.UUID, *roles: Role) -> Principal:
    return Principal(uuid.uuid4(), org_id, frozenset(roles or {Role.ORG_MANAGER}), None)


def link(session: Session, parent: uuid.UUID, child: uuid.UUID, share: int = 100) -> str:
    new = ownership.NewLink(parent, child, Decimal(share), date(2020, 1, 1))
    return ownership.create(session, SYSTEM, new).link_id


def test_an_organisation_round_trips_and_lists_by_jurisdiction_prefix(db_session: Session) -> None:
    xiamen = org(db_session, "厦门甲", "91350206MA2Y4TL0Q", "350206")
    org(db_session, "福州乙", "91350102MA31FX0L5", "350102")
    assert organisations.get(db_session, xiamen).name == "厦门甲"
    page = organisations.list_page(db_session, PageRequest(), jurisdiction_prefix="3502")
    assert [o.name for o in page.items] == ["厦门甲"]
    province = organisations.list_page(db_session, PageRequest(), jurisdiction_prefix="35")
    assert {o.name for o in province.items} >= {"厦门甲", "福州乙"}


def test_an_invalid_credit_code_names_the_field_and_the_expected_check_character(
    db_session: Session,
) -> None:
    wrong = credit_code("91350206MA2Y4TL0Q")[:-1] + "X"
    new = organisations.NewOrganisation("厦门甲", wrong, "350206")
    with pytest.raises(ValidationFailed) as caught:
        organisations.create(db_session, SYSTEM, new)
    (error,) = caught.value.errors
    assert error.field == "credit_code"
    assert error.message == "Expected check character 1, got X."


def test_a_credit_code_is_registered_once(db_session: Session) -> None:
    org(db_session, "厦门甲", "91350206MA2Y4TL0Q")
    with pytest.raises(Conflict) as caught:
        org(db_session, "厦门甲 again", "91350206MA2Y4TL0Q")
    assert caught.value.code == "organisation.duplicate_credit_code"


def test_superseding_a_licence_keeps_history_and_as_of_answers_old_versions(
    db_session: Session,
) -> None:
    holder = org(db_session, "厦门甲", "91350206MA2Y4TL0Q")
    new = licences.NewLicence(
        holder,
        LicenceKind.CLASS_III_OPERATION_LICENCE,
        "闽厦食药监械经营许20190035号",
        date(2019, 5, 1),
        date(2024, 4, 30),
        (ScopeEntry(DeviceClass.CLASS_III, "13"),),
    )
    first = licences.create(db_session, SYSTEM, new)
    licence_id = uuid.UUID(first.licence_id)
    changes = {"number": "闽厦食药监械经营许20240051号", "valid_to": date(2029, 4, 30)}
    licences.supersede(db_session, SYSTEM, licence_id, date(2024, 5, 1), changes)

    old = licences.as_of(db_session, licence_id, date(2024, 4, 30)).version
    current = licences.as_of(db_session, licence_id, date(2024, 5, 1)).version
    assert old.number == "闽厦食药监械经营许20190035号"
    assert current.number == "闽厦食药监械经营许20240051号"
    assert current.scope == old.scope  # unchanged fields are carried over
    assert [v.version.number for v in licences.history(db_session, licence_id)] == [
        "闽厦食药监械经营许20190035号",
        "闽厦食药监械经营许20240051号",
    ]
    with pytest.raises(NotFound):
        licences.as_of(db_session, licence_id, date(2019, 4, 30))


def test_a_new_licence_version_must_start_after_the_latest(db_session: Session) -> None:
    holder = org(db_session, "厦门甲", "91350206MA2Y4TL0Q")
    new = licences.NewLicence(
        holder, LicenceKind.THIRD_PARTY_LOGISTICS, "闽厦食药监械经营许20200012号", D
    )
    licence_id = uuid.UUID(licences.create(db_session, SYSTEM, new).licence_id)
    with pytest.raises(ValidationFailed) as caught:
        licences.supersede(db_session, SYSTEM, licence_id, D, {"number": "x号"})
    assert caught.value.errors[0].field == "effective_from"
    assert len(licences.history(db_session, licence_id)) == 1


def test_an_org_manager_writes_only_its_own_organisations_licences(db_session: Session) -> None:
    mine = org(db_session, "厦门甲", "91350206MA2Y4TL0Q")
    theirs = org(db_session, "福州乙", "91350102MA31FX0L5")
    new = licences.NewLicence(theirs, LicenceKind.THIRD_PARTY_LOGISTICS, "闽榕许1号", D)
    with pytest.raises(PermissionDenied):
        licences.create(db_session, manager(mine), new)
    own = licences.NewLicence(mine, LicenceKind.THIRD_PARTY_LOGISTICS, "闽厦许1号", D)
    assert licences.create(db_session, manager(mine), own).version.holder_id == str(mine)


def test_an_ownership_cycle_is_refused_naming_every_organisation_in_it(
    db_session: Session,
) -> None:
    a = org(db_session, "甲集团", "91350206MA2Y4TL0Q")
    b = org(db_session, "乙公司", "91350102MA31FX0L5")
    c = org(db_session, "丙公司", "91350503MA32QY7T3")
    link(db_session, a, b)
    link(db_session, b, c, 60)
    with pytest.raises(Conflict) as caught:
        link(db_session, c, a, 30)
    assert caught.value.code == "ownership.cycle"
    assert "丙公司 -> 甲集团 -> 乙公司 -> 丙公司" in caught.value.detail
    assert [step["name"] for step in caught.value.extra["cycle"]] == [
        "丙公司",
        "甲集团",
        "乙公司",
        "丙公司",
    ]


def test_shares_in_one_child_cannot_exceed_100_percent(db_session: Session) -> None:
    a = org(db_session, "甲集团", "91350206MA2Y4TL0Q")
    b = org(db_session, "乙公司", "91350102MA31FX0L5")
    c = org(db_session, "丙公司", "91350503MA32QY7T3")
    link(db_session, a, c, 60)
    with pytest.raises(Conflict) as caught:
        link(db_session, b, c, 50)
    assert caught.value.code == "ownership.conflict"


def test_ending_a_link_keeps_its_history_and_control_follows_the_dates(
    db_session: Session,
) -> None:
    parent = org(db_session, "甲集团", "91350206MA2Y4TL0Q")
    holding = org(db_session, "甲控股", "91350206MA31HQ2K8")
    child = org(db_session, "丙公司", "91350503MA32QY7T3")
    link(db_session, parent, holding)
    link_id = link(db_session, holding, child)
    ownership.supersede(db_session, SYSTEM, uuid.UUID(link_id), {"valid_to": D - timedelta(1)})

    history = ownership.history(db_session, SYSTEM, uuid.UUID(link_id))
    assert [v.link.valid_to for v in history] == [None, D - timedelta(1)]

    def answer(on: date) -> ownership.ControlAnswer:
        return ownership.control(db_session, SYSTEM, child, parent, on, ControlQuery.WHOLLY_OWNED)

    before = answer(D - timedelta(1))
    assert before.holds
    assert [before.names[step.child_id] for step in before.chain or ()] == ["甲控股", "丙公司"]
    assert not answer(D).holds


def test_group_structures_are_private_to_the_organisations_in_them(db_session: Session) -> None:
    parent = org(db_session, "甲集团", "91350206MA2Y4TL0Q")
    child = org(db_session, "乙公司", "91350102MA31FX0L5")
    outsider = org(db_session, "丙公司", "91350503MA32QY7T3")
    link_id = uuid.UUID(link(db_session, parent, child))
    with pytest.raises(NotFound):
        ownership.history(db_session, manager(outsider), link_id)
    assert ownership.history(db_session, manager(child, Role.SCANNER), link_id)
    with pytest.raises(NotFound):
        ownership.control(db_session, manager(outsider), child, parent, D, ControlQuery.CONTROLLED)


def test_warehouses_are_seen_by_operator_parents_and_regulators_only(
    db_session: Session,
) -> None:
    parent = org(db_session, "甲集团", "91350206MA2Y4TL0Q")
    operator = org(db_session, "乙公司", "91350102MA31FX0L5", "350102")
    outsider = org(db_session, "丙公司", "91350503MA32QY7T3", "350503")
    link(db_session, parent, operator, 51)
    new = warehouses.NewWarehouse(
        operator, "乙仓", "福州市鼓楼区", "350102", WarehouseKind.THIRD_PARTY_LOGISTICS
    )
    warehouse_id = uuid.UUID(warehouses.create(db_session, manager(operator), new).id)

    def sees(principal: Principal) -> bool:
        page = warehouses.list_page(db_session, principal, PageRequest())
        return any(w.id == str(warehouse_id) for w in page.items)

    fuzhou = Principal(uuid.uuid4(), outsider, frozenset({Role.REGULATOR}), "3501")
    xiamen = Principal(uuid.uuid4(), outsider, frozenset({Role.REGULATOR}), "3502")
    assert [sees(manager(operator)), sees(manager(parent)), sees(fuzhou)] == [True] * 3
    assert [sees(manager(outsider)), sees(xiamen)] == [False, False]
    with pytest.raises(NotFound):
        warehouses.get(db_session, manager(outsider), warehouse_id)


def test_locations_carry_their_purpose_and_department(db_session: Session) -> None:
    hospital = org(db_session, "鹭岛医院", "12350200426600356", "350203")
    new = warehouses.NewWarehouse(
        hospital, "医学装备库", "厦门市思明区", "350203", WarehouseKind.REGISTERED
    )
    warehouse_id = uuid.UUID(warehouses.create(db_session, SYSTEM, new).id)
    ward = warehouses.NewLocation("K", "XNK", None, LocationPurpose.DEPARTMENT, "心内科")
    created = warehouses.add_location(db_session, SYSTEM, warehouse_id, ward)
    read = warehouses.get_location(db_session, SYSTEM, warehouse_id, uuid.UUID(created.id))
    assert (read.code, read.purpose, read.department) == ("K-XNK", ward.purpose, "心内科")
    with pytest.raises(Conflict):
        warehouses.add_location(db_session, SYSTEM, warehouse_id, ward)
    no_department = warehouses.NewLocation("K", "GK", None, LocationPurpose.DEPARTMENT)
    with pytest.raises(ValidationFailed):
        warehouses.add_location(db_session, SYSTEM, warehouse_id, no_department)


def test_a_row_written_without_versions_gets_its_first_when_first_superseded(
    db_session: Session,
) -> None:
    org_id = new_id()
    db_session.execute(
        tables.organisations.insert().values(
            id=org_id,
            name="旧行",
            credit_code=credit_code("91350206MA2Y4TL0Q"),
            roles=[],
            jurisdiction="350206",
            created_at=datetime(2019, 12, 31, 16, 30, tzinfo=UTC),  # 2020-01-01 in China
        )
    )
    db_session.commit()
    assert [v.version for v in organisations.history(db_session, org_id)] == [None]
    found = organisations.supersede(db_session, SYSTEM, org_id, D, {"name": "新行"})
    history = organisations.history(db_session, org_id)
    assert [(v.value.name, v.version.number) for v in history if v.version] == [
        ("旧行", 1),
        ("新行", 2),
    ]
    assert history[0].version is not None
    assert history[0].version.effective_from == date(2020, 1, 1)
    assert found.version is not None
    assert found.version.supersedes == history[0].version.id
    assert organisations.get(db_session, org_id).name == "新行"
    assert organisations.as_of(db_session, org_id, D - timedelta(days=1)).value.name == "旧行"


def test_a_location_version_may_not_take_another_locations_code(db_session: Session) -> None:
    operator = org(db_session, "厦门甲", "91350206MA2Y4TL0Q")
    new = warehouses.NewWarehouse(
        operator, "甲仓", "厦门", "350206", WarehouseKind.THIRD_PARTY_LOGISTICS
    )
    warehouse_id = uuid.UUID(warehouses.create(db_session, SYSTEM, new).id)
    since = warehouses.NewLocation("A", effective_from=date(2020, 1, 1))
    warehouses.add_location(db_session, SYSTEM, warehouse_id, since)
    bay = warehouses.NewLocation("B", effective_from=date(2020, 1, 1))
    location_id = uuid.UUID(warehouses.add_location(db_session, SYSTEM, warehouse_id, bay).id)
    with pytest.raises(Conflict) as caught:
        warehouses.supersede_location(
            db_session, SYSTEM, warehouse_id, location_id, D, {"zone": "A"}
        )
    assert caught.value.code == "location.duplicate_code"
    quarantine = {"purpose": LocationPurpose.QUARANTINE}
    warehouses.supersede_location(db_session, SYSTEM, warehouse_id, location_id, D, quarantine)
    history = warehouses.location_history(db_session, SYSTEM, warehouse_id, location_id)
    assert [v.value.purpose for v in history] == [
        LocationPurpose.NORMAL,
        LocationPurpose.QUARANTINE,
    ]
