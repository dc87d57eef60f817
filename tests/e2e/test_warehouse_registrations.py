"""Which licence registers a warehouse's address, on a date (库房地址登记)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.e2e.test_masterdata_api import OTHER_CODE, TPL_CODE, org_id, post, warehouse_body
from tests.e2e.test_service_basics import assert_problem
from warehouse.domain.roles import Role


def test_registrations_follow_the_licence_version_in_effect(
    client: FlaskClient, make_token: Any
) -> None:
    mine = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    holder = org_id(client, mine)
    central = post(client, "/api/v1/warehouses", warehouse_body(holder), mine).get_json()["id"]
    annex = post(
        client, "/api/v1/warehouses", warehouse_body(holder, "鹭通厦门二号仓"), mine
    ).get_json()["id"]
    licence = post(
        client,
        "/api/v1/licences",
        {
            "holder_id": holder,
            "kind": "class_iii_operation_licence",
            "number": "闽厦食药监械经营许20190035号",
            "scope": [{"device_class": "class_iii"}],
            "valid_from": "2019-05-01",
            "valid_to": "2029-04-30",
            "warehouse_ids": [central],
        },
        mine,
    ).get_json()
    # From 2025-01-01 the licence registers the annex instead of the central warehouse.
    post(
        client,
        f"/api/v1/licences/{licence['licence_id']}/supersede",
        {"effective_from": "2025-01-01", "warehouse_ids": [annex]},
        mine,
    )

    def registered(warehouse: str, on: str) -> list[str]:
        url = f"/api/v1/warehouses/{warehouse}/registrations?on={on}"
        response = client.get(url, headers=mine)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert body["on"] == on
        return [item["number"] for item in body["items"]]

    assert registered(central, "2024-12-31") == ["闽厦食药监械经营许20190035号"]
    assert registered(central, "2025-01-01") == []
    assert registered(annex, "2024-12-31") == []
    assert registered(annex, "2025-01-01") == ["闽厦食药监械经营许20190035号"]
    assert registered(central, "2019-04-30") == []  # before the licence was valid


def test_registrations_of_another_organisations_warehouse_are_a_404(
    client: FlaskClient, make_token: Any
) -> None:
    mine = make_token(Role.ORG_MANAGER, credit_code=TPL_CODE)
    theirs = make_token(Role.ORG_MANAGER, credit_code=OTHER_CODE)
    warehouse = post(
        client, "/api/v1/warehouses", warehouse_body(org_id(client, mine)), mine
    ).get_json()["id"]
    response = client.get(f"/api/v1/warehouses/{warehouse}/registrations", headers=theirs)
    assert_problem(response, 404, "request.not_found")
