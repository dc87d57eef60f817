"""Which captured EPCIS events are recorded as sent instead of applied (pure, no database).

:func:`warehouse.domain.epcis.not_applied` is conservative: only what our movement model
cannot represent is recorded; everything else goes to the mapping and the movement rules.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from warehouse.domain import epcis
from warehouse.domain.epcis import MappingRefused, NotApplied

UNIT = "urn:epc:id:sgtin:0614141.107346.2017"
LOT = "urn:epc:class:lgtin:4012345.012345.998877"


def event(**fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0",
        "eventTime": "2013-06-08T14:58:56.591Z",
        "eventTimeZoneOffset": "+02:00",
        "action": "OBSERVE",
        "bizStep": "receiving",
        "epcList": [UNIT],
        **fields,
    }


def reason(raw: dict[str, Any]) -> tuple[str, str] | None:
    found = epcis.not_applied(raw, "/e")
    return None if found is None else (found.code, found.pointer)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            event(type="TransformationEvent", inputEPCList=[UNIT]),
            ("epcis.not_applied.event_type", "/e/type"),
        ),
        (event(type="TransactionEvent"), ("epcis.not_applied.event_type", "/e/type")),
        (event(type="AssociationEvent"), ("epcis.not_applied.event_type", "/e/type")),
        (
            event(type="AggregationEvent", parentID="urn:epc:id:sscc:0614141.1234567890"),
            ("epcis.not_applied.aggregation", "/e/bizStep"),
        ),
        (
            {
                k: v
                for k, v in event(type="AggregationEvent", action="ADD").items()
                if k != "bizStep"
            },
            ("epcis.not_applied.aggregation", "/e/bizStep"),
        ),
        (event(bizStep="commissioning"), ("epcis.not_applied.biz_step", "/e/bizStep")),
        (
            event(bizStep="https://ref.gs1.org/cbv/BizStep-transporting"),
            ("epcis.not_applied.biz_step", "/e/bizStep"),
        ),
        (
            event(quantityList=[{"epcClass": LOT, "quantity": 200, "uom": "KGM"}]),
            ("epcis.not_applied.uom", "/e/quantityList/0/uom"),
        ),
        (
            event(
                epcList=[],
                quantityList=[
                    {"epcClass": LOT, "quantity": 2, "uom": "EA"},
                    {"epcClass": LOT, "quantity": 1.5, "uom": "LTR"},
                ],
            ),
            ("epcis.not_applied.uom", "/e/quantityList/1/uom"),
        ),
        (
            event(
                sourceList=[
                    {"type": "possessing_party", "source": "urn:epc:id:sgln:4012345.00001.0"},
                    {"type": "location", "source": "urn:epc:id:sgln:4012345.00225.0"},
                ]
            ),
            ("epcis.not_applied.source_location", "/e/sourceList/1"),
        ),
        (
            event(bizStep="shipping", disposition="in_transit"),
            ("epcis.not_applied.shipping_destination", "/e/destinationList"),
        ),
        (
            event(
                bizStep="shipping",
                destinationList=[
                    {"type": "owning_party", "destination": "urn:epc:id:sgln:0614141.00001.0"}
                ],
            ),
            ("epcis.not_applied.shipping_destination", "/e/destinationList"),
        ),
    ],
)
def test_what_our_movements_cannot_represent_is_recorded_with_its_reason(
    raw: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert reason(raw) == expected
    assert expected[0] in epcis.NOT_APPLIED_CODES


@pytest.mark.parametrize(
    "raw",
    [
        event(),  # a receiving of units: ours
        event(quantityList=[{"epcClass": LOT, "quantity": 3, "uom": "EA"}], epcList=[]),
        event(
            bizStep="shipping",
            destinationList=[
                {"type": "possessing_party", "destination": "urn:epc:id:sgln:0614141.00001.0"}
            ],
        ),
        # Packing and unpacking are ours: the movement rules check their action, even a wrong one.
        event(type="AggregationEvent", bizStep="packing", action="OBSERVE"),
        event(type="AggregationEvent", bizStep="unpacking", action="DELETE"),
        # Refusals stay refusals: not CBV, no bizStep, a fractional piece count, unknown fields.
        event(bizStep="urn:example:bizstep:dancing"),
        {k: v for k, v in event().items() if k != "bizStep"},
        event(quantityList=[{"epcClass": LOT, "quantity": 2.5}]),
        event(sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": 4}]}]),
        event(type="urn:example:CustomEvent"),
        # Steps our movements record, whatever happens to the goods: the rules decide.
        event(bizStep="destroying", disposition="destroyed"),
        event(bizStep="returning"),
    ],
)
def test_everything_else_goes_to_the_movement_rules(raw: dict[str, Any]) -> None:
    assert epcis.not_applied(raw, "/e") is None


def test_the_first_reason_in_order_is_the_one_given() -> None:
    # 9.6.2: kilograms and a source location; the quantity is checked first.
    raw = event(
        quantityList=[{"epcClass": LOT, "quantity": 200, "uom": "KGM"}],
        sourceList=[{"type": "location", "source": "urn:epc:id:sgln:4012345.00225.0"}],
    )
    assert reason(raw) == ("epcis.not_applied.uom", "/e/quantityList/0/uom")


def test_a_recorded_event_keeps_its_body_and_indexes_its_keys_and_time() -> None:
    raw = event(
        type="TransformationEvent",
        inputEPCList=[UNIT, "urn:example:not-a-gs1-key"],
        inputQuantityList=[{"epcClass": LOT, "quantity": 10, "uom": "KGM"}],
        outputEPCList=["https://id.gs1.org/00/106141412345678908"],
        bizStep="https://ref.gs1.org/cbv/BizStep-commissioning",
        disposition="in_progress",
        readPoint={"id": "urn:epc:id:sgln:0614141.00777.0"},
    )
    del raw["action"], raw["epcList"]
    why = NotApplied("epcis.not_applied.event_type", "m", "/e/type")
    recorded = epcis.read_recorded(raw, "/e", why)
    assert recorded.body is raw
    assert recorded.event_id == epcis.event_uuid(raw["eventID"])
    assert recorded.event_type == "TransformationEvent"
    assert recorded.event_time == datetime(2013, 6, 8, 14, 58, 56, 591000, tzinfo=UTC)
    assert recorded.event_time.utcoffset() is not None
    assert recorded.event_time.isoformat().endswith("+02:00")
    assert (recorded.biz_step, recorded.disposition) == ("commissioning", "in_progress")
    assert recorded.read_point is not None
    assert recorded.read_point.pointer == "/e/readPoint/id"
    assert [(k.kind, k.value, k.serial, k.lot) for k in recorded.keys] == [
        (epcis.KeyKind.SGTIN, "10614141073464", "2017", None),
        (epcis.KeyKind.SSCC, "106141412345678908", None, None),
        (epcis.KeyKind.LGTIN, "04012345123456", None, "998877"),
    ]
    assert recorded.pointer == "/e"


def test_the_content_hash_ignores_record_time_and_context_and_nothing_else() -> None:
    raw = event(type="TransactionEvent")
    assert epcis.content_hash(raw) == epcis.content_hash({**raw, "recordTime": "2026-01-01T00:00Z"})
    assert epcis.content_hash(raw) == epcis.content_hash({**raw, "@context": [{"ex": "urn:x:"}]})
    assert epcis.content_hash(raw) != epcis.content_hash({**raw, "bizStep": "shipping"})


def test_an_event_without_event_id_is_named_by_its_content() -> None:
    raw = {k: v for k, v in event(type="TransactionEvent").items() if k != "eventID"}
    why = NotApplied("epcis.not_applied.event_type", "m", "/e/type")
    first = epcis.read_recorded(raw, "/e", why)
    assert first.epcis_event_id.startswith("urn:uuid:")
    assert epcis.read_recorded(dict(raw), "/e", why).event_id == first.event_id


def test_a_recorded_error_declaration_is_its_own_record_naming_the_declared_event() -> None:
    raw = event(
        type="TransformationEvent",
        errorDeclaration={
            "declarationTime": "2013-06-09T10:00:00+02:00",
            "reason": "did_not_occur",
        },
    )
    why = NotApplied("epcis.not_applied.event_type", "m", "/e/type")
    recorded = epcis.read_recorded(raw, "/e", why)
    assert recorded.declares_event_id == epcis.event_uuid(raw["eventID"])
    assert recorded.event_id not in (recorded.declares_event_id, None)
    assert isinstance(recorded.event_id, uuid.UUID)
    assert recorded.event_time.isoformat() == "2013-06-09T10:00:00+02:00"


@pytest.mark.parametrize(
    ("fields", "code", "pointer"),
    [
        ({"eventTime": "0001-01-01T00:00:00+14:00"}, "epcis.time", "/e/eventTime"),
        (
            {"inputEPCList": ["https://id.gs1.org/01/00614141073468/21/1"]},
            "epcis.identifier",
            "/e/inputEPCList/0",
        ),
    ],
)
def test_a_recorded_event_still_needs_a_time_we_hold_and_sound_gs1_keys(
    fields: dict[str, Any], code: str, pointer: str
) -> None:
    raw = event(type="TransformationEvent", **fields)
    why = NotApplied("epcis.not_applied.event_type", "m", "/e/type")
    with pytest.raises(MappingRefused) as refused:
        epcis.read_recorded(raw, "/e", why)
    assert (refused.value.code, refused.value.pointer) == (code, pointer)
