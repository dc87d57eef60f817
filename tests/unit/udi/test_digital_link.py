"""GS1 Digital Link URIs: public vectors (udi-public-vectors.md §C), structure and rendering."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

import udi
from udi.config import ParseConfig
from udi.digital_link import parse_digital_link, percent_encode, render_digital_link
from udi.errors import ParseError

CONFIG = ParseConfig(today=date(2026, 11, 27))
PERMISSIVE = ParseConfig(today=date(2026, 11, 27), permit_zero_suppressed_gtin_in_dl=True)


def parse(scan: str, config: ParseConfig = CONFIG) -> udi.ParseResult:
    return udi.parse(scan, config=config)


def errors(scan: str, config: ParseConfig = CONFIG) -> list[tuple[str, int, int]]:
    result = parse(scan, config)
    assert not result.ok, result
    return [(issue.code, issue.position, issue.length) for issue in result.errors]


VALID: list[tuple[str, str, ParseConfig, dict[str, Any]]] = [
    (
        "49",
        "https://a/01/12312312312333/22/TEST/10/ABC/21/XYZ",
        CONFIG,
        {
            "elements": [
                ("01", "12312312312333", 10, 17),
                ("22", "TEST", 28, 7),
                ("10", "ABC", 36, 6),
                ("21", "XYZ", 43, 6),
            ],
            "hri": "(01)12312312312333(22)TEST(10)ABC(21)XYZ",
            "other": {"cpv": "TEST"},
        },
    ),
    # 51: GTIN-13 in the path only with PermitZeroSuppressedGTINinDLuris (then padded).
    (
        "51",
        "https://a/01/2112345678900",
        PERMISSIVE,
        {"gtin": "02112345678900", "elements": [("01", "02112345678900", 10, 16)]},
    ),
    # biip-dl's example of the same option with a GTIN-12.
    (
        "51-biip",
        "https://example.com/foo/01/614141123452",
        PERMISSIVE,
        {"gtin": "00614141123452", "digital_link": "https://id.gs1.org/01/00614141123452"},
    ),
    # 54: percent-decoding in the path and in the query.
    (
        "54",
        "https://a/01/12312312312333/22/ABC%2d123?99=ABC&98=XYZ%2f987",
        CONFIG,
        {
            "elements": [
                ("01", "12312312312333", 10, 17),
                ("22", "ABC-123", 28, 12),
                ("99", "ABC", 41, 6),
                ("98", "XYZ/987", 48, 12),
            ],
            "hri": "(01)12312312312333(22)ABC-123(99)ABC(98)XYZ/987",
            "digital_link": "https://id.gs1.org/01/12312312312333/22/ABC-123?98=XYZ%2F987&99=ABC",
        },
    ),
    # 56: a DL URI in a plain-mode QR code (]Q1); biip never tries DL there.
    (
        "56",
        "]Q1https://example.com/01/12312312312333?99=TEST",
        CONFIG,
        {
            "elements": [("01", "12312312312333", 23, 17), ("99", "TEST", 41, 7)],
            "hri": "(01)12312312312333(99)TEST",
        },
    ),
    (
        "udi",
        "HTTPS://example.org/some/stem/01/04012345678901/10/LOT-A1/21/SN0001?17=281231"
        "&linkType=gs1:pip#top",
        CONFIG,
        {
            "gtin": "04012345678901",
            "lot": "LOT-A1",
            "serial": "SN0001",
            "digital_link": "https://id.gs1.org/01/04012345678901/10/LOT-A1/21/SN0001?17=281231",
        },
    ),
]


@pytest.mark.parametrize(("vector", "scan", "config", "fields"), VALID)
def test_valid_digital_links(
    vector: str, scan: str, config: ParseConfig, fields: dict[str, Any]
) -> None:
    result = parse(scan, config)
    assert result.ok, (vector, result.errors)
    assert result.detected == "gs1_digital_link"
    assert result.udi is not None
    for name, expected in fields.items():
        if name == "elements":
            got = [(e.key, e.value, e.position, e.length) for e in result.udi.elements]
            assert got == expected
        else:
            assert getattr(result.udi, name) == expected, name


INVALID: list[tuple[str, str, list[tuple[str, int, int]]]] = [
    ("50", "HtTp://a/b/00/006141411234567890", [("gs1_dl.scheme", 0, 7)]),
    # 51: refused by default, as SE does (biip zero-pads silently).
    ("51", "https://a/01/2112345678900", [("gs1_dl.zero_suppressed_gtin", 13, 13)]),
    ("52", "https://a/stem/00/006141411234567890/", [("gs1_dl.trailing_slash", 36, 1)]),
    # 53: biip ignores "999"; a numeric-only parameter that is not an AI is an error (SE).
    (
        "53",
        "https://a/01/12312312312333?99=ABC&999=faux",
        [("gs1_dl.unknown_numeric_parameter", 35, 8)],
    ),
    # 55: convenience alphas (/gtin/) are off, so there is no primary key.
    ("55", "https://a/gtin/12312312312333", [("gs1_dl.no_primary_key", 10, 0)]),
    # 57: 22 after 10 breaks the 22,10,21 order (the GTIN-12 is also refused, see 51).
    (
        "57",
        "https://id.gs1.org/01/614141123452/10/ABC123/22/123456789",
        [("gs1_dl.zero_suppressed_gtin", 22, 12), ("gs1_dl.qualifier_order", 35, 12)],
    ),
    (
        "58",
        "https://id.gs1.org/00/106141412345678908/10/ABC123",
        [("gs1_dl.unexpected_qualifier", 41, 2)],
    ),
]


@pytest.mark.parametrize(("vector", "scan", "expected"), INVALID)
def test_invalid_digital_links(
    vector: str, scan: str, expected: list[tuple[str, int, int]]
) -> None:
    assert errors(scan) == expected, vector


def test_vector_57_with_a_gtin14_reports_only_the_order() -> None:
    scan = "https://id.gs1.org/01/00614141123452/10/ABC123/22/123456789"
    assert errors(scan) == [("gs1_dl.qualifier_order", 37, 12)]
    message = parse(scan).errors[0].message
    assert message == "Expected qualifiers of (01) in the order 22/10/21 or 235, got 10/22."


def test_vector_58_message() -> None:
    message = parse("https://id.gs1.org/00/106141412345678908/10/ABC123").errors[0].message
    assert message == "Expected no qualifier after primary key (00), got '10'."


@pytest.mark.parametrize(
    ("scan", "expected"),
    [
        # Alternative sequences are not mixed (biip wrongly allows 21 then 235).
        (
            "https://id.gs1.org/01/00614141123452/21/X/235/Y",
            [("gs1_dl.qualifier_order", 37, 8)],
        ),
        (
            "https://id.gs1.org/01/00614141123452?10=X",
            [("gs1_dl.ai_belongs_in_path", 37, 4)],
        ),
        (
            "https://id.gs1.org/01/00614141123452?17=281231&17=281231",
            [("gs1_dl.duplicate_ai", 47, 9)],
        ),
        (
            "https://id.gs1.org/01/00614141123452?254=X",  # 254 is no DL attribute
            [("gs1_dl.not_dl_attribute", 37, 5)],
        ),
        ("https://id.gs1.org/01/00614141123452/10/A%zzB", [("gs1_dl.bad_percent_encoding", 41, 3)]),
        ("https://id.gs1.org/01/00614141123452/10/A B", [("gs1_dl.illegal_character", 41, 1)]),
        ("https:///01/00614141123452", [("gs1_dl.no_domain", 8, 1)]),
        ("https://id.gs1.org", [("gs1_dl.no_path", 18, 0)]),
        ("https://a//01/00614141123452", [("gs1_dl.empty_segment", 9, 1)]),
        # AI-level problems keep their gs1.* codes, positioned in the URI.
        ("https://id.gs1.org/01/00614141123453", [("gs1.check_digit", 35, 1)]),
        ("https://id.gs1.org/01/00614141123452?17=281331", [("gs1.illegal_month", 42, 2)]),
        # "+" is a space in the query (then outside CSET 82) but literal in the path.
        ("https://id.gs1.org/01/00614141123452?99=A+B", [("gs1.invalid_character", 41, 1)]),
    ],
)
def test_digital_link_errors(scan: str, expected: list[tuple[str, int, int]]) -> None:
    assert errors(scan) == expected


def test_plus_is_literal_in_the_path() -> None:
    result = parse("https://id.gs1.org/01/00614141123452/10/A+B")
    assert result.ok
    assert result.udi is not None
    assert result.udi.lot == "A+B"
    assert result.udi.digital_link == "https://id.gs1.org/01/00614141123452/10/A%2BB"


def test_rightmost_key_wins_over_a_stem_that_looks_like_one() -> None:
    result = parse("https://example.com/00/stem/01/04012345678901")
    assert result.ok
    assert result.udi is not None
    assert [e.key for e in result.udi.elements] == ["01"]


def test_non_numeric_parameters_are_ignored() -> None:
    result = parse("https://id.gs1.org/01/04012345678901?linkType=all&context=x&17=281231")
    assert result.ok
    assert result.udi is not None
    assert [e.key for e in result.udi.elements] == ["01", "17"]


def test_requisites_apply_to_digital_links() -> None:
    # (8020) with (415) as primary key; (8020) alone would miss its requisite.
    assert parse("https://id.gs1.org/415/4000001000005/8020/REF1").ok


def test_scheme_error_raised_directly() -> None:
    with pytest.raises(ParseError) as error:
        parse_digital_link("ftp://a/01/04012345678901", CONFIG)
    assert error.value.code == "gs1_dl.scheme"


def test_render_digital_link() -> None:
    pairs = [("21", "S/1"), ("01", "04012345678901"), ("17", "281231"), ("240", "REF 1")]
    assert render_digital_link(pairs) == (
        "https://id.gs1.org/01/04012345678901/21/S%2F1?17=281231&240=REF%201"
    )
    assert render_digital_link(pairs, domain="https://example.com") == (
        "https://example.com/01/04012345678901/21/S%2F1?17=281231&240=REF%201"
    )
    # (235) and (22) belong to different qualifier sequences: the one with more AIs wins and
    # the other cannot be expressed, so there is no DL.
    assert render_digital_link([("01", "04012345678901"), ("235", "X"), ("22", "Y")]) is None
    assert render_digital_link([("10", "ABC")]) is None
    # 254 is no DL attribute and no qualifier of (01).
    assert render_digital_link([("01", "04012345678901"), ("254", "X")]) is None


def test_percent_encode() -> None:
    assert percent_encode("ABC-123._~") == "ABC-123._~"
    assert percent_encode("!\"%&'()*+,/:;<=>?") == (
        "%21%22%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F"
    )
