"""Master data over HTTP on both engines: create, read, list, supersede, and who may do what."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.e2e.test_service_basics import assert_problem
from warehouse.demo import credit_code, gtin
from warehouse.domain.roles import Role

Headers = dict[str, str]
TPL_CODE = credit_code("91350206MA2Y4TL0Q")
OTHER_CODE = credit_code("91350102MA31FX0L5")


def org_id(client: FlaskClient, headers: Headers) -> str:
    return client.get("/api/v1/tokens/current", headers=headers).get_json()["organisation_id"]


def post(client: FlaskClient, path: str, body: dict[str, Any], headers: Headers) -> Any:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response


def warehouse_body(operator: str, name: str = "鹭通厦门中心仓") -> dict[str, Any]:
    return {
        "operator_id": operator,
        "name": name,
        "address": "厦门市湖里区象屿路 88 号",
        "jurisdiction": "350206",
        "kind": "third_party_logistics",
        "storage": {"min_celsius": "2", "max_celsius": "30", "max_relative_humidity": 75},
    }


def test_an_admin_creates_an_organisation_with_201_and_a_location(
    client: FlaskClient, auth: Headers
) -> None:
    body = {"name": "鹭通医药物流", "credit_code": TPL_CODE, "jurisdiction": "350206"}
    response = post(client, "/api/v1/organisations", {**body, "roles": ["distributor"]}, auth)
    created = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/organisations/{created['id']}")
    read = client.get(response.headers["Location"], headers=auth)
    assert read.get_json() == created
    assert (created["province_zh"], created["role_labels_zh"]) == ("福建省", ["经营企业"])


def test_an_invalid_credit_code_is_a_422_naming_the_field_and_expected_check_character(
    client: FlaskClient, auth: Headers
) -> None:
    body = {"name": "鹭通", "credit_code": TPL_CODE[:-1] + "X", "jurisdiction": "350206"}
    response = client.post("/api/v1/organisations", json=body, headers=auth)
    problem = assert_problem(response, 422, "request.validation")
    assert problem["errors"] == [
        {
            "code": "code.credit_code",
            "message": f"Expected check character {TPL_CODE[-1]}, got X.",
            "field": "credit_code",
        }
    ]


def test_a_scanner_writing_master_data_gets_403_role_required(
    client: FlaskClient, make_token: Any
) -> None:
    scanner = make_token(Role.SCANNER)
    body = warehouse_body(org_id(client, scanner))
    assert_problem(
        client.post("/api/v1/warehouses", json=body, headers=scanner), 403, "auth.role_required"
    )


def test_another_organisations_warehouse_is_a_404(client: FlaskClient, make_token: Any) -> None:
    mine = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    theirs = make_token(Role.ORG_MANAGER, Role.SCANNER, credit_code=OTHER_CODE)
    created = post(client, "/api/v1/warehouses", warehouse_body(org_id(client, mine)), mine)
    location = created.headers["Location"]
    assert client.get(location, headers=mine).status_code == 200
    assert_problem(client.get(location, headers=theirs), 404, "request.not_found")
    listed = client.get("/api/v1/warehouses", headers=theirs).get_json()
    assert listed == {"items": [], "next_cursor": None}
    location_body = {"zone": "A", "aisle": "01", "bin": "03"}
    response = client.post(f"{location}/locations", json=location_body, headers=theirs)
    assert_problem(response, 404, "request.not_found")


def test_an_org_manager_may_not_register_another_organisations_warehouse(
    client: FlaskClient, make_token: Any
) -> None:
    mine = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    theirs = make_token(Role.ORG_MANAGER, credit_code=OTHER_CODE)
    body = warehouse_body(org_id(client, theirs))
    response = client.post("/api/v1/warehouses", json=body, headers=mine)
    assert_problem(response, 403, "auth.not_own_organisation")


def test_locations_are_added_and_listed_with_chinese_purpose_labels(
    client: FlaskClient, make_token: Any
) -> None:
    mine = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    warehouse = post(client, "/api/v1/warehouses", warehouse_body(org_id(client, mine)), mine)
    base = warehouse.headers["Location"] + "/locations"
    post(client, base, {"zone": "A", "aisle": "01", "bin": "03"}, mine)
    quarantine = post(client, base, {"zone": "Q", "purpose": "quarantine"}, mine)
    assert quarantine.get_json()["purpose_label_zh"] == "待验区"
    assert client.get(quarantine.headers["Location"], headers=mine).status_code == 200
    listed = client.get(f"{base}?purpose=quarantine", headers=mine).get_json()
    assert [loc["code"] for loc in listed["items"]] == ["Q"]


def test_next_cursor_walks_every_page_once(client: FlaskClient, auth: Headers) -> None:
    for n in range(7):
        body = {
            "name": f"组织{n}",
            "credit_code": credit_code(f"9135020{n}MA2Y4TL0Q"),
            "jurisdiction": "350206",
        }
        post(client, "/api/v1/organisations", body, auth)
    everything = client.get("/api/v1/organisations?limit=500", headers=auth).get_json()
    assert everything["next_cursor"] is None
    seen: list[str] = []
    url = "/api/v1/organisations?limit=3"
    while url:
        page = client.get(url, headers=auth).get_json()
        assert len(page["items"]) <= 3
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        url = f"/api/v1/organisations?limit=3&cursor={cursor}" if cursor else ""
    assert seen == [item["id"] for item in everything["items"]]
    assert len(seen) == len(set(seen)) >= 8


@pytest.mark.parametrize(
    "query", ["?colour=blue", "?limit=0", "?limit=501", "?cursor=not-a-cursor"]
)
def test_bad_list_parameters_are_422(client: FlaskClient, auth: Headers, query: str) -> None:
    response = client.get(f"/api/v1/organisations{query}", headers=auth)
    assert_problem(response, 422, "request.validation")


def test_a_licence_is_superseded_and_read_as_of_either_date(
    client: FlaskClient, make_token: Any
) -> None:
    mine = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    body = {
        "holder_id": org_id(client, mine),
        "kind": "class_iii_operation_licence",
        "number": "闽厦食药监械经营许20190035号",
        "scope": [{"device_class": "class_iii", "category": "13"}],
        "valid_from": "2019-05-01",
        "valid_to": "2024-04-30",
    }
    first = post(client, "/api/v1/licences", body, mine).get_json()
    base = f"/api/v1/licences/{first['licence_id']}"
    change = {
        "effective_from": "2024-05-01",
        "number": "闽厦食药监械经营许20240051号",
        "valid_to": "2029-04-30",
    }
    renewed = post(client, f"{base}/supersede", change, mine)
    assert renewed.get_json()["supersedes"] == first["version_id"]
    assert client.get(renewed.headers["Location"], headers=mine).get_json() == renewed.get_json()
    old = client.get(f"{base}?as_of=2024-04-30", headers=mine).get_json()
    new = client.get(f"{base}?as_of=2024-05-01", headers=mine).get_json()
    assert (old["number"], new["number"]) == (body["number"], change["number"])
    assert new["kind_label_zh"] == "第三类医疗器械经营许可证"
    assert new["scope"] == [
        {"device_class": "class_iii", "device_class_label_zh": "第三类", "category": "13"}
    ]
    history = client.get(f"{base}/history", headers=mine).get_json()["items"]
    assert [v["version_id"] for v in history] == [first["version_id"], new["version_id"]]
    assert_problem(client.get(f"{base}?as_of=2019-04-30", headers=mine), 404, "request.not_found")


def test_ownership_links_answer_control_queries_and_refuse_cycles(
    client: FlaskClient, auth: Headers
) -> None:
    ids = []
    for n, name in enumerate(["甲集团", "乙控股", "丙物流"]):
        body = {
            "name": name,
            "credit_code": credit_code(f"9135020{n}MA31HQ2K8"),
            "jurisdiction": "350206",
        }
        ids.append(post(client, "/api/v1/organisations", body, auth).get_json()["id"])
    a, b, c = ids
    for parent, child in ((a, b), (b, c)):
        link = {"parent_id": parent, "child_id": child, "share": 100, "valid_from": "2020-01-01"}
        created = post(client, "/api/v1/ownership-links", link, auth)
        assert created.get_json()["control_label_zh"] == "全资"
    control = client.get(
        f"/api/v1/organisations/{c}/control?parent={a}&on=2025-06-15", headers=auth
    )
    answer = control.get_json()
    assert (answer["answer"], [step["child_name"] for step in answer["chain"]]) == (
        "yes",
        ["乙控股", "丙物流"],
    )
    before = client.get(f"/api/v1/organisations/{c}/control?parent={a}&on=2019-12-31", headers=auth)
    assert (before.get_json()["answer"], before.get_json()["chain"]) == ("no", None)
    cycle = {"parent_id": c, "child_id": a, "share": 10, "valid_from": "2024-01-01"}
    problem = assert_problem(
        client.post("/api/v1/ownership-links", json=cycle, headers=auth), 409, "ownership.cycle"
    )
    assert [step["name"] for step in problem["cycle"]] == ["丙物流", "甲集团", "乙控股", "丙物流"]


def test_devices_validate_gs1_check_digits_and_are_found_by_package_di(
    client: FlaskClient, make_token: Any
) -> None:
    maker = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    di = gtin("0693123410004")
    case = gtin("1693123410004")
    body = {
        "di": di[:-1] + str((int(di[-1]) + 1) % 10),
        "name": "冠状动脉药物洗脱支架系统",
        "model_spec": "3.0x18mm",
        "device_class": "class_iii",
        "registrant_id": org_id(client, maker),
        "certificates": [
            {"number": "国械注准20213130456", "valid_from": "2021-01-01", "valid_to": "2030-12-31"}
        ],
        "packages": [{"package_di": case, "content_di": di, "quantity": 10, "level": "箱"}],
    }
    bad = assert_problem(
        client.post("/api/v1/devices", json=body, headers=maker), 422, "request.validation"
    )
    assert bad["errors"][0] == {
        "code": "gs1.check_digit",
        "message": f"Expected check digit {di[-1]}, got {body['di'][-1]}.",
        "field": "di",
    }
    created = post(client, "/api/v1/devices", {**body, "di": di}, maker).get_json()
    assert (created["issuer"], created["device_class_label_zh"]) == ("gs1", "第三类")
    found = client.get(f"/api/v1/devices?di={case}", headers=maker).get_json()["items"]
    assert [d["id"] for d in found] == [created["id"]]
    again = client.post("/api/v1/devices", json={**body, "di": di}, headers=maker)
    assert_problem(again, 409, "device.duplicate_di")


def test_agreements_are_seen_by_their_parties_only(client: FlaskClient, make_token: Any) -> None:
    client_side = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    provider = make_token(Role.SCANNER, credit_code=OTHER_CODE)
    outsider = make_token(Role.ORG_MANAGER, credit_code=credit_code("91350503MA32QY7T3"))
    body = {
        "client_id": org_id(client, client_side),
        "provider_id": org_id(client, provider),
        "classes": ["class_ii", "class_iii"],
        "services": ["storage"],
        "valid_from": "2024-01-01",
    }
    created = post(client, "/api/v1/entrustment-agreements", body, client_side)
    assert created.get_json()["service_labels_zh"] == ["贮存"]
    location = created.headers["Location"]
    assert client.get(location, headers=provider).status_code == 200
    assert_problem(client.get(location, headers=outsider), 404, "request.not_found")
