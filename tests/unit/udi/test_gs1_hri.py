"""Bracketed GS1 HRI input: public vectors (udi-public-vectors.md §B and §H) and escapes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

import udi
from udi import gs1
from udi.config import ParseConfig
from udi.errors import ParseError
from udi.result import DatePrecision

CONFIG = ParseConfig(today=date(2026, 11, 27))


def parse(scan: str) -> udi.ParseResult:
    return udi.parse(scan, config=CONFIG)


def errors(scan: str) -> list[tuple[str, int, int]]:
    result = parse(scan)
    assert not result.ok, result
    assert all(issue.format == "gs1_hri" for issue in result.errors)
    return [(issue.code, issue.position, issue.length) for issue in result.errors]


VALID: list[tuple[str, str, dict[str, Any]]] = [
    (
        "33",
        "(01)12345678901231(10)12345",
        {
            "elements": [("01", "12345678901231", 0, 18), ("10", "12345", 18, 9)],
            "gtin": "12345678901231",
            "lot": "12345",
            "digital_link": "https://id.gs1.org/01/12345678901231/10/12345",
        },
    ),
    (
        "37-ok",
        "(00)123456789012345675",
        {"elements": [("00", "123456789012345675", 0, 22)], "sscc": "123456789012345675"},
    ),
    (
        "46-ok",
        "(21)ABC123(01)12345678901231",
        {
            "elements": [("21", "ABC123", 0, 10), ("01", "12345678901231", 10, 18)],
            "serial": "ABC123",
            # The canonical forms put the key first.
            "digital_link": "https://id.gs1.org/01/12345678901231/21/ABC123",
        },
    ),
    (
        "47-ok",
        "(02)12345678901231(37)123(00)123456789012345675",
        {
            "quantity": 123,
            "di": None,
            "other": {"content_gtin": "12345678901231"},
            "digital_link": "https://id.gs1.org/00/123456789012345675?02=12345678901231&37=123",
        },
    ),
    (
        "48-ok",
        "(400)ABC(400)ABC",
        {"elements": [("400", "ABC", 0, 8), ("400", "ABC", 8, 8)], "digital_link": None},
    ),
    # 84: AccessGUDID's captured response: di, serial, no lot, expiry 2016-01-28 (YYMMDD).
    (
        "84",
        "(01)00643169007222(17)160128(21)BLC200461H",
        {
            "di": "00643169007222",
            "serial": "BLC200461H",
            "lot": None,
            "expiry": ("2016-01-28", "160128", DatePrecision.DAY),
            "elements": [
                ("01", "00643169007222", 0, 18),
                ("17", "160128", 18, 10),
                ("21", "BLC200461H", 28, 14),
            ],
        },
    ),
]


@pytest.mark.parametrize(("vector", "scan", "fields"), VALID)
def test_valid_hri(vector: str, scan: str, fields: dict[str, Any]) -> None:
    result = parse(scan)
    assert result.ok, (vector, result.errors)
    assert result.detected == "gs1_hri"
    assert result.udi is not None
    for name, expected in fields.items():
        if name == "elements":
            got = [(e.key, e.value, e.position, e.length) for e in result.udi.elements]
            assert got == expected
        elif name == "expiry":
            expiry = result.udi.expiry_date
            assert expiry is not None
            assert (expiry.value.isoformat(), expiry.original, expiry.precision) == expected
            assert expiry.format == "YYMMDD"
        else:
            assert getattr(result.udi, name) == expected, name


INVALID: list[tuple[str, str, list[tuple[str, int, int]]]] = [
    # 34: SE accepts (10)(11) alone because its requisite check is about the encoder's
    # configuration; the Dictionary's req=01,02,03,8006,8026 applies to both, so our policy
    # (requisites always on, as SE's vREQUISITE_AIS default) rejects it.
    (
        "34",
        "(10)12345(11)991225",
        [("gs1.missing_required_ai", 0, 9), ("gs1.missing_required_ai", 9, 10)],
    ),
    # 35: (17) ends at "(90)", so it is one digit long; it must not collapse into "7990217".
    (
        "35",
        "(17)9(90)217",
        [("gs1.value_too_short", 0, 5), ("gs1.missing_required_ai", 0, 5)],
    ),
    (
        "36",
        "(235)ABCDEFGHIJKLMNOPQRSTUVWXYZ123",
        [("gs1.value_too_long", 0, 34), ("gs1.missing_required_ai", 0, 34)],
    ),
    ("37", "(00)123456789012345670", [("gs1.check_digit", 21, 1)]),
    # 38: the space is data (never stripped, unlike biip) and outside CSET 82.
    ("38", "(10) ", [("gs1.missing_required_ai", 0, 5), ("gs1.invalid_character", 4, 1)]),
    ("38b", "(01)12345678901231(10)AB CD", [("gs1.invalid_character", 24, 1)]),
    ("39", "(01)95012345678903(11)131313", [("gs1.illegal_month", 24, 2)]),
    ("40", "(8013)123456ABXX", [("gs1.check_pair", 14, 2)]),
    ("41", "(01)12345678901231(426)987", [("gs1.not_iso3166", 23, 3)]),
    ("41-alone", "(426)987", [("gs1.missing_required_ai", 0, 8), ("gs1.not_iso3166", 5, 3)]),
    (
        "42",
        "(8026)123456789012310302",
        [("gs1.missing_required_ai", 0, 24), ("gs1.piece_exceeds_total", 20, 4)],
    ),
    # 43: SE marks "(8001)1|X|34"; we mark the X too, and also report the winding
    # direction "3" (9th component digit), an independent error SE stops before.
    (
        "43",
        "(8001)1X345678901234",
        [
            ("gs1.missing_required_ai", 0, 20),
            ("gs1.non_digit", 7, 1),
            ("gs1.invalid_winding_direction", 18, 1),
        ],
    ),
    (
        "44",
        "(01)12345678901231(02)12345678901231",
        [("gs1.missing_required_ai", 18, 18), ("gs1.invalid_ai_pair", 18, 18)],
    ),
    (
        "45",
        "(21)ABC123(235)XYZ",
        [
            ("gs1.missing_required_ai", 0, 10),
            ("gs1.invalid_ai_pair", 10, 8),
            ("gs1.missing_required_ai", 10, 8),
        ],
    ),
    ("46", "(21)ABC123", [("gs1.missing_required_ai", 0, 10)]),
    ("47", "(02)12345678901231(37)123", [("gs1.missing_required_ai", 18, 7)]),
    ("48", "(400)ABC(400)XYZ", [("gs1.repeated_ai", 8, 8)]),
    # 85: AccessGUDID's own example; its GTIN check digit should be 7, so we reject it.
    ("85", "(01)00208851107345(17)150331", [("gs1.check_digit", 17, 1)]),
]


@pytest.mark.parametrize(("vector", "scan", "expected"), INVALID)
def test_invalid_hri(vector: str, scan: str, expected: list[tuple[str, int, int]]) -> None:
    assert errors(scan) == expected, vector


def test_vector_44_message() -> None:
    messages = [issue.message for issue in parse("(01)12345678901231(02)12345678901231").errors]
    assert "Expected AI (02) without AI (01), got both." in messages


def test_vector_85_message() -> None:
    message = parse("(01)00208851107345(17)150331").errors[0].message
    assert message == "Expected check digit 7 for GTIN in AI (01), got 5."


def test_escaped_parenthesis_is_data() -> None:
    result = parse("(01)12345678901231(10)A\\(21)B(21)X")
    assert result.ok, result.errors
    assert result.udi is not None
    assert (result.udi.lot, result.udi.serial) == ("A(21)B", "X")
    assert result.udi.hri == "(01)12345678901231(10)A\\(21)B(21)X"
    assert [(e.key, e.position, e.length) for e in result.udi.elements] == [
        ("01", 0, 18),
        ("10", 18, 11),
        ("21", 29, 5),
    ]


def test_unescaped_parenthesis_that_opens_no_ai_is_data() -> None:
    result = parse("(01)12345678901231(10)A(B)(21)X")
    assert result.ok
    assert result.udi is not None
    assert result.udi.lot == "A(B)"
    assert result.udi.hri == "(01)12345678901231(10)A\\(B)(21)X"


def test_error_position_after_escape_maps_to_the_text() -> None:
    # The space is the 4th value character but the 5th text character after "(10)".
    assert errors("(01)12345678901231(10)\\(A B") == [("gs1.invalid_character", 25, 1)]


def test_illegal_escape() -> None:
    assert ("gs1.illegal_escape", 23, 2) in errors("(01)12345678901231(10)A\\B")


@pytest.mark.parametrize(
    ("scan", "code", "position", "length"),
    [
        ("(01)12345678901231X", "gs1.value_too_long", 0, 19),
        ("(01)12345678901231(89)X", "gs1.value_too_long", 0, 23),  # (89) opens no known AI
        ("(0112345678901231", "gs1.unknown_ai", 0, 17),
        ("(01)12345678901231 (10)A", "gs1.value_too_long", 0, 19),
    ],
)
def test_hri_structure_errors(scan: str, code: str, position: int, length: int) -> None:
    assert (code, position, length) in errors(scan)


def test_hri_syntax_error_when_text_follows_nothing() -> None:
    with pytest.raises(ParseError) as error:
        gs1.parse_hri("01)x", CONFIG)
    assert (error.value.code, error.value.issues[0].position) == ("gs1.hri_syntax", 0)


def test_hri_and_element_string_agree() -> None:
    hri = parse("(01)04012345678901(17)281200(10)LOT-A1(21)SN0001")
    raw = parse("]d2010401234567890117281200" + "10LOT-A1\x1d21SN0001")
    assert hri.udi is not None
    assert raw.udi is not None
    assert hri.udi.hri == raw.udi.hri
    assert hri.udi.digital_link == raw.udi.digital_link
    assert hri.udi.expiry_date == raw.udi.expiry_date
    assert hri.udi.expiry_date is not None
    assert (hri.udi.expiry_date.value, hri.udi.expiry_date.precision) == (
        date(2028, 12, 31),
        DatePrecision.MONTH,
    )
