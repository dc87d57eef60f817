"""ISBT 128 for MPHO devices: the public vectors of udi-public-vectors.md §F and the structures."""

from __future__ import annotations

from datetime import date, time

import pytest

import udi
from udi.config import ParseConfig
from udi.errors import ParseError
from udi.isbt128 import parse_isbt128, read_isbt128_date
from udi.result import Agency, DatePrecision

CONFIG = ParseConfig(today=date(2026, 11, 27))

VECTOR_78 = "=/A9999XYZ100T0944=,000025=A99971312345600=>014032=}013032&,1000000000000XYZ123"
VECTOR_79 = "=/1AB370000007JC89=,000000=1234567890ABC00=>030329=}025226"


def test_vector_78_accessgudid_example_gives_every_udi_field() -> None:
    result = parse_isbt128(VECTOR_78, CONFIG)
    assert result.agency is Agency.ISBT128
    assert (result.di, result.serial, result.lot) == (
        "A9999XYZ100T0944",
        "000025",
        "000000000000XYZ123",
    )
    assert result.other["donation_id"] == "A99971312345600"
    assert result.other["processing_facility"] == "A9997"
    assert result.expiry_date is not None
    assert result.production_date is not None
    assert (result.expiry_date.value, result.expiry_date.original, result.expiry_date.format) == (
        date(2014, 2, 1),
        "014032",
        "YYYJJJ",
    )
    assert result.production_date.value == date(2013, 2, 1)
    assert result.warnings == ()


def test_vector_78_elements_cover_each_data_structure_with_its_identifier() -> None:
    result = parse_isbt128(VECTOR_78, CONFIG)
    spans = [(e.key, e.position, e.length) for e in result.elements]
    assert spans == [
        ("ppic", 0, 18),
        ("product_divisions", 18, 8),
        ("donation_id", 26, 16),
        ("expiry_date", 42, 8),
        ("production_date", 50, 8),
        ("lot", 58, 21),
    ]


def test_vector_79_is_read_but_its_non_numeric_din_sequence_is_flagged() -> None:
    result = parse_isbt128(VECTOR_79, CONFIG)
    assert (result.di, result.serial, result.other["donation_id"]) == (
        "1AB370000007JC89",
        "000000",
        "1234567890ABC00",
    )
    assert result.expiry_date is not None
    assert result.production_date is not None
    assert (result.expiry_date.value, result.production_date.value) == (
        date(2030, 11, 25),
        date(2025, 8, 14),
    )
    assert [(w.code, w.position, w.length) for w in result.warnings] == [
        ("isbt128.din_format", 27, 13)
    ]


def test_century_digit_counts_from_2000() -> None:
    assert read_isbt128_date("014032").value == date(2014, 2, 1)
    assert read_isbt128_date("099365").value == date(2099, 12, 31)
    assert read_isbt128_date("100001").value == date(2100, 1, 1)


def test_date_and_time_form_keeps_the_minutes() -> None:
    result = parse_isbt128("=/A9999XYZ100T0944&>0240601430", CONFIG)
    assert result.expiry_date is not None
    assert (result.expiry_date.value, result.expiry_date.time, result.expiry_date.precision) == (
        date(2024, 2, 29),
        time(14, 30),
        DatePrecision.MINUTE,
    )


@pytest.mark.parametrize(
    ("scan", "code", "position", "length", "message"),
    [
        (
            "=/A9999XYZ100T0944=%5100",
            "isbt128.unknown_data_identifier",
            18,
            2,
            "Expected an ISBT 128 data identifier used for MPHO UDIs"
            " (=/ =α => &> =} &} =, &,1 &,2 =+), got '=%'.",
        ),
        (
            "=/A9999XYZ100T0944&,9ABC",
            "isbt128.unknown_data_identifier",
            18,
            3,
            "Expected an ISBT 128 data identifier used for MPHO UDIs"
            " (=/ =α => &> =} &} =, &,1 &,2 =+), got '&,9'.",
        ),
        (
            "=/A9999XYZ100T09",
            "isbt128.truncated",
            2,
            14,
            "Expected 16 characters of processor product identification code after '=/', got 14.",
        ),
        (
            "=/A9999XYZ100T0944X",
            "isbt128.flag",
            18,
            1,
            "Expected '=' or '&' to start a data identifier, got 'X'.",
        ),
        (
            "=>014366",
            "isbt128.date",
            2,
            6,
            "Expected a day of the year 001-365 for 2014, got '366'.",
        ),
        (
            "=>01403X",
            "isbt128.invalid_character",
            7,
            1,
            "Expected digits in the expiration date, got 'X'.",
        ),
        (
            "=/a9999XYZ100T0944",
            "isbt128.invalid_character",
            2,
            1,
            "Expected upper-case letters or digits in the processor product identification code,"
            " got 'a'.",
        ),
        (
            "=,000025=,000026",
            "isbt128.duplicate",
            10,
            6,
            "Expected one product divisions (data structure 032), got a second one.",
        ),
    ],
)
def test_errors_have_codes_positions_and_messages(
    scan: str, code: str, position: int, length: int, message: str
) -> None:
    with pytest.raises(ParseError) as error:
        parse_isbt128(scan, CONFIG)
    issue = error.value.issues[0]
    assert (issue.code, issue.position, issue.length, issue.message) == (
        code,
        position,
        length,
        message,
    )


def test_din_flags_60_to_96_carry_the_mod_37_2_check() -> None:
    # ST-001 Appendix A worked example: DIN G1234 17 654321 -> check value 10 -> flags "70".
    assert parse_isbt128("=G12341765432170", CONFIG).other["din_flags"] == "70"
    with pytest.raises(ParseError) as error:
        parse_isbt128("=G12341765432171", CONFIG)
    issue = error.value.issues[0]
    assert (issue.code, issue.message, issue.position, issue.length) == (
        "isbt128.din_check_character",
        "Expected flag characters '70' (ISO/IEC 7064 mod 37-2 check of the DIN), got '71'.",
        14,
        2,
    )


def test_keyed_in_keyboard_check_character_is_verified() -> None:
    result = parse_isbt128("=G12341765432100A", CONFIG)  # K = 'A' in ST-001 Appendix A
    assert result.other["din_keyboard_check"] == "A"
    assert "isbt128.keyboard_check_character" in [w.code for w in result.warnings]
    with pytest.raises(ParseError) as error:
        parse_isbt128("=G12341765432100B", CONFIG)
    assert error.value.issues[0].message == (
        "Expected keyboard check character 'A' after the DIN, got 'B'."
    )


def test_compound_message_counts_the_structures_it_announces() -> None:
    body = "=/A9999XYZ100T0944=,000025=A99971312345600"
    result = parse_isbt128("=+03000" + body, CONFIG)
    assert (result.di, result.other["compound_message"]) == ("A9999XYZ100T0944", "03000")
    with pytest.raises(ParseError) as error:
        parse_isbt128("=+04000" + body, CONFIG)
    issue = error.value.issues[0]
    assert (issue.code, issue.message) == (
        "isbt128.compound_count",
        "Expected 4 data structures in the compound message, got 3.",
    )


def test_scan_without_a_device_identifier_is_read_with_a_warning() -> None:
    result = parse_isbt128("=A99971312345600", CONFIG)
    assert result.di is None
    assert [w.code for w in result.warnings] == ["isbt128.no_device_identifier"]


def test_independent_errors_are_collected_until_reading_must_stop() -> None:
    with pytest.raises(ParseError) as error:
        parse_isbt128("=>014366=}01300X=%", CONFIG)
    assert [(i.code, i.position) for i in error.value.issues] == [
        ("isbt128.date", 2),
        ("isbt128.invalid_character", 15),
        ("isbt128.unknown_data_identifier", 16),
    ]


def test_udi_parse_detects_isbt128_end_to_end() -> None:
    result = udi.parse(VECTOR_78, config=CONFIG)
    assert (result.ok, result.detected) == (True, "isbt128")
    assert result.udi is not None
    assert result.udi.to_json()["expiry_date"] == "2014-02-01"
    assert result.to_json()["other"]["donation_id"] == "A99971312345600"


def test_udi_parse_maps_isbt128_errors_to_scan_positions() -> None:
    result = udi.parse("]C0=/A9999XYZ100T0944=%5100", config=CONFIG)
    assert [(e.code, e.position, e.length, e.format) for e in result.errors] == [
        ("isbt128.unknown_data_identifier", 21, 2, "isbt128")
    ]
