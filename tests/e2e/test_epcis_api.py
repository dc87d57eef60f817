"""GET /api/v1/epcis/events and POST /api/v1/epcis/capture on both engines.

The GS1 EPCIS 2.0 examples are read from ../shared/data/epcis/examples when present (skipped
otherwise) and from the copies vendored in tests/data/epcis. Every document the service
writes is checked against the EPCIS 2.0 JSON schema.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import GAUZE, STENT, World, build_world, gauze, stent, token
from warehouse.demo import credit_code, gtin
from warehouse.domain import epcis as mapping
from warehouse.domain.catalogue import ProductionIdentifiers
from warehouse.domain.licences import DeviceClass, LicenceKind, ScopeEntry
from warehouse.domain.movements import Action
from warehouse.domain.movements import BizStep as B
from warehouse.domain.organisations import OrgRole
from warehouse.domain.roles import Role
from warehouse.domain.warehouses import LocationPurpose, WarehouseKind
from warehouse.services import catalogue, licences, organisations, warehouses
from warehouse.services import epcis as service
from warehouse.services.access import SYSTEM

Headers = dict[str, str]
CAPTURE = "/api/v1/epcis/capture"
QUERY = "/api/v1/epcis/events"
VENDORED = Path(__file__).resolve().parents[1] / "data" / "epcis"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "epcis" / "examples"
SINCE = date(2001, 1, 1)

# What the GS1 examples name, mapped to the records of the example world below.
EXAMPLE_ALIASES = {
    "urn:epc:id:sgln:0614141.07346.1234": "E-M/A",  # 9.6.1 shipping read point
    "urn:epc:id:sgln:0012345.11111.400": "E/Q",  # 9.6.1 receiving read point
    "urn:epc:id:sgln:0012345.11111.0": "E/A",  # 9.6.1 receiving business location
    "urn:epc:id:sgln:0614141.00777.0": "E/B",  # 9.6.2 read point, destination location
    "urn:epc:id:sgln:0614141.00888.0": "E/C",  # 9.6.2 business location
    "urn:epc:id:sgln:4012345.00001.0": "M",  # 9.6.2 source possessing party
    "urn:epc:id:sgln:0614141.00001.0": "E",  # 9.6.2 destination owning party
}
EXAMPLE_GTINS = ("10614141073464", "70614141123451", "04012345123456")


@pytest.fixture
def world(db_session: Session) -> World:
    world = build_world(db_session)
    _example_world(world)
    return world


def _example_world(world: World) -> None:
    """An importer E, licensed since 2001 (the examples happen in 2005 and 2013), with a
    warehouse of four locations; the examples' devices, registered by the manufacturer M."""
    s, ids = world.session, world.ids
    new = organisations.NewOrganisation(
        "鹭进口", credit_code("91350206MA2Y0E0X1"), "350206", (OrgRole.DISTRIBUTOR,), SINCE
    )
    ids["E"] = uuid.UUID(organisations.create(s, SYSTEM, new).id)
    for key, operator in (("E", "E"), ("E-M", "M")):
        house = warehouses.NewWarehouse(
            ids[operator],
            f"{key} 进口仓",
            "厦门市湖里区",
            "350206",
            WarehouseKind.REGISTERED,
            effective_from=SINCE,
        )
        ids[f"W-{key}"] = uuid.UUID(warehouses.create(s, SYSTEM, house).id)
        for zone in ("Q", "A", "B", "C"):
            purpose = LocationPurpose.QUARANTINE if zone == "Q" else LocationPurpose.NORMAL
            place = warehouses.NewLocation(zone, purpose=purpose, effective_from=SINCE)
            location = warehouses.add_location(s, SYSTEM, ids[f"W-{key}"], place)
            ids[f"{key}/{zone}"] = uuid.UUID(location.id)
    scope = (ScopeEntry(DeviceClass.CLASS_II), ScopeEntry(DeviceClass.CLASS_III))
    licence = licences.NewLicence(
        ids["E"],
        LicenceKind.CLASS_III_OPERATION_LICENCE,
        "闽厦食药监械经营许20010001号",
        SINCE,
        date(2030, 12, 31),
        scope,
        (ids["W-E"],),
        effective_from=SINCE,
    )
    licences.create(s, SYSTEM, licence)
    certificate = (catalogue.NewCertificate("国械注准20013130001", SINCE, date(2030, 12, 31)),)
    for di, pi in zip(
        EXAMPLE_GTINS,
        (
            ProductionIdentifiers(serial=True),
            ProductionIdentifiers(serial=True),
            ProductionIdentifiers(lot=True),
        ),
        strict=True,
    ):
        device = catalogue.NewDevice(
            di,
            f"示例器械 {di}",
            "标准型",
            DeviceClass.CLASS_II,
            ids["M"],
            certificate,
            category="14",
            label_pi=pi,
            effective_from=SINCE,
        )
        catalogue.create(s, SYSTEM, device)


def _alias_config(world: World) -> dict[str, str]:
    config = {}
    for uri, key in EXAMPLE_ALIASES.items():
        kind = "location" if "/" in key else "org"
        config[uri] = f"{kind}:{world[key]}"
    return config


@pytest.fixture
def aliases(app: Flask, world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    config = _alias_config(world)
    monkeypatch.setitem(app.config, "EPCIS_ALIASES", config)
    return config


@pytest.fixture
def e_token(world: World) -> Headers:
    return token(world, "E", Role.WAREHOUSE_OPERATOR)


# --- helpers ----------------------------------------------------------------------------------


def schema_errors(document: Any) -> list[service.SchemaViolation]:
    return service.validate(document)


def capture(client: FlaskClient, document: Any, headers: Headers, **kw: Any) -> Any:
    response = client.post(CAPTURE, json=document, headers=headers, **kw)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def query(client: FlaskClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = client.get(QUERY, query_string=params, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert schema_errors(body) == []
    return body


def exported_events(body: dict[str, Any]) -> list[dict[str, Any]]:
    if body["type"] == "EPCISQueryDocument":
        return body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return body["epcisBody"]["eventList"]


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": list(mapping.CONTEXT),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-27T10:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def object_event(step: str, when: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{uuid.uuid4()}",
        "eventTime": when,
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": step,
        **fields,
    }


def example(name: str, source: Path) -> dict[str, Any]:
    path = source / name
    if not path.exists():
        pytest.skip(f"{path} is not here")
    return json.loads(path.read_text(encoding="utf-8"))


Resolve = Callable[[str, str], Any]


def resolver(world: World, config: dict[str, str]) -> Resolve:
    """(identifier, role) → the world key it names, for comparing documents semantically."""
    aliases = service.Aliases.parse(config)
    names = {v: k for k, v in world.ids.items()}

    def resolve(uri: str, role: str) -> Any:
        found = aliases.lookup(mapping.canonical(uri))
        if found is None:
            return ("unknown", uri)
        kind, value = found
        key = names[value]
        if role == "warehouse" and kind == "location":
            return "W-" + key.split("/")[0]  # a location stands for its warehouse there
        return key

    return resolve


def semantic(event: dict[str, Any], resolve: Resolve) -> dict[str, Any]:
    """What an EPCIS event says, independent of spelling (URN or Digital Link, URIs or short
    vocabulary names, offsets), with parties and places resolved to our records."""
    found: dict[str, Any] = {
        "type": event["type"],
        "eventID": mapping.event_uuid(event["eventID"]),
        "action": event["action"],
        "bizStep": mapping.vocabulary(event["bizStep"], "bizstep"),
        "eventTime": datetime.fromisoformat(event["eventTime"]).astimezone(UTC),
        "eventTimeZoneOffset": event["eventTimeZoneOffset"],
    }
    if "disposition" in event:
        found["disposition"] = mapping.vocabulary(event["disposition"], "disp")
    epcs = event.get("epcList", []) + event.get("childEPCs", [])
    if epcs:
        found["epcs"] = sorted(mapping.canonical(e) for e in epcs)
    quantities = event.get("quantityList", []) + event.get("childQuantityList", [])
    if quantities:
        found["quantities"] = sorted(
            (mapping.canonical(q["epcClass"]), q["quantity"]) for q in quantities
        )
    if "parentID" in event:
        found["parentID"] = mapping.canonical(event["parentID"])
    for name in ("readPoint", "bizLocation"):
        if name in event:
            found[name] = resolve(event[name]["id"], "location")
    if "bizTransactionList" in event:
        found["bizTransactions"] = sorted(
            (mapping.vocabulary(b["type"], "btt"), mapping.document_id(b["bizTransaction"]))
            for b in event["bizTransactionList"]
        )
    for name, field in (("sourceList", "source"), ("destinationList", "destination")):
        if name in event:
            found[name] = {
                (
                    mapping.vocabulary(e["type"], "sdt"),
                    resolve(e[field], "warehouse" if e["type"] == "location" else "org"),
                )
                for e in event[name]
            }
    return found


def assert_same_event(sent: dict[str, Any], written: dict[str, Any], resolve: Resolve) -> None:
    """Everything the sender said comes back; the service may add what it knows (owner…)."""
    said, back = semantic(sent, resolve), semantic(written, resolve)
    for key, value in said.items():
        if key in ("sourceList", "destinationList"):
            assert value <= back.get(key, set()), (key, value, back.get(key))
        else:
            assert back.get(key) == value, (key, value, back.get(key))


# --- the GS1 examples -------------------------------------------------------------------------


@pytest.mark.parametrize("source", [VENDORED, SHARED], ids=["vendored", "shared"])
@pytest.mark.parametrize(
    "name", ["Example_9.6.1-ObjectEvent.jsonld", "Example_9.6.1-ObjectEventWithDigitalLink.jsonld"]
)
def test_example_9_6_1_receiving_round_trips_and_the_shipping_without_destination_is_refused(
    client: FlaskClient,
    world: World,
    aliases: dict[str, str],
    e_token: Headers,
    name: str,
    source: Path,
) -> None:
    sent = example(name, source)
    assert schema_errors(sent) == []
    body = capture(client, sent, e_token, content_type="application/ld+json")
    assert (body["accepted"], body["rejected"]) == (1, 1), body
    shipping, receiving = body["results"]
    assert shipping["eventID"] == sent["epcisBody"]["eventList"][0]["eventID"]
    # Our shipments name the party they go to; the example's shipping does not.
    assert shipping["problem"]["code"] == "movement.location"
    assert receiving["status"] == "accepted"

    event_id = mapping.event_uuid(receiving["eventID"])
    written = exported_events(query(client, e_token, event_id=str(event_id)))
    assert len(written) == 1
    assert_same_event(sent["epcisBody"]["eventList"][1], written[0], resolver(world, aliases))
    # The example's own spelling of places comes back: they are configured aliases.
    assert written[0]["bizLocation"] == {"id": "urn:epc:id:sgln:0012345.11111.0"}
    assert written[0]["epcList"][0].startswith("https://id.gs1.org/01/")

    again = capture(client, sent, e_token)
    assert [r["status"] for r in again["results"]] == ["rejected", "duplicate"]
    assert again["results"][1]["id"] == receiving["id"]


@pytest.mark.parametrize("source", [VENDORED, SHARED], ids=["vendored", "shared"])
def test_example_9_6_2_in_kilograms_is_refused_and_round_trips_in_pieces(
    client: FlaskClient,
    world: World,
    aliases: dict[str, str],
    e_token: Headers,
    source: Path,
) -> None:
    sent = example("Example_9.6.2-ObjectEvent.jsonld", source)
    refused = capture(client, sent, e_token)["results"][0]
    assert refused["problem"]["code"] == "epcis.quantity"
    error = refused["problem"]["errors"][0]
    assert error["field"] == "/epcisBody/eventList/0/quantityList/0/uom"
    assert "KGM" in error["message"]

    # In pieces, and without the source location we have no field for, it is ours.
    pieces = copy.deepcopy(sent)
    event = pieces["epcisBody"]["eventList"][0]
    del event["quantityList"][0]["uom"]
    refused = capture(client, pieces, e_token)["results"][0]
    assert refused["problem"]["code"] == "epcis.unsupported_field"
    assert refused["problem"]["errors"][0]["field"] == "/epcisBody/eventList/0/sourceList/1"
    event["sourceList"] = event["sourceList"][:1]
    body = capture(client, pieces, e_token)
    assert body["accepted"] == 1, body
    written = exported_events(
        query(client, e_token, event_id=str(mapping.event_uuid(body["results"][0]["eventID"])))
    )
    assert_same_event(event, written[0], resolver(world, aliases))
    assert {"type": "owning_party", "destination": "urn:epc:id:sgln:0614141.00001.0"} in written[0][
        "destinationList"
    ]


def test_examples_9_6_3_and_9_6_4_are_outside_our_model(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    aggregation = example("Example_9.6.3-AggregationEvent.jsonld", SHARED)
    body = capture(client, aggregation, e_token)
    assert body["results"][0]["problem"]["code"] == "epcis.quantity"  # 200.5 kg of children
    transformation = example("Example_9.6.4-TransformationEvent.jsonld", SHARED)
    body = capture(client, transformation, e_token)
    assert body["results"][0]["problem"]["code"] == "epcis.unsupported_event"


# --- capture ----------------------------------------------------------------------------------


def test_a_document_that_breaks_the_schema_is_a_422_naming_json_pointers(
    client: FlaskClient, world: World, e_token: Headers
) -> None:
    bad = document(
        object_event("receiving", "yesterday", action="MAYBE", epcList=["not a uri"]),
    )
    del bad["schemaVersion"]
    bad["vendorField"] = 1  # a member that is neither EPCIS nor a namespaced extension
    response = client.post(CAPTURE, json=bad, headers=e_token)
    body = assert_problem(response, 422, "epcis.schema")
    pointers = {e["field"] for e in body["errors"]}  # JSON pointers into the document
    assert {
        "",
        "/epcisBody/eventList/0/eventTime",
        "/epcisBody/eventList/0/action",
        "/epcisBody/eventList/0/epcList/0",
    } <= pointers
    assert all(e["message"] for e in body["errors"])
    unknown = [e for e in body["errors"] if e["code"] == "field.unknown"]
    assert [e["field"] for e in unknown] == ["/vendorField"]
    nothing = query(client, e_token, party_id=str(world["E"]))
    assert exported_events(nothing) == []


def test_capture_takes_ld_json_and_refuses_other_media_types(
    client: FlaskClient, world: World, e_token: Headers
) -> None:
    response = client.post(
        CAPTURE, data="<epcis/>", headers={**e_token, "Content-Type": "application/xml"}
    )
    assert_problem(response, 415, "request.unsupported_media_type")
    response = client.post(
        CAPTURE, data="[]", headers={**e_token, "Content-Type": "application/ld+json"}
    )
    assert_problem(response, 400, "request.malformed")


def test_more_than_a_thousand_events_is_a_422(client: FlaskClient, world: World) -> None:
    event = object_event("receiving", "2026-06-15T10:00:00+08:00", epcList=[])
    response = client.post(CAPTURE, json=document(*[event] * 1001), headers=token(world, "E"))
    body = assert_problem(response, 422, "request.validation")
    assert body["errors"][0]["code"] == "request.batch_too_large"


def test_capture_needs_a_writer_role(client: FlaskClient, world: World) -> None:
    auditor = token(world, "E", Role.AUDITOR)
    response = client.post(CAPTURE, json=document(), headers=auditor)
    assert_problem(response, 403, "auth.role_required")


def test_an_unknown_party_or_location_refuses_that_event_naming_the_identifier(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    lot = mapping.Key(mapping.KeyKind.LGTIN, EXAMPLE_GTINS[2], lot="L7").uri()
    good = object_event(
        "receiving",
        "2026-06-15T10:00:00+08:00",
        quantityList=[{"epcClass": lot, "quantity": 3}],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"},
    )
    stranger = copy.deepcopy(good)
    stranger["eventID"] = f"urn:uuid:{uuid.uuid4()}"
    stranger["bizLocation"] = {"id": "urn:epc:id:sgln:9999999.00001.0"}
    party = copy.deepcopy(good)
    party["eventID"] = f"urn:uuid:{uuid.uuid4()}"
    party["sourceList"] = [{"type": "possessing_party", "source": "urn:epc:id:pgln:9999999.00002"}]
    body = capture(client, document(good, stranger, party), e_token)
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "rejected"]
    location_problem = body["results"][1]["problem"]
    assert location_problem["code"] == "epcis.unknown_identifier"
    assert "urn:epc:id:sgln:9999999.00001.0" in location_problem["detail"]
    assert location_problem["errors"][0]["field"] == "/epcisBody/eventList/1/bizLocation/id"
    party_problem = body["results"][2]["problem"]
    assert "urn:epc:id:pgln:9999999.00002" in party_problem["detail"]
    assert party_problem["errors"][0]["field"] == "/epcisBody/eventList/2/sourceList/0/source"


def test_a_party_may_be_named_by_its_credit_code(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    lot = mapping.Key(mapping.KeyKind.LGTIN, EXAMPLE_GTINS[2], lot="L6").uri()
    code = credit_code("91350205MA2XLK8C1")  # the manufacturer M of the world
    sent = object_event(
        "receiving",
        "2026-06-15T10:00:00+08:00",
        quantityList=[{"epcClass": lot, "quantity": 3}],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"},
        sourceList=[{"type": "possessing_party", "source": f"urn:udi-trace:uscc:{code}"}],
    )
    assert capture(client, document(sent), e_token)["accepted"] == 1
    (written,) = exported_events(query(client, e_token, lot="L6"))
    assert written["sourceList"] == [
        {"type": "possessing_party", "source": "urn:epc:id:sgln:4012345.00001.0"}
    ]
    stranger = copy.deepcopy(sent)
    stranger["eventID"] = f"urn:uuid:{uuid.uuid4()}"
    stranger["sourceList"][0]["source"] = "urn:udi-trace:uscc:91350200MA2XXXXXX0"
    problem = capture(client, document(stranger), e_token)["results"][0]["problem"]
    assert problem["code"] == "epcis.unknown_identifier"
    assert "91350200MA2XXXXXX0" in problem["detail"]


def test_hash_event_ids_are_idempotent_and_a_changed_event_under_the_same_id_is_refused(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    lot = mapping.Key(mapping.KeyKind.LGTIN, EXAMPLE_GTINS[2], lot="L8").uri()
    sent = object_event(
        "receiving",
        "2026-06-15T10:00:00+08:00",
        eventID="ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0",
        quantityList=[{"epcClass": lot, "quantity": 4, "uom": "EA"}],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"},
    )
    first = capture(client, document(sent), e_token)["results"][0]
    assert first["status"] == "accepted"
    again = capture(client, document(sent), e_token)["results"][0]
    assert (again["status"], again["id"]) == ("duplicate", first["id"])
    changed = copy.deepcopy(sent)
    changed["quantityList"][0]["quantity"] = 5
    refused = capture(client, document(changed), e_token)["results"][0]
    assert refused["problem"]["code"] == "event.id_reused"
    # Without an eventID the content is the identity: a resent document is a duplicate.
    anonymous = {k: v for k, v in sent.items() if k != "eventID"}
    anonymous["quantityList"] = [{"epcClass": lot, "quantity": 2}]
    made_up = capture(client, document(anonymous), e_token)["results"][0]
    assert made_up["status"] == "accepted"
    assert made_up["eventID"].startswith("urn:uuid:")
    assert capture(client, document(anonymous), e_token)["results"][0]["status"] == "duplicate"


def test_our_rules_apply_to_captured_events(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    unit = mapping.Key(mapping.KeyKind.SGTIN, EXAMPLE_GTINS[0], serial="NEVER").uri()
    picking = object_event("picking", "2026-06-15T10:00:00+08:00", epcList=[unit])
    unknown_device = object_event(
        "receiving",
        "2026-06-15T10:01:00+08:00",
        epcList=[mapping.Key(mapping.KeyKind.SGTIN, gtin("0690000000001"), serial="1").uri()],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"},
    )
    body = capture(client, document(picking, unknown_device), e_token)
    codes = [r["problem"]["code"] for r in body["results"]]
    assert codes == ["movement.not_in_stock", "movement.unknown_device"]


def test_a_time_outside_the_years_we_record_refuses_that_event_only(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    unit = mapping.Key(mapping.KeyKind.SGTIN, EXAMPLE_GTINS[0], serial="NEVER").uri()
    early = object_event("picking", "0001-01-01T00:00:00+14:00", epcList=[unit])
    late = object_event("picking", "9999-12-31T23:59:59-14:00", epcList=[unit])
    fine = object_event("picking", "2026-06-15T10:00:00+08:00", epcList=[unit])
    body = capture(client, document(early, late, fine), e_token)
    codes = [r["problem"]["code"] for r in body["results"]]
    assert codes == ["epcis.time", "epcis.time", "movement.not_in_stock"]
    assert body["results"][0]["eventID"] == early["eventID"]
    (error,) = body["results"][1]["problem"]["errors"]
    assert error["field"] == "/epcisBody/eventList/1/eventTime"
    assert error["message"].startswith("Expected a time in the years 1970 to 9998 (UTC)")


# --- query ------------------------------------------------------------------------------------


@pytest.fixture
def history(world: World) -> World:
    """X's goods at the 3PL P: received, accepted, stored, picked, shipped to the hospital;
    the hospital receives; a carton is packed at P."""
    items = [stent("S1"), stent("S2"), gauze(10)]
    world.receive_stock("P", "W-P", items, owner="X")
    world.ok(B.PICKING, "P", [stent("S1"), gauze(4)], rp="W-P/A")
    world.ok(
        B.SHIPPING,
        "P",
        [stent("S1"), gauze(4)],
        rp="W-P/A",
        to="H",
        documents=(mapping_document("desadv", "DA-2026-0001"),),
    )
    world.ok(B.RECEIVING, "H", [stent("S1"), gauze(4)], at="W-H/Q", owner="H", source="P")
    return world


def mapping_document(kind: str, number: str) -> Any:
    from warehouse.services.movements import Document

    return Document(kind, number)


def test_every_event_exports_as_schema_valid_epcis_with_cbv_and_digital_links(
    client: FlaskClient, history: World
) -> None:
    admin = token(history, "P", Role.ADMIN)
    body = query(client, admin, party_id=str(history["P"]), limit=100)
    assert body["type"] == "EPCISQueryDocument"
    assert body["@context"][0] == mapping.STANDARD_CONTEXT
    events = exported_events(body)
    steps = [e["bizStep"] for e in events]
    assert steps == ["receiving", "inspecting", "storing", "picking", "shipping", "receiving"]
    shipping = events[4]
    assert shipping["disposition"] == "in_transit"
    assert shipping["eventTimeZoneOffset"] == "+08:00"
    assert shipping["eventTime"].endswith("+08:00")
    assert shipping["readPoint"] == {"id": f"urn:udi-trace:location:{history['W-P/A']}"}
    assert "bizLocation" not in shipping
    assert shipping["bizTransactionList"] == [
        {"type": "desadv", "bizTransaction": "urn:udi-trace:bt:DA-2026-0001"}
    ]
    assert {"type": "possessing_party", "destination": f"urn:udi-trace:org:{history['H']}"} in (
        shipping["destinationList"]
    )
    assert shipping["epcList"] == [f"https://id.gs1.org/01/{STENT}/21/S1"]
    assert shipping["quantityList"] == [
        {"epcClass": f"https://id.gs1.org/01/{GAUZE}/10/G1", "quantity": 4}
    ]
    # Lots differ in kind (the stent's lot is master data, the gauze's in its class).
    item_data = shipping["udit:itemData"]
    assert {"epc": f"https://id.gs1.org/01/{STENT}/21/S1", "cbvmda:lotNumber": "L1"} | {
        "cbvmda:itemExpirationDate": "2029-12-31"
    } in item_data
    receiving = events[5]
    assert receiving["sourceList"] == [
        {"type": "possessing_party", "source": f"urn:udi-trace:org:{history['P']}"}
    ]
    assert receiving["udit:actingParty"] == f"urn:udi-trace:org:{history['H']}"
    plain = client.get(QUERY, query_string={"document": "EPCISDocument"}, headers=admin)
    assert plain.get_json()["type"] == "EPCISDocument"
    assert schema_errors(plain.get_json()) == []


def test_lot_data_is_ilmd_on_add_events_and_per_item_otherwise(
    client: FlaskClient, world: World
) -> None:
    world.ok(B.RECEIVING, "P", [gauze(5, lot="G9")], at="W-P/Q", owner="X", action=Action.ADD)
    world.ok(B.RECEIVING, "P", [gauze(2, lot="G8")], at="W-P/Q", owner="X")
    headers = token(world, "P")
    (added,) = exported_events(query(client, headers, lot="G9"))
    assert added["action"] == "ADD"
    assert added["ilmd"] == {"cbvmda:itemExpirationDate": "2029-12-31"}
    assert added["quantityList"] == [
        {"epcClass": f"https://id.gs1.org/01/{GAUZE}/10/G9", "quantity": 5}
    ]
    (observed,) = exported_events(query(client, headers, lot="G8"))
    assert "ilmd" not in observed  # the schema allows ilmd on ADD events only
    assert observed["udit:itemData"] == [
        {
            "epcClass": f"https://id.gs1.org/01/{GAUZE}/10/G8",
            "cbvmda:itemExpirationDate": "2029-12-31",
        }
    ]
    for event in (added, observed):
        (item,) = mapping.parse_event(event, "").items
        assert item.expiry == date(2029, 12, 31)


def test_query_takes_the_event_filters_pages_with_a_link_and_answers_ld_json(
    client: FlaskClient, history: World
) -> None:
    headers = {**token(history, "P"), "Accept": "application/ld+json"}
    response = client.get(QUERY, query_string={"biz_step": "picking"}, headers=headers)
    assert response.mimetype == "application/ld+json"
    assert [e["bizStep"] for e in exported_events(response.get_json())] == ["picking"]
    first = client.get(QUERY, query_string={"limit": 2}, headers=headers)
    assert len(exported_events(first.get_json())) == 2
    link = first.headers["Link"]
    assert link.endswith('>; rel="next"')
    assert "cursor=" in link
    second = client.get(link[1 : link.index(">")], headers=headers)
    assert second.status_code == 200
    assert [e["bizStep"] for e in exported_events(second.get_json())][:1] == ["storing"]
    bad = client.get(QUERY, query_string={"biz_step": "dancing"}, headers=headers)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1900-01-01T00:00:00Z"]
)
def test_a_query_time_outside_the_years_we_record_is_a_422(
    client: FlaskClient, history: World, moment: str
) -> None:
    for name in ("event_time_from", "event_time_to"):
        response = client.get(QUERY, query_string={name: moment}, headers=token(history, "P"))
        body = assert_problem(response, 422, "request.validation")
        assert [e["field"] for e in body["errors"]] == [name]


def test_visibility_is_that_of_the_events_api(client: FlaskClient, history: World) -> None:
    assert exported_events(query(client, token(history, "M"))) == []
    outside = token(history, "M", Role.REGULATOR, jurisdiction="110000")
    assert exported_events(query(client, outside)) == []
    inside = token(history, "M", Role.REGULATOR, jurisdiction="3502")
    assert len(exported_events(query(client, inside, limit=100))) == 6
    hospital = exported_events(query(client, token(history, "H")))
    assert [e["bizStep"] for e in hospital] == ["shipping", "receiving"]


def test_exported_documents_capture_back_into_another_system(
    client: FlaskClient, history: World, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What P exports, read back by the domain mapping, is the same events (our ids map)."""
    body = query(client, token(history, "P"), limit=100)
    base, events = mapping.event_list(body)
    for index, event in enumerate(events):
        captured = mapping.parse_event(event, f"{base}/{index}")
        assert captured.event_id == mapping.event_uuid(event["eventID"])
        assert captured.acting_party is not None
        actors = {f"urn:udi-trace:org:{history[k]}" for k in ("P", "H")}
        assert captured.acting_party.uri in actors
    shipping = mapping.parse_event(events[4], "")
    assert shipping.destination_party is not None
    assert shipping.destination_party.uri == f"urn:udi-trace:org:{history['H']}"
    assert [(i.di, i.serial, i.lot, i.quantity) for i in shipping.items] == [
        (STENT, "S1", "L1", 1),
        (GAUZE, None, "G1", 4),
    ]
    assert shipping.items[0].expiry == date(2029, 12, 31)
    assert shipping.documents == (("desadv", "DA-2026-0001"),)


def test_our_own_export_captured_again_is_the_same_events(
    client: FlaskClient, history: World
) -> None:
    """Exported events name what the service derived (owner, possessor, acting party,
    default disposition, shipment): sent back, they are still duplicates, not new events."""
    headers = token(history, "P")
    sent = query(client, headers, limit=100, document="EPCISDocument")
    body = capture(client, sent, headers)
    assert body["duplicates"] == len(exported_events(sent)) == 6, body
    changed = copy.deepcopy(sent)
    shipping = exported_events(changed)[4]
    shipping["bizTransactionList"][0]["bizTransaction"] = "urn:udi-trace:bt:DA-OTHER"
    refused = capture(client, changed, headers)["results"][4]
    assert refused["problem"]["code"] == "event.id_reused"


def test_packing_round_trips_as_an_aggregation_event(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.receive_stock("P", "W-P", [stent("S1"), stent("S2")], owner="X")
    headers = token(world, "P")
    box = mapping.Key(mapping.KeyKind.SSCC, "106141412345678908").uri()
    units = [mapping.Key(mapping.KeyKind.SGTIN, STENT, serial=s).uri() for s in ("S1", "S2")]
    packing = {
        "type": "AggregationEvent",
        "eventID": f"urn:uuid:{uuid.uuid4()}",
        "eventTime": "2026-06-15T11:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "ADD",
        "bizStep": "https://ref.gs1.org/cbv/BizStep-packing",
        "disposition": "container_closed",
        "parentID": "urn:epc:id:sscc:0614141.1234567890",
        "readPoint": {"id": f"urn:udi-trace:location:{world['W-P/A']}"},
    }
    packing["childEPCs"] = units
    packing["udit:itemData"] = [
        {"epc": unit, "cbvmda:lotNumber": "L1", "cbvmda:itemExpirationDate": "2029-12-31"}
        for unit in units
    ]
    body = capture(client, document(packing), headers)
    assert body["accepted"] == 1, body["results"][0]["problem"]
    written = exported_events(query(client, headers, biz_step="packing"))
    (event,) = written
    assert event["type"] == "AggregationEvent"
    assert event["parentID"] == box
    assert sorted(event["childEPCs"]) == sorted(units)
    assert_same_event(packing, event, resolver(world, {}))
    assert sorted(event["udit:itemData"], key=str) == sorted(packing["udit:itemData"], key=str)
    again = capture(client, document(event), headers)
    assert again["duplicates"] == 1, again


def test_error_declarations_export_the_epcis_way_and_capture_back(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    lot = mapping.Key(mapping.KeyKind.LGTIN, EXAMPLE_GTINS[2], lot="L9").uri()
    wrong = object_event(
        "receiving",
        "2026-06-15T10:00:00+08:00",
        quantityList=[{"epcClass": lot, "quantity": 6}],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"},
    )
    corrective = object_event(
        "holding",
        "2026-06-15T10:06:00+08:00",
        disposition="damaged",
        quantityList=[{"epcClass": lot, "quantity": 6}],
        readPoint={"id": "urn:epc:id:sgln:0614141.00888.0"},
    )
    declared = copy.deepcopy(wrong)
    declared["errorDeclaration"] = {
        "declarationTime": "2026-06-15T10:05:00+08:00",
        "reason": "https://ref.gs1.org/cbv/ER-incorrect_data",
        "correctiveEventIDs": [corrective["eventID"]],
    }
    body = capture(client, document(wrong, declared, corrective), e_token)
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted", "accepted"], body
    events = exported_events(query(client, e_token, limit=10))
    assert len(events) == 3
    original, declaration, correction = events
    assert declaration["eventID"] == original["eventID"] == wrong["eventID"]
    assert declaration["errorDeclaration"]["reason"] == "incorrect_data"
    assert declaration["errorDeclaration"]["correctiveEventIDs"] == [corrective["eventID"]]
    assert declaration["errorDeclaration"]["declarationTime"] == "2026-06-15T10:05:00+08:00"
    assert correction["eventID"] == corrective["eventID"]
    # Capturing our own export again changes nothing.
    again = capture(client, document(*events), e_token)
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 3, again


def test_unsupported_standard_fields_refuse_the_event(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    lot = mapping.Key(mapping.KeyKind.LGTIN, EXAMPLE_GTINS[2], lot="LX").uri()
    sent = object_event(
        "receiving",
        "2026-06-15T10:00:00+08:00",
        quantityList=[{"epcClass": lot, "quantity": 1}],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"},
        persistentDisposition={"set": ["recalled"]},
    )
    problem = capture(client, document(sent), e_token)["results"][0]["problem"]
    assert problem["code"] == "epcis.unsupported_field"
    assert problem["errors"][0]["field"] == "/epcisBody/eventList/0/persistentDisposition"
