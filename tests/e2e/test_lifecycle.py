"""One stent's life over HTTP, on both engines, and the moves the rules refuse.

manufacturer M (W-M) → 3PL parent P (W-P, goods owned by distributor X) → P's wholly-owned
subsidiary's warehouse W-S → distributor X (W-X) → hospital H (W-H) → 心内科 → patient.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import CST, STENT, World, build_world, event_json, gauze, stent, token
from warehouse.domain.movements import BizStep as B
from warehouse.domain.roles import Role

Headers = dict[str, str]


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


class Actor:
    """An organisation's scanner posting events."""

    def __init__(self, client: FlaskClient, world: World, org: str, *roles: Role) -> None:
        self.client, self.world = client, world
        self.headers = token(world, org, *(roles or (Role.SCANNER,)))

    def post(self, step: B, items: list[Any], **kw: Any) -> Any:
        body = event_json(self.world, step, items, **kw)
        return self.client.post("/api/v1/events", json=body, headers=self.headers)

    def ok(self, step: B, items: list[Any], **kw: Any) -> dict[str, Any]:
        response = self.post(step, items, **kw)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()  # type: ignore[no-any-return]

    def receive_and_put_away(self, warehouse: str, items: list[Any], owner: str) -> None:
        self.ok(B.RECEIVING, items, at=f"{warehouse}/Q", owner=owner)
        self.ok(B.INSPECTING, items, at=f"{warehouse}/Q")
        self.ok(B.STORING, items, at=f"{warehouse}/A", rp=f"{warehouse}/Q")

    def pick_and_ship(self, warehouse: str, items: list[Any], to: str, **kw: Any) -> None:
        self.ok(B.PICKING, items, rp=f"{warehouse}/A")
        self.ok(B.STAGING_OUTBOUND, items, rp=f"{warehouse}/A")
        self.ok(B.SHIPPING, items, rp=f"{warehouse}/A", to=to, **kw)


def test_one_stent_from_the_manufacturer_to_a_patient(client: FlaskClient, world: World) -> None:
    unit = [stent("LIFE-1")]
    maker, tpl = Actor(client, world, "M"), Actor(client, world, "P")
    distributor, hospital = Actor(client, world, "X"), Actor(client, world, "H")
    nurse = Actor(client, world, "H", Role.HOSPITAL_USER)
    maker.receive_and_put_away("W-M", unit, owner="M")
    documents = [{"type": "desadv", "id": "DA-2026-001"}, {"type": "po", "id": "PO-X-77"}]
    maker.pick_and_ship("W-M", unit, to="P", to_wh="W-P", documents=documents)
    tpl.receive_and_put_away("W-P", unit, owner="X")
    tpl.pick_and_ship("W-P", unit, to="P", to_wh="W-S")
    tpl.receive_and_put_away("W-S", unit, owner="X")
    tpl.pick_and_ship("W-S", unit, to="X", to_wh="W-X")
    distributor.receive_and_put_away("W-X", unit, owner="X")
    invoice = [{"type": "inv", "id": "INV-889"}]
    distributor.pick_and_ship("W-X", unit, to="H", to_wh="W-H", documents=invoice)
    hospital.receive_and_put_away("W-H", unit, owner="H")
    nurse.ok(B.STOCKING, unit, at="W-H/DEPT", rp="W-H/A")
    used = nurse.ok(B.DISPENSING, unit, patient_ref="pt-4b1e", encounter_ref="op-2026-0615")
    assert (used["biz_step_label_zh"], used["patient_ref"]) == ("使用", "pt-4b1e")

    admin = token(world, "M", Role.ADMIN)
    trail = client.get(f"/api/v1/events?di={STENT}&serial=LIFE-1&limit=500", headers=admin)
    events = trail.get_json()["items"]
    steps = [(e["biz_step"], world_name(world, e["acting_org_id"])) for e in events]
    hop = ["receiving", "inspecting", "storing", "picking", "staging_outbound", "shipping"]
    assert steps == (
        [(s, "M") for s in hop]
        + [(s, "P") for s in hop]
        + [(s, "P") for s in hop]
        + [(s, "X") for s in hop]
        + [(s, "H") for s in hop[:3]]
        + [("stocking", "H"), ("dispensing", "H")]
    )
    warehouses = [
        world_name(world, e["warehouse_id"]) for e in events if e["biz_step"] == "storing"
    ]
    assert warehouses == ["W-M", "W-P", "W-S", "W-X", "W-H"]
    assert events[5]["documents"] == documents
    receipts = [e for e in events if e["biz_step"] == "receiving"]
    assert [world_name(world, e["owner_id"]) for e in receipts] == ["M", "X", "X", "X", "H"]
    assert all(e["shipment_id"] for e in receipts[1:])
    stock = client.get(f"/api/v1/stock?di={STENT}", headers=admin).get_json()["items"]
    assert stock == []
    assert world.unit("LIFE-1")["status"] == "dispensed"
    # Each party sees its part of the trail; a stranger sees none of it.
    mine = client.get("/api/v1/events?serial=LIFE-1", headers=maker.headers).get_json()
    assert {e["biz_step"] for e in mine["items"]} >= {"receiving", "shipping"}
    stranger = token(world, "S60")
    assert client.get("/api/v1/events?serial=LIFE-1", headers=stranger).get_json()["items"] == []


def world_name(world: World, value: str | None) -> str | None:
    names = {str(v): k for k, v in world.ids.items()}
    return names.get(value or "", value)


def test_refused_moves_are_problems_naming_the_rule(client: FlaskClient, world: World) -> None:
    tpl = Actor(client, world, "P")
    # A 60% subsidiary's warehouse is not the 3PL's to use (R2), nor entrusted to it (R4).
    problem = assert_problem(
        tpl.post(B.RECEIVING, [stent("S60-1")], at="W-S60/Q", owner="X"), 422, "custody.refused"
    )
    codes = {e["code"] for e in problem["errors"]}
    assert {"custody.not_wholly_owned", "custody.agreement_scope"} <= codes
    # An expired unit cannot be picked.
    tpl.receive_and_put_away("W-P", [stent("OLD", expiry=date(2026, 6, 20))], owner="X")
    later = datetime(2026, 6, 21, 10, 0, tzinfo=CST)
    expired = tpl.post(B.PICKING, [stent("OLD", expiry=date(2026, 6, 20))], event_time=later)
    assert_problem(expired, 422, "movement.expired")
    # A recalled lot cannot be picked.
    tpl.receive_and_put_away("W-P", [gauze(6, lot="RC")], owner="X")
    tpl.ok(B.HOLDING, [gauze(6, lot="RC")], rp="W-P/A", disposition="recalled")
    recalled = tpl.post(B.PICKING, [gauze(1, lot="RC")], rp="W-P/A")
    assert_problem(recalled, 422, "movement.recalled")
    # The same unit picked twice: the second scanner gets a 409.
    tpl.receive_and_put_away("W-P", [stent("LAST")], owner="X")
    tpl.ok(B.PICKING, [stent("LAST")])
    assert_problem(tpl.post(B.PICKING, [stent("LAST")]), 409, "stock.conflict")
    problem_page = client.get("/problems/movement.recalled")
    assert problem_page.status_code == 200
