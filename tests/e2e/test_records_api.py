"""GET /api/v1/records/{kind} (JSON, .csv, .xlsx) on both engines."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import CST, STENT, World, build_world, gauze, stent, token
from warehouse import tables
from warehouse.domain.movements import Action, EventType
from warehouse.domain.movements import BizStep as B
from warehouse.domain.roles import Role
from warehouse.services import catalogue, today
from warehouse.services.access import SYSTEM
from warehouse.services.movements import Document, NewEvent, NewItem

Headers = dict[str, str]
BASE = "/api/v1/records"
STENT_NAME = "冠状动脉药物洗脱支架系统"


@pytest.fixture
def world(db_session: Session) -> World:
    w = build_world(db_session)
    items = [stent("S1"), gauze(10)]
    w.ok(
        B.RECEIVING,
        "P",
        items,
        at="W-P/Q",
        owner="X",
        source="M",
        staff_id="张三",
        documents=(Document("desadv", "D-1"),),
    )
    w.ok(B.INSPECTING, "P", items, at="W-P/Q", staff_id="李四")
    w.ok(B.STORING, "P", items, at="W-P/A", rp="W-P/Q")
    w.ok(B.PICKING, "P", [stent("S1"), gauze(4)], rp="W-P/A")
    w.ok(
        B.SHIPPING,
        "P",
        [stent("S1"), gauze(4)],
        rp="W-P/A",
        to="H",
        staff_id="王五",
        documents=(Document("inv", "F-9"),),
    )
    w.ok(B.RECEIVING, "H", [stent("S1"), gauze(4)], at="W-H/Q", owner="H")
    return w


def lines(client: FlaskClient, kind: str, headers: Headers, query: str = "") -> list[dict]:
    response = client.get(f"{BASE}/{kind}{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def by_di(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["di"]: line for line in found}


def licence_of(world: World, org: str) -> str:
    return f"闽厦食药监械许{world[org].hex[-8:]}号"


def test_a_purchase_inspection_line_carries_the_master_data_of_its_date(
    client: FlaskClient, world: World
) -> None:
    owner = token(world, "X")
    found = by_di(lines(client, "purchase-inspection", owner))
    assert set(found) == {STENT, gauze(1).di}
    line = found[STENT]
    assert {k: line[k] for k in line if k not in ("id", "event_id")} == {
        "kind": "purchase-inspection",
        "record_date": "2026-06-15",
        "biz_step": "receiving",
        "result_zh": line["result_zh"],
        "di": STENT,
        "name": STENT_NAME,
        "model_spec": "标准型",
        "registration_number": "国械注准20213130456",
        "registrant": "鹭康医疗",
        "registrant_licence": licence_of(world, "M"),
        "lot": "L1",
        "serial": "S1",
        "sscc": None,
        "production_date": None,
        "expiry": "2029-12-31",
        "quantity": 1,
        "party": "鹭康医疗",
        "party_licence": licence_of(world, "M"),
        "warehouse": "W-P 仓",
        "staff_id": "张三",
        "documents": "desadv:D-1",
        "implantable": True,
        "retention_until": "permanent",
    }
    gauze_line = found[gauze(1).di]
    assert (gauze_line["quantity"], gauze_line["implantable"]) == (10, False)
    assert gauze_line["retention_until"] == "2031-12-31"  # expiry + 2 years
    event = client.get(f"/api/v1/events/{line['event_id']}", headers=owner).get_json()
    assert event["biz_step"] == "receiving"


def test_acceptance_outbound_review_and_sales_lines(client: FlaskClient, world: World) -> None:
    owner, tpl = token(world, "X"), token(world, "P")
    accepted = by_di(lines(client, "acceptance", tpl))
    assert (accepted[STENT]["result_zh"], accepted[STENT]["staff_id"]) == ("验收合格", "李四")
    outbound = by_di(lines(client, "outbound-review", tpl))
    assert (outbound[STENT]["party"], outbound[STENT]["staff_id"]) == ("鹭岛第一医院", "王五")
    assert outbound[gauze(1).di]["quantity"] == 4
    sold = by_di(lines(client, "sales", owner))
    assert set(sold) == {STENT, gauze(1).di}
    assert (sold[STENT]["party"], sold[STENT]["party_licence"]) == ("鹭岛第一医院", None)
    assert sold[STENT]["documents"] == "inv:F-9"
    # The hospital's own receipt: its supplier is the owner who sold, not the 3PL that shipped.
    hospital = by_di(lines(client, "purchase-inspection", token(world, "H")))
    assert (hospital[STENT]["party"], hospital[STENT]["party_licence"]) == (
        "闽海器械",
        licence_of(world, "X"),
    )
    assert hospital[STENT]["warehouse"] == "W-H 仓"


def test_a_move_between_the_owners_own_places_is_no_sale(client: FlaskClient, world: World) -> None:
    world.receive_stock("P", "W-P", [stent("S2")], owner="X")
    world.ok(B.PICKING, "P", [stent("S2")], rp="W-P/A")
    world.ok(B.SHIPPING, "P", [stent("S2")], rp="W-P/A", to="X", to_wh="W-X")
    sold = lines(client, "sales", token(world, "X"))
    assert [line["serial"] for line in sold if line["serial"]] == ["S1"]
    shipped = lines(client, "outbound-review", token(world, "P"))
    assert sorted(line["serial"] for line in shipped if line["serial"]) == ["S1", "S2"]


def test_only_the_owner_the_actor_and_regulators_of_the_place_see_records(
    client: FlaskClient, world: World
) -> None:
    assert len(lines(client, "purchase-inspection", token(world, "P"))) == 2
    assert lines(client, "purchase-inspection", token(world, "S60")) == []
    assert lines(client, "sales", token(world, "H")) == []
    inside = token(world, "S60", Role.REGULATOR, jurisdiction="3502")
    assert len(lines(client, "purchase-inspection", inside)) == 4  # X's and H's receipts
    outside = token(world, "S60", Role.REGULATOR, jurisdiction="3301")
    assert lines(client, "purchase-inspection", outside) == []
    assert lines(client, "sales", token(world, "M", Role.ADMIN)) != []
    scanner = token(world, "X", Role.SCANNER)
    for suffix in ("", ".csv", ".xlsx"):
        response = client.get(f"{BASE}/sales{suffix}", headers=scanner)
        assert_problem(response, 403, "auth.role_required")


def test_the_name_shown_is_the_one_in_effect_on_the_event_date(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    devices = tables.devices
    stent_id = db_session.execute(select(devices.c.id).where(devices.c.di == STENT)).scalar_one()
    db_session.rollback()
    # The first version takes effect the day a device is created; June's events predate it
    # and are shown with it. The renaming takes effect later and only later events show it.
    renamed_on = today() + timedelta(days=3)
    catalogue.supersede(db_session, SYSTEM, stent_id, renamed_on, {"name": "新支架名称"})
    later = datetime.combine(renamed_on, time(10), CST)
    world.ok(B.RECEIVING, "P", [stent("S3")], at="W-P/Q", owner="X", event_time=later)
    found = {
        line["serial"]: line
        for line in lines(client, "purchase-inspection", token(world, "X"))
        if line["serial"]
    }
    assert (found["S1"]["name"], found["S1"]["record_date"]) == (STENT_NAME, "2026-06-15")
    assert (found["S3"]["name"], found["S3"]["record_date"]) == (
        "新支架名称",
        renamed_on.isoformat(),
    )
    assert found["S3"]["party"] is None  # no supplier named, no shipment


def test_dates_warehouse_and_cursor_narrow_the_lines(client: FlaskClient, world: World) -> None:
    owner = token(world, "X")
    assert lines(client, "purchase-inspection", owner, "?from=2026-06-15&to=2026-06-15") != []
    assert lines(client, "purchase-inspection", owner, "?from=2026-06-16") == []
    assert lines(client, "purchase-inspection", owner, "?to=2026-06-14") == []
    assert lines(client, "purchase-inspection", owner, f"?warehouse={world['W-X']}") == []
    assert len(lines(client, "purchase-inspection", owner, f"?warehouse={world['W-P']}")) == 2
    first = client.get(f"{BASE}/purchase-inspection?limit=1", headers=owner).get_json()
    assert len(first["items"]) == 1
    rest = client.get(
        f"{BASE}/purchase-inspection?limit=1&cursor={first['next_cursor']}", headers=owner
    ).get_json()
    assert rest["next_cursor"] is None
    assert {first["items"][0]["di"], rest["items"][0]["di"]} == {STENT, gauze(1).di}
    bad = client.get(f"{BASE}/purchase-inspection?from=2026-06-16&to=2026-06-15", headers=owner)
    assert_problem(bad, 422, "request.validation")
    assert client.get(f"{BASE}/stocktake", headers=owner).status_code == 404


def test_an_event_declared_erroneous_leaves_the_records(client: FlaskClient, world: World) -> None:
    wrong = world.event(B.RECEIVING, "P", [stent("S8")], at="W-P/Q", owner="X")
    world.record(wrong)
    assert len(lines(client, "purchase-inspection", token(world, "X"))) == 3
    declaration = NewEvent(
        event_id=uuid.uuid4(),
        biz_step=B.RECEIVING,
        event_time=world.tick(),
        acting_org_id=world["P"],
        declares_event_id=wrong.event_id,
        error_reason="did_not_occur",
    )
    assert world.record(declaration).results[0].status == "accepted"
    assert len(lines(client, "purchase-inspection", token(world, "X"))) == 2


def test_the_csv_export_has_chinese_headers_and_every_line(
    client: FlaskClient, world: World
) -> None:
    response = client.get(
        f"{BASE}/purchase-inspection.csv?from=2026-06-01", headers=token(world, "X")
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert "filename*=UTF-8''%E8%BF%9B%E8%B4%A7" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    header = rows[0]
    assert header[:4] == ["记录编号", "购进日期", "产品名称", "型号规格"]
    assert "保存期限至" in header
    body = {row[header.index("产品标识(DI)")]: row for row in rows[1:]}
    assert len(body) == 2
    assert body[STENT][header.index("保存期限至")] == "permanent"
    assert body[STENT][header.index("供货者")] == "鹭康医疗"


def test_the_xlsx_export_is_a_workbook_named_after_the_record(
    client: FlaskClient, world: World
) -> None:
    response = client.get(f"{BASE}/sales.xlsx", headers=token(world, "X"))
    assert response.status_code == 200, response.get_data(as_text=True)
    book = load_workbook(io.BytesIO(response.get_data()))
    sheet = book["销售记录"]
    assert (sheet["A1"].font.bold, sheet.freeze_panes) == (True, "A2")
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[1] == "销售日期"
    assert "购货者" in header
    quantities = sorted(row[header.index("数量")] for row in rows[1:])
    assert quantities == [1, 4]
    assert_problem(
        client.get(f"{BASE}/sales.xlsx?from=2026-07-01&to=2026-06-01", headers=token(world, "X")),
        422,
        "request.validation",
    )


def test_a_container_is_recorded_unit_by_unit(client: FlaskClient, world: World) -> None:
    sscc = "106141411234567897"
    world.receive_stock("P", "W-P", [stent("S5"), stent("S6"), stent("S7")], owner="X")
    pack = {"event_type": EventType.AGGREGATION, "parent_sscc": sscc, "action": Action.ADD}
    world.ok(B.PACKING, "P", [stent("S5"), stent("S6")], **pack)
    world.ok(B.SHIPPING, "P", [NewItem(sscc=sscc)], to="H")
    world.ok(B.RECEIVING, "H", [NewItem(sscc=sscc)], at="W-H/Q", owner="H")
    sold = [line for line in lines(client, "sales", token(world, "X")) if line["sscc"]]
    assert sorted(line["serial"] for line in sold) == ["S5", "S6"]
    assert {line["name"] for line in sold} == {STENT_NAME}
    assert len({line["id"] for line in sold}) == 2
    received = [
        line for line in lines(client, "purchase-inspection", token(world, "H")) if line["sscc"]
    ]
    assert sorted((line["serial"], line["party"]) for line in received) == [
        ("S5", "闽海器械"),
        ("S6", "闽海器械"),
    ]
    assert all(line["retention_until"] == "permanent" for line in received)
