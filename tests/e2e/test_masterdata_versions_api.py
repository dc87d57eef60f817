"""Superseding organisations, warehouses, locations, agreements and devices over HTTP.

Each record keeps its id; every version is kept and readable ``?as_of=`` a date, through
``/history`` and ``/versions/{version_id}``. Both engines.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.e2e.test_masterdata_api import OTHER_CODE, TPL_CODE, org_id, post, warehouse_body
from tests.e2e.test_service_basics import assert_problem
from warehouse.demo import credit_code, gtin
from warehouse.domain.roles import Role

Headers = dict[str, str]
THIRD_CODE = credit_code("91350205MA2XLK8C1")
STENT = gtin("0693123410004")


def read(client: FlaskClient, path: str, headers: Headers) -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def assert_versioned(
    client: FlaskClient, base: str, headers: Headers, field: str, before: Any, after: Any
) -> None:
    """``field`` reads ``before`` the day before 2025-03-01 and ``after`` from it."""
    old = read(client, f"{base}?as_of=2025-02-28", headers)
    new = read(client, f"{base}?as_of=2025-03-01", headers)
    assert (old[field], new[field]) == (before, after)
    assert (old["version"], new["version"]) == (1, 2)
    assert new["supersedes"] == old["version_id"]
    assert read(client, base, headers)[field] == after  # no as_of: the latest version
    history = read(client, f"{base}/history", headers)["items"]
    assert [(v["version"], v[field]) for v in history] == [(1, before), (2, after)]
    assert [v["effective_from"] for v in history] == ["2020-01-01", "2025-03-01"]
    assert {v["id"] for v in history} == {old["id"]}  # the id never changes


def test_an_organisation_is_renamed_by_a_version_and_read_as_of_either_date(
    client: FlaskClient, auth: Headers
) -> None:
    body = {
        "name": "鹭通医药物流",
        "credit_code": TPL_CODE,
        "jurisdiction": "350206",
        "roles": ["distributor"],
        "effective_from": "2020-01-01",
    }
    first = post(client, "/api/v1/organisations", body, auth).get_json()
    base = f"/api/v1/organisations/{first['id']}"
    change = {
        "effective_from": "2025-03-01",
        "name": "鹭通医药物流（厦门）有限公司",
        "roles": ["third_party_logistics", "distributor"],
        "jurisdiction": "350203",
    }
    renamed = post(client, f"{base}/supersede", change, auth)
    created = renamed.get_json()
    assert renamed.headers["Location"].endswith(f"{base}/versions/{created['version_id']}")
    assert read(client, renamed.headers["Location"], auth) == created
    assert (created["credit_code"], created["roles"]) == (
        TPL_CODE,
        ["distributor", "third_party_logistics"],
    )
    assert_versioned(client, base, auth, "name", body["name"], change["name"])
    assert read(client, f"{base}?as_of=2025-02-28", auth)["jurisdiction"] == "350206"
    assert_problem(client.get(f"{base}?as_of=2019-12-31", headers=auth), 404, "request.not_found")


def test_superseding_a_version_that_is_not_the_latest_is_a_409(
    client: FlaskClient, auth: Headers
) -> None:
    body = {"name": "甲", "credit_code": TPL_CODE, "jurisdiction": "350206"}
    first = post(client, "/api/v1/organisations", body, auth).get_json()
    base = f"/api/v1/organisations/{first['id']}"
    based_on_first = {"effective_from": "2099-01-01", "supersedes": first["version_id"]}
    second = post(client, f"{base}/supersede", {**based_on_first, "name": "乙"}, auth).get_json()
    stale = client.post(f"{base}/supersede", json={**based_on_first, "name": "丙"}, headers=auth)
    problem = assert_problem(stale, 409, "version.not_latest")
    assert problem["latest_version_id"] == second["version_id"]
    not_after = {"effective_from": "2099-01-01", "name": "丁"}
    problem = assert_problem(
        client.post(f"{base}/supersede", json=not_after, headers=auth), 422, "request.validation"
    )
    assert problem["errors"][0]["field"] == "effective_from"
    history = read(client, f"{base}/history", auth)["items"]
    assert [v["name"] for v in history] == ["甲", "乙"]


def test_an_org_manager_supersedes_its_own_organisation_but_another_is_a_403(
    client: FlaskClient, make_token: Any
) -> None:
    mine = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    theirs = make_token(Role.ORG_MANAGER, credit_code=OTHER_CODE)
    base = f"/api/v1/organisations/{org_id(client, mine)}"
    change = {"effective_from": "2099-01-01", "name": "鹭通医药物流（新）"}
    response = client.post(f"{base}/supersede", json=change, headers=theirs)
    assert_problem(response, 403, "auth.not_own_organisation")
    assert post(client, f"{base}/supersede", change, mine).get_json()["version"] == 2
    scanner = make_token(Role.SCANNER, credit_code=TPL_CODE)
    response = client.post(f"{base}/supersede", json=change, headers=scanner)
    assert_problem(response, 403, "auth.role_required")


def test_a_warehouse_changes_kind_and_another_organisation_sees_none_of_it(
    client: FlaskClient, make_token: Any
) -> None:
    mine = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    theirs = make_token(Role.ORG_MANAGER, credit_code=OTHER_CODE)
    body = {**warehouse_body(org_id(client, mine)), "effective_from": "2020-01-01"}
    warehouse = post(client, "/api/v1/warehouses", body, mine).get_json()
    base = f"/api/v1/warehouses/{warehouse['id']}"
    change = {"effective_from": "2025-03-01", "kind": "off_site", "storage": None}
    created = post(client, f"{base}/supersede", change, mine).get_json()
    assert (created["kind_label_zh"], created["storage"], created["operator_id"]) == (
        "异地库",
        None,
        warehouse["operator_id"],
    )
    assert_versioned(client, base, mine, "kind", "third_party_logistics", "off_site")
    for path in (f"{base}?as_of=2025-03-01", f"{base}/history"):
        assert_problem(client.get(path, headers=theirs), 404, "request.not_found")
    response = client.post(f"{base}/supersede", json=change, headers=theirs)
    assert_problem(response, 404, "request.not_found")


def test_a_location_turns_quarantine_and_keeps_its_history(
    client: FlaskClient, make_token: Any
) -> None:
    mine = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    theirs = make_token(Role.ORG_MANAGER, credit_code=OTHER_CODE)
    warehouse = post(client, "/api/v1/warehouses", warehouse_body(org_id(client, mine)), mine)
    locations = warehouse.headers["Location"] + "/locations"
    post(client, locations, {"zone": "Q", "effective_from": "2020-01-01"}, mine)
    body = {"zone": "A", "aisle": "01", "bin": "03", "effective_from": "2020-01-01"}
    location = post(client, locations, body, mine)
    base = location.headers["Location"]
    change = {"effective_from": "2025-03-01", "purpose": "quarantine"}
    created = post(client, f"{base}/supersede", change, mine).get_json()
    assert (created["code"], created["purpose_label_zh"], created["pickable"]) == (
        "A-01-03",
        "待验区",
        False,
    )
    assert_versioned(client, base, mine, "purpose", "normal", "quarantine")
    listed = read(client, f"{locations}?purpose=quarantine", mine)["items"]
    assert [(loc["code"], loc["version"]) for loc in listed] == [("A-01-03", 2)]
    taken = {"effective_from": "2025-04-01", "zone": "Q", "aisle": None, "bin": None}
    response = client.post(f"{base}/supersede", json=taken, headers=mine)
    assert_problem(response, 409, "location.duplicate_code")
    response = client.post(f"{base}/supersede", json=change, headers=theirs)
    assert_problem(response, 404, "request.not_found")
    assert_problem(client.get(f"{base}/history", headers=theirs), 404, "request.not_found")


def test_an_agreement_ended_early_keeps_its_first_version_for_earlier_dates(
    client: FlaskClient, make_token: Any
) -> None:
    provider = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    client_token = make_token(Role.ORG_MANAGER, credit_code=OTHER_CODE)
    outsider = make_token(Role.ORG_MANAGER, credit_code=THIRD_CODE)
    warehouse = post(
        client, "/api/v1/warehouses", warehouse_body(org_id(client, provider)), provider
    ).get_json()
    body = {
        "client_id": org_id(client, client_token),
        "provider_id": org_id(client, provider),
        "classes": ["class_iii"],
        "services": ["storage"],
        "warehouse_ids": [warehouse["id"]],
        "valid_from": "2020-01-01",
        "valid_to": "2029-12-31",
    }
    agreement = post(client, "/api/v1/entrustment-agreements", body, provider)
    base = agreement.headers["Location"]
    assert agreement.get_json()["effective_from"] == "2020-01-01"  # default: valid_from
    end = {"effective_from": "2025-03-01", "valid_to": "2025-03-31"}
    response = client.post(f"{base}/supersede", json=end, headers=outsider)
    assert_problem(response, 404, "request.not_found")
    ended = post(client, f"{base}/supersede", end, client_token)  # either party may
    assert ended.get_json()["valid_to"] == "2025-03-31"
    assert_versioned(client, base, provider, "valid_to", "2029-12-31", "2025-03-31")
    assert_problem(client.get(f"{base}/history", headers=outsider), 404, "request.not_found")


def test_a_device_record_is_superseded_by_its_registrant_only(
    client: FlaskClient, make_token: Any
) -> None:
    registrant = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    other = make_token(Role.ORG_MANAGER, credit_code=OTHER_CODE)
    body = {
        "di": STENT,
        "name": "冠状动脉支架",
        "model_spec": "3.0x18mm",
        "device_class": "class_iii",
        "registrant_id": org_id(client, registrant),
        "certificates": [{"number": "国械注准20203130001", "valid_from": "2020-01-01"}],
        "effective_from": "2020-01-01",
    }
    device = post(client, "/api/v1/devices", body, registrant)
    base = device.headers["Location"]
    change = {
        "effective_from": "2025-03-01",
        "name": "冠状动脉药物洗脱支架系统",
        "implantable": True,
        "label_pi": {"lot": True, "serial": True, "expiry_date": True},
        "insurance_code": "C0301010000000012345",
    }
    response = client.post(f"{base}/supersede", json=change, headers=other)
    assert_problem(response, 403, "auth.not_own_organisation")
    created = post(client, f"{base}/supersede", change, registrant).get_json()
    assert (created["di"], created["implantable"], created["label_pi"]["serial"]) == (
        STENT,
        True,
        True,
    )
    assert [c["number"] for c in created["certificates"]] == ["国械注准20203130001"]
    assert_versioned(client, base, other, "name", body["name"], change["name"])
    assert read(client, f"{base}?as_of=2025-02-28", other)["implantable"] is False
    stale = {**change, "effective_from": "2026-01-01", "supersedes": created["supersedes"]}
    response = client.post(f"{base}/supersede", json=stale, headers=registrant)
    assert_problem(response, 409, "version.not_latest")
