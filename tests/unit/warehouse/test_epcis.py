"""warehouse.domain.epcis: GS1 keys as URNs and Digital Links, CBV vocabulary, both mappings."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.domain import epcis
from warehouse.domain.epcis import Key, KeyKind, MappingRefused
from warehouse.domain.movements import Action, BizStep, Disposition, EventType
from warehouse.services.epcis import Aliases, validate

# --- identifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
        ("https://id.gs1.org/01/10614141073464/21/2017", None),
        ("https://example.com/x/01/10614141073464/21/2017?17=271231", None),
        (
            "urn:epc:class:lgtin:4012345.012345.998877",
            "https://id.gs1.org/01/04012345123456/10/998877",
        ),
        ("urn:epc:idpat:sgtin:4012345.098765.*", "https://id.gs1.org/01/04012345987652"),
        ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
        ("urn:epc:id:sgln:0614141.07346.1234", "https://id.gs1.org/414/0614141073467/254/1234"),
        ("urn:epc:id:sgln:0614141.07346.0", "https://id.gs1.org/414/0614141073467"),
        ("urn:epc:id:pgln:0614141.00001", "https://id.gs1.org/417/0614141000012"),
        ("urn:epc:id:sgtin:0614141.107346.A%2FB", "https://id.gs1.org/01/10614141073464/21/A%2FB"),
    ],
)
def test_urns_and_digital_links_of_one_key_have_one_canonical_spelling(
    uri: str, expected: str | None
) -> None:
    assert epcis.canonical(uri) == (expected or "https://id.gs1.org/01/10614141073464/21/2017")


def test_parsed_keys_carry_the_gs1_values() -> None:
    assert epcis.parse_key("urn:epc:id:sgtin:0614141.107346.2017") == Key(
        KeyKind.SGTIN, "10614141073464", serial="2017"
    )
    assert epcis.parse_key("https://id.gs1.org/01/10614141073464/10/L1/21/7") == Key(
        KeyKind.SGTIN, "10614141073464", serial="7", lot="L1"
    )
    assert epcis.parse_key("https://id.gs1.org/00/106141412345678908") == Key(
        KeyKind.SSCC, "106141412345678908"
    )
    assert epcis.parse_key("http://transaction.acme.com/po/12345678") is None
    assert epcis.parse_key("urn:udi-trace:org:01a2") is None


@pytest.mark.parametrize(
    "uri",
    [
        "urn:epc:id:sgtin:0614141.10734.2017",  # 12 digits
        "urn:epc:id:sgtin:06141A1.107346.2017",
        "urn:epc:id:sscc:0614141.123456789",
        "urn:epc:id:giai:0614141.12345",
        "urn:epc:idpat:sgtin:4012345.098765.12",
        "https://id.gs1.org/01/10614141073465/21/2017",  # check digit
        "https://id.gs1.org/00/106141412345678909",
    ],
)
def test_malformed_gs1_identifiers_are_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="Expected"):
        epcis.parse_key(uri)
    assert epcis.canonical(uri) == uri  # left as sent; the mapping then refuses it


def test_event_ids_map_to_uuids_deterministically() -> None:
    own = uuid.uuid4()
    assert epcis.event_uuid(f"urn:uuid:{own}") == own
    assert epcis.event_uuid(epcis.event_uri(own)) == own
    hashed = "ni:///sha-256;df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69"
    assert epcis.event_uuid(hashed) == epcis.event_uuid(hashed)
    assert epcis.event_uuid(hashed).version == 5
    assert epcis.event_uuid(hashed) != epcis.event_uuid(hashed + "?ver=CBV2.0")


@pytest.mark.parametrize(
    ("value", "kind", "short"),
    [
        ("receiving", "bizstep", "receiving"),
        ("urn:epcglobal:cbv:bizstep:receiving", "bizstep", "receiving"),
        ("https://ref.gs1.org/cbv/BizStep-receiving", "bizstep", "receiving"),
        ("urn:udi-trace:bizstep:returning", "bizstep", "returning"),
        ("https://ref.gs1.org/cbv/Disp-in_transit", "disp", "in_transit"),
        ("urn:epcglobal:cbv:btt:desadv", "btt", "desadv"),
        ("https://ref.gs1.org/cbv/SDT-owning_party", "sdt", "owning_party"),
        ("https://ref.gs1.org/cbv/ER-did_not_occur", "er", "did_not_occur"),
    ],
)
def test_vocabulary_reads_short_names_urns_and_web_uris(value: str, kind: str, short: str) -> None:
    assert epcis.vocabulary(value, kind) == short


def test_steps_cbv_lacks_are_written_as_our_urn() -> None:
    assert epcis.step_value(BizStep.SHIPPING) == "shipping"
    assert epcis.step_value(BizStep.RETURNING) == "urn:udi-trace:bizstep:returning"
    assert {s.value for s in BizStep} - epcis.CBV_STEPS == {"returning"}


@given(st.text(min_size=1, max_size=40))
def test_document_numbers_round_trip_through_their_uri(number: str) -> None:
    uri = epcis.document_uri(number)
    assert epcis.document_id(uri) == number
    assert ":" in uri


def test_aliases_match_any_spelling_and_name_records_as_configured() -> None:
    place = uuid.uuid4()
    aliases = Aliases.parse({"urn:epc:id:sgln:0614141.07346.1234": f"location:{place}"})
    dl = "https://id.gs1.org/414/0614141073467/254/1234"
    assert aliases.lookup(epcis.canonical(dl)) == ("location", place)
    assert aliases.namer().location(place) == "urn:epc:id:sgln:0614141.07346.1234"
    other = uuid.uuid4()
    assert aliases.namer().party(other) == f"urn:udi-trace:org:{other}"
    assert aliases.lookup(f"urn:udi-trace:warehouse:{other}") == ("warehouse", other)
    with pytest.raises(ValueError, match="EPCIS alias"):
        Aliases.parse({"urn:epc:id:pgln:0614141.00001": f"person:{other}"})


# --- capture ----------------------------------------------------------------------------------


def _event(**fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:0b7e1a33-4e5a-4c47-9b7c-2f3d9e0a1b2c",
        "eventTime": "2026-06-15T09:00:00.5+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "receiving",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
        **fields,
    }


def test_an_object_event_reads_into_our_vocabulary() -> None:
    event = epcis.parse_event(
        _event(
            eventTime="2026-06-15T01:00:00Z",
            disposition="in_progress",
            quantityList=[
                {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 3},
                {"epcClass": "https://id.gs1.org/01/04012345123456", "quantity": 2, "uom": "EA"},
            ],
            ilmd={"cbvmda:itemExpirationDate": "2028-01-31", "cbvmda:lotNumber": "998877"},
            readPoint={"id": "urn:epc:id:sgln:0614141.07346.1234"},
            bizTransactionList=[{"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "urn:x:1"}],
            sourceList=[{"type": "possessing_party", "source": "urn:epc:id:pgln:0614141.00001"}],
            destinationList=[
                {"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00001"}
            ],
        ),
        "/e",
    )
    assert event.event_type is EventType.OBJECT
    assert (event.biz_step, event.action, event.disposition) == (
        BizStep.RECEIVING,
        Action.OBSERVE,
        Disposition.IN_PROGRESS,
    )
    assert event.event_time == datetime(2026, 6, 15, 1, tzinfo=UTC)
    assert event.event_time.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
    unit, lot, plain = event.items
    assert (unit.di, unit.serial, unit.lot, unit.expiry) == (
        "10614141073464",
        "2017",
        "998877",
        date(2028, 1, 31),
    )
    assert (lot.di, lot.lot, lot.quantity) == ("04012345123456", "998877", 3)
    assert (plain.lot, plain.quantity) == ("998877", 2)  # ilmd names the lot of the class
    assert event.read_point is not None
    assert event.read_point.uri == "https://id.gs1.org/414/0614141073467/254/1234"
    assert event.read_point.pointer == "/e/readPoint/id"
    assert event.documents == (("po", "urn:x:1"),)
    assert event.source_party is not None
    assert event.owner is not None
    assert event.source_party.uri == event.owner.uri == "https://id.gs1.org/417/0614141000012"


@pytest.mark.parametrize(
    ("fields", "code", "pointer"),
    [
        ({"type": "TransformationEvent"}, "epcis.unsupported_event", "/e/type"),
        ({"bizStep": "retail_selling"}, "epcis.vocabulary", "/e/bizStep"),
        ({"disposition": "stolen"}, "epcis.vocabulary", "/e/disposition"),
        ({"persistentDisposition": {"set": ["recalled"]}}, "epcis.unsupported_field", None),
        ({"sensorElementList": []}, "epcis.unsupported_field", "/e/sensorElementList"),
        ({"epcList": ["urn:epc:class:lgtin:4012345.012345.1"]}, "epcis.identifier", None),
        ({"epcList": ["urn:epc:id:sgtin:0614141.10734.1"]}, "epcis.identifier", "/e/epcList/0"),
        ({"epcList": ["https://example.com/p/1"]}, "epcis.identifier", "/e/epcList/0"),
        (
            {
                "quantityList": [
                    {"epcClass": "urn:epc:class:lgtin:4012345.012345.1", "quantity": 1.5}
                ]
            },
            "epcis.quantity",
            "/e/quantityList/0/quantity",
        ),
        (
            {"quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.1"}]},
            "epcis.quantity",
            "/e/quantityList/0/quantity",
        ),
        (
            {"sourceList": [{"type": "location", "source": "urn:epc:id:sgln:0614141.07346.0"}]},
            "epcis.unsupported_field",
            "/e/sourceList/0",
        ),
        (
            {
                "destinationList": [
                    {"type": "possessing_party", "destination": "urn:a:1"},
                    {"type": "possessing_party", "destination": "urn:a:2"},
                ]
            },
            "epcis.unsupported_field",
            "/e/destinationList/1",
        ),
        ({"bizTransactionList": [{"bizTransaction": "urn:x:1"}]}, "epcis.vocabulary", None),
        ({"ilmd": {"cbvmda:itemExpirationDate": "soon"}}, "epcis.identifier", None),
    ],
)
def test_events_outside_our_model_are_refused_with_a_pointer(
    fields: dict[str, Any], code: str, pointer: str | None
) -> None:
    with pytest.raises(MappingRefused) as refused:
        epcis.parse_event(_event(**fields), "/e")
    assert refused.value.code == code
    assert refused.value.message.startswith("Expected")
    assert refused.value.pointer.startswith(pointer or "/e/")


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        # Valid RFC 3339 whose UTC (or local) equivalent a datetime cannot hold: these raised
        # OverflowError (a 500 for the whole document) before.
        ({"eventTime": "0001-01-01T00:00:00+14:00"}, "/e/eventTime"),
        (
            {"eventTime": "9999-12-31T23:59:59-14:00", "eventTimeZoneOffset": "+14:00"},
            "/e/eventTime",
        ),
        ({"eventTime": "0001-01-01T10:00:00Z", "eventTimeZoneOffset": "-14:00"}, "/e/eventTime"),
        ({"eventTime": "1969-12-31T23:59:59Z"}, "/e/eventTime"),
        ({"eventTime": "9999-01-01T00:00:00Z"}, "/e/eventTime"),
        ({"eventTime": "2026-06-30T23:59:60Z"}, "/e/eventTime"),  # a leap second
        (
            {"errorDeclaration": {"declarationTime": "0001-01-01T00:00:00+14:00"}},
            "/e/errorDeclaration/declarationTime",
        ),
    ],
)
def test_times_outside_the_years_we_record_are_refused_per_event(
    fields: dict[str, Any], pointer: str
) -> None:
    with pytest.raises(MappingRefused) as refused:
        epcis.parse_event(_event(**fields), "/e")
    assert (refused.value.code, refused.value.pointer) == ("epcis.time", pointer)
    assert refused.value.message.startswith("Expected a time")


def test_the_first_and_last_recorded_years_are_read_at_any_offset() -> None:
    for moment, offset in (("1970-01-01T00:00:00Z", "-14:00"), ("9998-12-31T23:59:59Z", "+14:00")):
        event = epcis.parse_event(_event(eventTime=moment, eventTimeZoneOffset=offset), "")
        assert event.event_time == datetime.fromisoformat(moment)


def test_vendor_extensions_are_ignored_and_record_time_is_the_repository_s() -> None:
    event = epcis.parse_event(
        _event(**{"example:myField": "x", "recordTime": "2030-01-01T00:00:00Z"}), ""
    )
    assert event.items[0].serial == "2017"


def test_an_error_declaration_becomes_a_declaration_of_the_declared_event() -> None:
    corrective = "urn:uuid:1b7e1a33-4e5a-4c47-9b7c-2f3d9e0a1b2c"
    event = epcis.parse_event(
        _event(
            readPoint={"id": "urn:a:1"},
            errorDeclaration={
                "declarationTime": "2026-06-16T09:00:00+08:00",
                "reason": "did_not_occur",
                "correctiveEventIDs": [corrective],
            },
        ),
        "",
    )
    assert event.declares_event_id == uuid.UUID("0b7e1a33-4e5a-4c47-9b7c-2f3d9e0a1b2c")
    assert event.event_id not in (event.declares_event_id, None)
    assert event.error_reason == "did_not_occur"
    assert event.items == ()
    assert event.read_point is None
    assert event.corrective_event_ids == (epcis.event_uuid(corrective),)
    assert event.event_time == datetime.fromisoformat("2026-06-16T09:00:00+08:00")


# --- export -----------------------------------------------------------------------------------

ORG, PLACE, HOUSE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
NAMES = Aliases.parse({}).namer()


def _row(**fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "event_type": "object",
        "action": "OBSERVE",
        "biz_step": "shipping",
        "disposition": "in_transit",
        "event_time": datetime(2026, 6, 15, 1, tzinfo=UTC),
        "event_time_offset": "+08:00",
        "recorded_at": datetime(2026, 6, 15, 1, 1),  # as SQLite hands it back
        "read_point_id": PLACE,
        "location_id": None,
        "warehouse_id": HOUSE,
        "acting_org_id": ORG,
        "owner_id": ORG,
        "possessor_id": ORG,
        "source_party_id": None,
        "destination_party_id": ORG,
        "destination_warehouse_id": None,
        "shipment_id": uuid.uuid4(),
        "parent_sscc": None,
        "documents": [{"type": "desadv", "id": "DA 1"}],
        "staff_id": "w7",
        "scanner_device_id": None,
        "patient_ref": None,
        "encounter_ref": None,
        "declared_event_id": None,
        "error_reason": None,
        "event_hash": "0" * 64,
        "items": [
            {"di": "10614141073464", "serial": "2017", "lot": "L1", "quantity": 1},
            {"di": "04012345123456", "lot": "998877", "quantity": 5, "expiry": date(2028, 1, 1)},
        ],
    }
    row.update(fields)
    return row


def _valid(event: dict[str, Any]) -> dict[str, Any]:
    document = epcis.document([event], datetime(2026, 6, 15, tzinfo=UTC), query=False)
    assert validate(document) == []
    return event


def test_an_exported_event_is_schema_valid_epcis_with_local_time_and_digital_links() -> None:
    event = _valid(epcis.export_event(_row(), NAMES))
    assert event["eventTime"] == "2026-06-15T09:00:00+08:00"
    assert event["recordTime"] == "2026-06-15T01:01:00+00:00"
    assert event["epcList"] == ["https://id.gs1.org/01/10614141073464/21/2017"]
    assert event["quantityList"] == [
        {"epcClass": "https://id.gs1.org/01/04012345123456/10/998877", "quantity": 5}
    ]
    assert event["readPoint"] == {"id": f"urn:udi-trace:location:{PLACE}"}
    assert event["bizTransactionList"] == [
        {"type": "desadv", "bizTransaction": "urn:udi-trace:bt:DA%201"}
    ]
    assert event["udit:warehouse"] == f"urn:udi-trace:warehouse:{HOUSE}"


def test_export_then_capture_gives_back_the_stored_content() -> None:
    row = _row()
    event = epcis.parse_event(epcis.export_event(row, NAMES), "")
    assert event.event_id == row["event_id"]
    assert event.event_time == row["event_time"]
    assert [(i.di, i.serial, i.lot, i.quantity, i.expiry) for i in event.items] == [
        ("10614141073464", "2017", "L1", 1, None),
        ("04012345123456", None, "998877", 5, date(2028, 1, 1)),
    ]
    assert event.documents == (("desadv", "DA 1"),)
    assert event.destination_party is not None
    assert event.destination_party.uri == f"urn:udi-trace:org:{ORG}"
    assert event.shipment_id == row["shipment_id"]
    assert event.staff_id == "w7"


def test_returning_and_aggregation_and_declarations_export_valid() -> None:
    _valid(epcis.export_event(_row(biz_step="returning", disposition="returned"), NAMES))
    packed = _valid(
        epcis.export_event(
            _row(
                event_type="aggregation",
                biz_step="packing",
                action="ADD",
                parent_sscc="106141412345678908",
                items=[{"di": "10614141073464", "serial": "1", "lot": "L1", "quantity": 1}],
            ),
            NAMES,
        )
    )
    assert packed["parentID"] == "https://id.gs1.org/00/106141412345678908"
    assert "ilmd" not in packed
    declaration = _row(
        biz_step="shipping", error_reason="did_not_occur", items=[], declared_event_id=1
    )
    corrective = [uuid.uuid4()]
    declared = _valid(
        epcis.export_event(_row(), NAMES, declaration=declaration, corrective=corrective)
    )
    assert declared["errorDeclaration"]["correctiveEventIDs"] == [f"urn:uuid:{corrective[0]}"]
    assert declared["errorDeclaration"]["reason"] == "did_not_occur"


_lots = st.text(alphabet="ABCXYZ0123456789-/ ", min_size=1, max_size=20)
_items = st.lists(
    st.one_of(
        st.builds(
            lambda serial, lot, expiry: {
                "di": "10614141073464",
                "serial": serial,
                "lot": lot,
                "quantity": 1,
                "expiry": expiry,
            },
            _lots,
            _lots,
            st.none() | st.dates(date(2020, 1, 1), date(2040, 1, 1)),
        ),
        st.builds(
            lambda lot, quantity: {"di": "04012345123456", "lot": lot, "quantity": quantity},
            _lots,
            st.integers(1, 10_000),
        ),
    ),
    min_size=1,
    max_size=6,
    # A serial names one unit whatever its lot (its Digital Link carries no lot): one per DI.
    unique_by=lambda i: (i["di"], i.get("serial") or f"lot {i['lot']}"),
)


@settings(max_examples=60, deadline=None)
@given(_items, st.sampled_from(["ADD", "OBSERVE", "DELETE"]))
def test_any_items_export_schema_valid_and_read_back_the_same(
    items: list[dict[str, Any]], action: str
) -> None:
    event = _valid(epcis.export_event(_row(items=items, action=action), NAMES))
    back = epcis.parse_event(event, "")
    key = lambda i: (i["di"], i.get("serial") or "", i["lot"])  # noqa: E731
    assert sorted(
        ((i.di, i.serial or "", i.lot), i.quantity, i.expiry) for i in back.items
    ) == sorted((key(i), i["quantity"], i.get("expiry")) for i in items)
