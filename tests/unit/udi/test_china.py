"""China MA (IDcode) and AHM codes: the public vectors of udi-public-vectors.md §G and more."""

from __future__ import annotations

from datetime import date

import pytest

import udi
from udi.china import parse_ahm, parse_ma
from udi.config import ParseConfig
from udi.errors import ParseError
from udi.result import Agency, DatePrecision

CONFIG = ParseConfig(today=date(2026, 11, 27))

VECTOR_80 = "MA.156.M0.100761.21234561.Sx00008.M220117.L20220117.D20220118.E220130.V220117.C3"
VECTOR_81 = "MA.156.M0.100761.21234561"
VECTOR_83 = "MA.156.M0.100350.01004YA10017.SLMSAGAAAC.M210628.LAY21062803.E220628.V220627.C3"


def test_vector_80_gives_every_production_identifier() -> None:
    result = parse_ma(VECTOR_80, CONFIG)
    assert result.agency is Agency.MA
    assert (result.di, result.serial, result.lot) == (VECTOR_81, "x00008", "20220117")
    assert result.production_date is not None
    assert result.expiry_date is not None
    assert (result.production_date.value, result.expiry_date.value) == (
        date(2022, 1, 17),
        date(2022, 1, 30),
    )
    assert (result.expiry_date.original, result.expiry_date.format) == ("220130", "YYMMDD")
    assert {
        "sterilisation_lot": "20220118",
        "valid_until": "2022-01-17",
        "valid_until_original": "220117",
        "check_character": "3",
        "registrant": "100761",
        "product_code": "21234561",
        "packaging_level": "2",
        "item_code": "123456",
        "product_check": "1",
    }.items() <= result.other.items()
    assert [(w.code, w.position, w.length) for w in result.warnings] == [
        ("ma.check_unverified", 78, 2)
    ]


def test_vector_81_is_a_di_without_production_identifiers() -> None:
    result = parse_ma(VECTOR_81, CONFIG)
    assert result.di == VECTOR_81
    assert (result.lot, result.serial, result.expiry_date, result.production_date) == (
        None,
        None,
        None,
        None,
    )
    assert result.warnings == ()


def test_vector_82_is_not_an_ma_code() -> None:
    with pytest.raises(ParseError) as error:
        parse_ma("12345", CONFIG)
    issue = error.value.issues[0]
    assert (issue.code, issue.position, issue.length) == ("ma.structure", 0, 5)


def test_vector_83_product_code_is_not_assumed_to_be_eight_digits() -> None:
    result = parse_ma(VECTOR_83, CONFIG)
    assert result.di == "MA.156.M0.100350.01004YA10017"
    assert result.other["product_code"] == "01004YA10017"
    assert "item_code" not in result.other
    assert (result.serial, result.lot) == ("LMSAGAAAC", "AY21062803")
    assert result.expiry_date is not None
    assert result.expiry_date.value == date(2022, 6, 28)
    assert result.other["valid_until"] == "2022-06-27"


def test_elements_carry_positions_in_the_code() -> None:
    result = parse_ma(VECTOR_80, CONFIG)
    assert [(e.key, e.position, e.length) for e in result.elements] == [
        ("country", 3, 3),
        ("industry", 7, 2),
        ("registrant", 10, 6),
        ("product_code", 17, 8),
        ("S", 26, 7),
        ("M", 34, 7),
        ("L", 42, 9),
        ("D", 52, 9),
        ("E", 62, 7),
        ("V", 70, 7),
        ("C", 78, 2),
    ]


def test_valid_until_is_the_expiry_only_when_there_is_no_e_unit() -> None:
    result = parse_ma(VECTOR_81 + ".V20240131", CONFIG)
    assert result.expiry_date is not None
    assert (result.expiry_date.value, result.expiry_date.format) == (date(2024, 1, 31), "YYYYMMDD")
    assert [(w.code, w.position) for w in result.warnings] == [("ma.expiry_from_valid_until", 26)]


def test_older_p_unit_is_the_production_date() -> None:
    result = parse_ma(VECTOR_81 + ".P20210301.Y12345", CONFIG)
    assert result.production_date is not None
    assert result.production_date.value == date(2021, 3, 1)
    assert result.other["insurance_code"] == "12345"


def test_url_wrapper_keeps_positions_relative_to_the_whole_text() -> None:
    url = "https://udi.example.cn/scan?code=" + VECTOR_80 + "&from=qr"
    result = parse_ma(url, CONFIG)
    assert (result.di, result.lot, result.hri) == (VECTOR_81, "20220117", VECTOR_80)
    offset = url.index("MA.")
    assert [(e.key, e.position) for e in result.elements][:2] == [
        ("country", offset + 3),
        ("industry", offset + 7),
    ]


def test_url_path_form_is_found_too() -> None:
    assert parse_ma("https://x.cn/id/" + VECTOR_81 + "/", CONFIG).di == VECTOR_81


def test_xml_form_is_read_with_positions_of_each_value() -> None:
    xml = (
        '<UDI IAC="MA"><DI>MA.156.M0.100761.21234561</DI><SN>x00008</SN><MFG>20220117</MFG>'
        "<LOT>20220117</LOT><EXP>20220130</EXP><VAL>2022-01-29</VAL></UDI>"
    )
    result = parse_ma(xml, CONFIG)
    assert (result.di, result.serial, result.lot) == (VECTOR_81, "x00008", "20220117")
    assert result.expiry_date is not None
    assert result.expiry_date.value == date(2022, 1, 30)
    assert result.other["valid_until"] == "2022-01-29"
    serial = next(e for e in result.elements if e.key == "S")
    assert xml[serial.position : serial.position + serial.length] == "x00008"


@pytest.mark.parametrize(
    "xml",
    [
        '<!DOCTYPE UDI [<!ENTITY x "MA.156">]><UDI IAC="MA"><DI>&x;</DI></UDI>',
        '<?xml version="1.0"?><!doctype UDI SYSTEM "file:///etc/passwd"><UDI IAC="MA"/>',
    ],
)
def test_xml_with_dtd_or_entities_is_refused(xml: str) -> None:
    with pytest.raises(ParseError) as error:
        parse_ma(xml, CONFIG)
    assert error.value.code == "ma.xml_forbidden"


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        ('<UDI IAC="MA"><DI>MA.156', "ma.xml"),
        ('<UDI IAC="GS1"><DI>MA.156.M0.100761.2</DI></UDI>', "ma.structure"),
        ('<UDI IAC="MA"><DI/><SN/><MFG/><LOT/><EXP/><VAL/></UDI>', "ma.structure"),
    ],
)
def test_malformed_or_empty_xml_is_rejected(xml: str, code: str) -> None:
    with pytest.raises(ParseError) as error:
        parse_ma(xml, CONFIG)
    assert error.value.code == code


@pytest.mark.parametrize(
    ("code", "expected", "position", "message"),
    [
        ("MA.840.M0.100761.2", "ma.country", 3, "Expected country code 156 (China), got '840'."),
        ("MA.15.M0.100761.2", "ma.country", 3, "Expected a 3-digit country code (156), got '15'."),
        (
            "MA.156.M0.10076.2",
            "ma.registrant",
            10,
            "Expected a 6-digit registrant code, got '10076'.",
        ),
        (
            "MA.156.M0.100761.2-1",
            "ma.product_code",
            17,
            "Expected a product code of letters and digits, got '2-1'.",
        ),
        ("MA.156.M0", "ma.structure", 0, None),
        (
            "MA.156.M0.100761.2.M221301",
            "ma.date",
            20,
            "Expected a valid YYMMDD date, got '221301'.",
        ),
        (
            "MA.156.M0.100761.2.E2201",
            "ma.date",
            20,
            "Expected a date of 6 (YYMMDD) or 8 (YYYYMMDD) digits, got '2201'.",
        ),
        (
            "MA.156.M0.100761.2.Q1",
            "ma.unknown_identifier",
            19,
            "Expected a production identifier unit (L, S, M, P, D, E, V, Y or C), got 'Q1'.",
        ),
        (
            "MA.156.M0.100761.2.L",
            "ma.empty_value",
            20,
            "Expected a value after unit 'L', got nothing.",
        ),
        ("MA.156.M0.100761.2.L1.L2", "ma.duplicate", 22, None),
        ("MA.156.M0.100761.2.C3.L1", "ma.check_position", 22, None),
        (
            "MA.156.M0.100761.2.L1#",
            "ma.invalid_character",
            21,
            "Expected letters, digits, '-' or '_' in unit 'L', got '#'.",
        ),
    ],
)
def test_ma_errors_have_codes_positions_and_messages(
    code: str, expected: str, position: int, message: str | None
) -> None:
    with pytest.raises(ParseError) as error:
        parse_ma(code, CONFIG)
    issue = error.value.issues[0]
    assert (issue.code, issue.position, issue.format) == (expected, position, "ma")
    if message is not None:
        assert issue.message == message


def test_other_industry_is_accepted_with_a_warning() -> None:
    result = parse_ma("MA.156.F1.100761.2", CONFIG)
    assert [w.code for w in result.warnings] == ["ma.industry"]


def test_independent_ma_errors_are_collected() -> None:
    with pytest.raises(ParseError) as error:
        parse_ma("MA.157.M0.10076.2.M221301.X1", CONFIG)
    assert [i.code for i in error.value.issues] == [
        "ma.country",
        "ma.registrant",
        "ma.date",
        "ma.unknown_identifier",
    ]


def test_ahm_segments_are_read_and_always_flagged_low_confidence() -> None:
    scan = "MF1234567890123BA2201SN0001MD220101BD231231ED240101PL1"
    result = parse_ahm(scan, CONFIG)
    assert result.agency is Agency.AHM
    assert (result.di, result.lot, result.serial) == ("1234567890123", "2201", "0001")
    assert result.production_date is not None
    assert result.expiry_date is not None
    assert (result.production_date.value, result.expiry_date.value) == (
        date(2022, 1, 1),
        date(2024, 1, 1),
    )
    assert result.expiry_date.precision is DatePrecision.DAY
    assert result.other == {"raw": scan, "packaging_level": "1", "best_before": "2023-12-31"}
    assert [w.code for w in result.warnings] == ["ahm.low_confidence"]


def test_ahm_with_a_delimiter_is_split_on_it() -> None:
    result = parse_ahm("MF690123|BNAB12|SN77|ED270131", CONFIG)
    assert (result.di, result.lot, result.serial) == ("690123", "AB12", "77")
    assert [(e.key, e.position) for e in result.elements] == [
        ("MF", 0),
        ("BN", 9),
        ("SN", 16),
        ("ED", 21),
    ]


@pytest.mark.parametrize(
    ("scan", "code", "position"),
    [
        ("XX123", "ahm.structure", 0),
        ("MF12345678901234", "ahm.di_length", 2),
        ("MF123ED241301", "ahm.date", 7),
        ("MF123|ED2401", "ahm.date", 8),
        ("MF123|PLX", "ahm.packaging", 8),
        ("MF123|ZZ1", "ahm.unknown_segment", 6),
        ("MF123|SN1|SN2", "ahm.duplicate", 10),
        ("MF", "ahm.structure", 2),
    ],
)
def test_ahm_errors_have_codes_and_positions(scan: str, code: str, position: int) -> None:
    with pytest.raises(ParseError) as error:
        parse_ahm(scan, CONFIG)
    issue = error.value.issues[0]
    assert (issue.code, issue.position, issue.format) == (code, position, "ahm")


def test_ahm_can_be_switched_off() -> None:
    with pytest.raises(ParseError) as error:
        parse_ahm("MF123", ParseConfig(enable_ahm=False))
    assert error.value.code == "ahm.disabled"


@pytest.mark.parametrize(("scan", "lot"), [(VECTOR_80, "20220117"), (VECTOR_83, "AY21062803")])
def test_udi_parse_detects_ma_end_to_end(scan: str, lot: str) -> None:
    result = udi.parse(scan, config=CONFIG)
    assert (result.ok, result.detected, result.udi.lot if result.udi else None) == (
        True,
        "ma",
        lot,
    )
    assert "ma.check_unverified" in [w.code for w in result.warnings]


def test_udi_parse_reads_an_ma_url() -> None:
    result = udi.parse("]Q1https://udi.example.cn/?code=" + VECTOR_81, config=CONFIG)
    assert (result.ok, result.detected) == (True, "ma")
    assert result.udi is not None
    assert result.udi.elements[0].position == len("]Q1https://udi.example.cn/?code=") + 3


def test_udi_parse_detects_ahm_end_to_end() -> None:
    result = udi.parse("MF1234567890123BA2201", config=CONFIG)
    assert (result.ok, result.detected) == (True, "ahm")
    assert [w.code for w in result.warnings] == ["ahm.low_confidence"]
