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
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import GAUZE, STENT, World, build_world, gauze, stent, token
from warehouse.db import RLS_ROLE_CONFIG
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

# What each example's events become: accepted (applied to our movements) or recorded as sent
# (with why). Files in the examples folder not listed here must still be all accepted or
# recorded, and round-trip.
EXAMPLE_OUTCOMES = {
    "Example_9.6.1-ObjectEvent.jsonld": [
        ("recorded", "epcis.not_applied.shipping_destination"),
        ("accepted", None),
    ],
    "Example_9.6.1-ObjectEventWithDigitalLink.jsonld": [
        ("recorded", "epcis.not_applied.shipping_destination"),
        ("accepted", None),
    ],
    "Example_9.6.2-ObjectEvent.jsonld": [("recorded", "epcis.not_applied.uom")],
    "Example_9.6.3-AggregationEvent.jsonld": [("recorded", "epcis.not_applied.aggregation")],
    "Example_9.6.4-TransformationEvent.jsonld": [("recorded", "epcis.not_applied.event_type")],
}


def example_files() -> list[Any]:
    shared = sorted(SHARED.glob("*.jsonld")) if SHARED.is_dir() else []
    return [
        pytest.param(path, id=f"{path.parent.name}/{path.name}")
        for path in (*shared, *sorted(VENDORED.glob("*.jsonld")))
    ]


def without_context(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "@context"}


def by_event_id(events: list[dict[str, Any]]) -> dict[uuid.UUID, dict[str, Any]]:
    return {mapping.event_uuid(e["eventID"]): e for e in events}


def assert_round_trip(
    sent: dict[str, Any],
    results: list[dict[str, Any]],
    written: dict[uuid.UUID, dict[str, Any]],
    resolve: Resolve,
) -> None:
    """Each captured event comes back: a recorded one exactly as sent (JSON-equal once its
    document's @context, carried on the event, is set aside), an applied one meaning the same."""
    for raw, result in zip(exported_events(sent), results, strict=True):
        back = written[mapping.event_uuid(result["eventID"])]
        if result["status"] == "recorded" or result["not_applied"]:
            assert without_context(back) == raw
            assert back["@context"] == sent["@context"]
        else:
            assert_same_event(raw, back, resolve)


@pytest.mark.parametrize("path", example_files())
def test_every_gs1_example_round_trips_and_resent_is_all_duplicates(
    client: FlaskClient,
    world: World,
    aliases: dict[str, str],
    e_token: Headers,
    path: Path,
) -> None:
    sent = json.loads(path.read_text(encoding="utf-8"))  # unmodified
    assert schema_errors(sent) == []
    body = capture(client, sent, e_token, content_type="application/ld+json")
    outcomes = [
        (r["status"], r["not_applied"]["code"] if r["not_applied"] else None)
        for r in body["results"]
    ]
    expected = EXAMPLE_OUTCOMES.get(path.name)
    if expected is not None:
        assert outcomes == expected, body
    assert {status for status, _ in outcomes} <= {"accepted", "recorded"}, body
    assert body["recorded"] == sum(1 for status, _ in outcomes if status == "recorded")
    for result, raw in zip(body["results"], exported_events(sent), strict=True):
        assert result["eventID"] == raw["eventID"]
        if result["status"] == "recorded":
            reason = result["not_applied"]
            assert reason["field"].startswith(f"/epcisBody/eventList/{result['index']}/")
            assert "stock and custody are unchanged" in reason["detail"]
            assert reason["type"] == f"/problems/{reason['code']}"

    written = by_event_id(exported_events(query(client, e_token, limit=500)))
    assert len(written) == len(body["results"])
    assert_round_trip(sent, body["results"], written, resolver(world, aliases))

    again = capture(client, sent, e_token)
    assert [r["status"] for r in again["results"]] == ["duplicate"] * len(body["results"])
    assert [r["id"] for r in again["results"]] == [r["id"] for r in body["results"]]
    assert [r["not_applied"] for r in again["results"]] == [
        r["not_applied"] for r in body["results"]
    ]
    assert len(exported_events(query(client, e_token, limit=500))) == len(written)
    # Our export, captured back (recorded events carry their context on the event now).
    exported = query(client, e_token, limit=500, document="EPCISDocument")
    back = capture(client, exported, e_token)
    assert [r["status"] for r in back["results"]] == ["duplicate"] * len(written), back


def test_example_9_6_1_receiving_is_applied_with_its_places_as_their_sglns(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    sent = example("Example_9.6.1-ObjectEvent.jsonld", VENDORED)
    shipping, receiving = capture(client, sent, e_token)["results"]
    assert shipping["status"] == "recorded"
    assert shipping["not_applied"]["field"] == "/epcisBody/eventList/0/destinationList"
    event_id = mapping.event_uuid(receiving["eventID"])
    (written,) = exported_events(query(client, e_token, event_id=str(event_id)))
    assert written["bizLocation"] == {"id": "urn:epc:id:sgln:0012345.11111.0"}
    assert written["epcList"][0].startswith("https://id.gs1.org/01/")
    # The recorded shipping of the same unit changed nothing: it is still E's, pending.
    response = client.get("/api/v1/stock", query_string={"di": EXAMPLE_GTINS[0]}, headers=e_token)
    (line,) = response.get_json()["items"]
    assert (line["quantity"], line["status"]) == (1, "pending_acceptance")


def test_a_document_commits_its_applied_and_recorded_events_together_or_not_at_all(
    client: FlaskClient,
    world: World,
    aliases: dict[str, str],
    e_token: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """9.6.1: the receiving is applied, the shipping recorded as sent. If storing the recorded
    one fails, the applied one must not stay committed on its own: the client's retry of the
    whole document then applies and records both, once."""
    sent = example("Example_9.6.1-ObjectEvent.jsonld", VENDORED)
    real = service._write_recorded

    def power_cut(*_args: Any) -> Any:
        raise RuntimeError("power cut")

    monkeypatch.setattr(service, "_write_recorded", power_cut)
    failed = client.post(CAPTURE, json=sent, headers=e_token)
    assert failed.status_code == 500
    assert exported_events(query(client, e_token)) == []
    monkeypatch.setattr(service, "_write_recorded", real)
    shipping, receiving = capture(client, sent, e_token)["results"]
    assert (shipping["status"], receiving["status"]) == ("recorded", "accepted")
    assert len(exported_events(query(client, e_token))) == 2


@pytest.mark.parametrize("source", [VENDORED, SHARED], ids=["vendored", "shared"])
def test_example_9_6_2_is_recorded_in_kilograms_and_applied_in_pieces(
    client: FlaskClient,
    world: World,
    aliases: dict[str, str],
    e_token: Headers,
    source: Path,
) -> None:
    sent = example("Example_9.6.2-ObjectEvent.jsonld", source)
    recorded = capture(client, sent, e_token)["results"][0]
    assert recorded["not_applied"]["field"] == "/epcisBody/eventList/0/quantityList/0/uom"
    assert "KGM" in recorded["not_applied"]["message"]

    # In pieces it is still not ours while it names a source location (another eventID).
    pieces = copy.deepcopy(sent)
    event = pieces["epcisBody"]["eventList"][0]
    event["eventID"] = f"urn:uuid:{uuid.uuid4()}"
    del event["quantityList"][0]["uom"]
    result = capture(client, pieces, e_token)["results"][0]
    assert (result["status"], result["not_applied"]["code"]) == (
        "recorded",
        "epcis.not_applied.source_location",
    )
    assert result["not_applied"]["field"] == "/epcisBody/eventList/0/sourceList/1"
    # Without it, it is a receiving of ours: applied, destination owner and location included.
    event["eventID"] = f"urn:uuid:{uuid.uuid4()}"
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


def capture_all_examples(client: FlaskClient, headers: Headers) -> dict[str, Any]:
    """Every example (the vendored ones, and the shared ones when present) by file name."""
    sent = {}
    for param in example_files():
        (path,) = param.values
        document_ = json.loads(path.read_text(encoding="utf-8"))
        capture(client, document_, headers)
        sent[path.name] = document_
    return sent


def test_recorded_events_are_the_capturing_organisations_and_regulators_where_they_happened(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    sent = capture_all_examples(client, e_token)
    mine = exported_events(query(client, e_token, limit=500))
    assert any("@context" in e for e in mine)  # recorded ones come back
    recorded = {e["eventID"] for e in mine if "@context" in e}

    for stranger in (token(world, "M"), token(world, "X"), token(world, "P", Role.ORG_MANAGER)):
        assert exported_events(query(client, stranger, limit=500)) == []
    admin = exported_events(query(client, token(world, "P", Role.ADMIN), limit=500))
    assert recorded <= {e["eventID"] for e in admin}
    # A regulator sees those that happened at one of our locations in its jurisdiction: 9.6.2
    # and 9.6.3 were read at E's warehouse in Xiamen (350206); 9.6.4's read point is no
    # location of ours and 9.6.1's shipping read point is M's warehouse, also in Xiamen.
    inside = exported_events(query(client, token(world, "M", Role.REGULATOR, jurisdiction="3502")))
    seen = {e["eventID"] for e in inside if "@context" in e}
    expected = {
        exported_events(sent[name])[0]["eventID"]
        for name in (
            "Example_9.6.1-ObjectEvent.jsonld",
            "Example_9.6.1-ObjectEventWithDigitalLink.jsonld",
            "Example_9.6.2-ObjectEvent.jsonld",
        )
    }
    if "Example_9.6.3-AggregationEvent.jsonld" in sent:
        expected.add(exported_events(sent["Example_9.6.3-AggregationEvent.jsonld"])[0]["eventID"])
    assert seen == expected
    outside = token(world, "M", Role.REGULATOR, jurisdiction="110000")
    assert [e for e in exported_events(query(client, outside)) if "@context" in e] == []


def test_the_event_filters_apply_to_recorded_events(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    sent = capture_all_examples(client, e_token)
    kilograms = exported_events(sent["Example_9.6.2-ObjectEvent.jsonld"])[0]

    def found(**params: Any) -> list[str]:
        return [e["eventID"] for e in exported_events(query(client, e_token, **params))]

    assert found(lot="998877", di="04012345123456") == [kilograms["eventID"]] + (
        [exported_events(sent["Example_9.6.3-AggregationEvent.jsonld"])[0]["eventID"]]
        if "Example_9.6.3-AggregationEvent.jsonld" in sent
        else []
    )
    assert kilograms["eventID"] in found(biz_step="receiving")
    assert kilograms["eventID"] not in found(biz_step="shipping")
    assert found(event_time_from="2013-06-08T14:58:00Z", event_time_to="2013-06-08T14:59:00Z")[
        :1
    ] == [kilograms["eventID"]]
    assert kilograms["eventID"] not in found(event_time_from="2013-06-08T15:00:00Z")
    assert found(event_id=str(mapping.event_uuid(kilograms["eventID"]))) == [kilograms["eventID"]]
    assert found(location_id=str(world["E/C"]))[:1] == [kilograms["eventID"]]
    assert kilograms["eventID"] in found(warehouse_id=str(world["W-E"]))
    assert kilograms["eventID"] not in found(party_id=str(world["E"]))  # no parties resolved
    assert kilograms["eventID"] in found(event_type="ObjectEvent")
    assert kilograms["eventID"] not in found(event_type="AggregationEvent")
    if "Example_9.6.4-TransformationEvent.jsonld" in sent:
        transformation = exported_events(sent["Example_9.6.4-TransformationEvent.jsonld"])[0]
        assert found(event_type="TransformationEvent") == [transformation["eventID"]]
        output = mapping.parse_key(transformation["outputEPCList"][1])
        assert output is not None
        assert found(di=output.value, serial=output.serial) == [transformation["eventID"]]
    if "Example_9.6.3-AggregationEvent.jsonld" in sent:
        aggregation = exported_events(sent["Example_9.6.3-AggregationEvent.jsonld"])[0]
        assert aggregation["eventID"] in found(biz_step="receiving")
        assert aggregation["eventID"] in found(event_type="AggregationEvent")
        assert aggregation["eventID"] not in found(event_type="ObjectEvent")
        assert aggregation["eventID"] in found(sscc="106141412345678908")
    bad = client.get(QUERY, query_string={"event_type": "Dance"}, headers=e_token)
    assert bad.status_code == 422


def test_pages_merge_both_kinds_in_recording_order_without_repeats_or_gaps(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    def receiving(lot: str) -> dict[str, Any]:
        uri = mapping.Key(mapping.KeyKind.LGTIN, EXAMPLE_GTINS[2], lot=lot).uri()
        return object_event(
            "receiving",
            "2026-06-15T10:00:00+08:00",
            quantityList=[{"epcClass": uri, "quantity": 1}],
            bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"},
        )

    before, after = [receiving(f"B{i}") for i in range(3)], [receiving(f"A{i}") for i in range(3)]
    for event in before:
        assert capture(client, document(event), e_token)["accepted"] == 1
    capture_all_examples(client, e_token)
    assert capture(client, document(*after), e_token)["accepted"] == 3
    everything = [e["eventID"] for e in exported_events(query(client, e_token, limit=500))]
    assert len(everything) == len(set(everything)) >= 11
    # Recording order: ours first, then the examples (recorded and applied), then ours again.
    assert everything[:3] == [e["eventID"] for e in before]
    assert everything[-3:] == [e["eventID"] for e in after]
    middle = everything[3:-3]
    assert any(e.startswith("ni:///") for e in middle)  # recorded as sent, exported as sent
    assert any(e.startswith("urn:uuid:") for e in middle)  # 9.6.1's receiving, applied
    for limit in (1, 2, 3):
        walked: list[str] = []
        params: dict[str, Any] | None = {"limit": limit}
        url: str | None = QUERY
        while url is not None:
            response = client.get(url, query_string=params, headers=e_token)
            assert response.status_code == 200
            page = exported_events(response.get_json())
            assert 1 <= len(page) <= limit
            walked += [e["eventID"] for e in page]
            link = response.headers.get("Link")
            url, params = (link[1 : link.index(">")], None) if link else (None, None)
        assert walked == everything, limit


def test_an_event_id_is_one_event_across_both_kinds(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    lot = mapping.Key(mapping.KeyKind.LGTIN, EXAMPLE_GTINS[2], lot="K1").uri()
    place = {"id": "urn:epc:id:sgln:0614141.00888.0"}
    kilos = object_event(
        "receiving",
        "2026-06-15T10:00:00+08:00",
        quantityList=[{"epcClass": lot, "quantity": 2, "uom": "KGM"}],
        bizLocation=place,
    )
    first = capture(client, document(kilos), e_token)["results"][0]
    assert first["status"] == "recorded"
    # Same eventID, other content: refused, whether it would be recorded or applied.
    heavier = copy.deepcopy(kilos)
    heavier["quantityList"][0]["quantity"] = 3
    pieces = copy.deepcopy(kilos)
    del pieces["quantityList"][0]["uom"]
    body = capture(client, document(heavier, pieces), e_token)
    assert [r["problem"]["code"] for r in body["results"]] == ["event.id_reused"] * 2
    assert body["results"][1]["problem"]["errors"][0]["field"] == "/epcisBody/eventList/1/eventID"
    # An applied event's eventID cannot be recorded as other content either.
    applied = object_event(
        "receiving",
        "2026-06-15T10:05:00+08:00",
        quantityList=[{"epcClass": lot, "quantity": 2}],
        bizLocation=place,
    )
    assert capture(client, document(applied), e_token)["results"][0]["status"] == "accepted"
    in_kilos = copy.deepcopy(applied)
    in_kilos["quantityList"][0]["uom"] = "KGM"
    refused = capture(client, document(in_kilos), e_token)["results"][0]
    assert refused["problem"]["code"] == "event.id_reused"
    # The same event twice in one document: recorded once, then a duplicate.
    twice = object_event("loading", "2026-06-15T11:00:00+08:00", epcList=[])
    body = capture(client, document(twice, twice), e_token)
    assert [r["status"] for r in body["results"]] == ["recorded", "duplicate"]
    assert body["results"][0]["id"] == body["results"][1]["id"]
    # Another organisation recording the same event keeps its own record of it.
    other = capture(client, document(kilos), token(world, "P"))["results"][0]
    assert other["status"] == "recorded"
    assert other["id"] != first["id"]


@pytest.mark.parametrize("table", ["epcis_recorded_events", "epcis_recorded_items"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET id = id", "DELETE FROM {t}"])
def test_the_database_refuses_to_change_recorded_events(
    client: FlaskClient,
    world: World,
    aliases: dict[str, str],
    e_token: Headers,
    table: str,
    statement: str,
) -> None:
    capture(client, example("Example_9.6.2-ObjectEvent.jsonld", VENDORED), e_token)
    with pytest.raises(DBAPIError, match="append-only"), world.session.begin_nested():
        world.session.execute(text(statement.format(t=table)))
    world.session.rollback()
    assert len(exported_events(query(client, e_token))) == 1


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
    # A shipping that names its destination maps onto our movements: the rules refuse it,
    # it is not recorded as sent.
    shipping = object_event(
        "shipping",
        "2026-06-15T10:02:00+08:00",
        epcList=[unit],
        readPoint={"id": "urn:epc:id:sgln:0614141.00888.0"},
        destinationList=[
            {"type": "possessing_party", "destination": "urn:epc:id:sgln:4012345.00001.0"}
        ],
    )
    body = capture(client, document(picking, unknown_device, shipping), e_token)
    codes = [r["problem"]["code"] for r in body["results"]]
    assert codes == ["movement.not_in_stock", "movement.unknown_device", "movement.not_in_stock"]
    assert [r["status"] for r in body["results"]] == ["rejected"] * 3
    assert (body["recorded"], body["accepted"]) == (0, 0)
    assert [r["not_applied"] for r in body["results"]] == [None] * 3
    assert exported_events(query(client, e_token)) == []


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


def test_under_row_level_security_recorded_events_stay_with_the_capturing_organisation(
    app: Flask,
    client: FlaskClient,
    world: World,
    aliases: dict[str, str],
    e_token: Headers,
    engine_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if engine_name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's; migration 0015 adds none on SQLite")
    stranger = token(world, "M")  # tokens first: the requests below switch the role
    monkeypatch.setitem(app.config, RLS_ROLE_CONFIG, "udi_rls")
    capture_all_examples(client, e_token)
    mine = [e for e in exported_events(query(client, e_token, limit=500)) if "@context" in e]
    assert len(mine) >= 3
    assert exported_events(query(client, stranger, limit=500)) == []
    # The policy itself, with no organisation filter in the query (a forgotten filter).
    connection = world.session.connection()
    savepoint = connection.begin_nested()
    counts = {}
    for org in ("E", "M"):
        connection.execute(text("SELECT set_config('role', 'udi_rls', true)"))
        connection.execute(text("SELECT set_config('udi.rls_bypass', 'off', true)"))
        connection.execute(
            text("SELECT set_config('udi.org_id', :org, true)"), {"org": str(world[org])}
        )
        counts[org] = tuple(
            connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("epcis_recorded_events", "epcis_recorded_items")
        )
    savepoint.rollback()
    assert counts["E"][0] == len(mine)
    assert counts["E"][1] > 0
    assert counts["M"] == (0, 0)


def test_an_event_id_applied_and_recorded_in_one_document_is_refused_the_second_time(
    client: FlaskClient, world: World, aliases: dict[str, str], e_token: Headers
) -> None:
    """The same new eventID on an event we apply and on one we only record (kilograms): the
    recorded one is checked against the applied events already written in the transaction."""
    lot = mapping.Key(mapping.KeyKind.LGTIN, EXAMPLE_GTINS[2], lot="K1").uri()
    place = {"id": "urn:epc:id:sgln:0614141.00888.0"}
    applied = object_event(
        "receiving",
        "2026-06-15T10:05:00+08:00",
        quantityList=[{"epcClass": lot, "quantity": 2}],
        bizLocation=place,
    )
    in_kilos = copy.deepcopy(applied)
    in_kilos["quantityList"][0]["uom"] = "KGM"
    body = capture(client, document(applied, in_kilos), e_token)
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"], body
    assert body["results"][1]["problem"]["code"] == "event.id_reused"


@pytest.mark.parametrize(
    ("field", "longest"),
    [("staffID", 100), ("scannerDeviceID", 100), ("patientRef", 64), ("encounterRef", 64)],
)
def test_an_extension_longer_than_its_column_is_refused_not_cut(
    client: FlaskClient,
    world: World,
    aliases: dict[str, str],
    e_token: Headers,
    field: str,
    longest: int,
) -> None:
    lot = mapping.Key(mapping.KeyKind.LGTIN, EXAMPLE_GTINS[2], lot="K1").uri()
    event = object_event(
        "receiving",
        "2026-06-15T10:05:00+08:00",
        quantityList=[{"epcClass": lot, "quantity": 2}],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"},
        **{f"udit:{field}": "S" * (longest + 1)},
    )
    body = capture(client, document(event), e_token)
    refused = body["results"][0]
    assert refused["status"] == "rejected", body
    assert refused["problem"]["code"] == "epcis.unsupported_field"
    assert f"at most {longest} characters, got {longest + 1}" in refused["problem"]["detail"]
