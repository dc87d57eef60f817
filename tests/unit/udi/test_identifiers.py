"""GTIN, SSCC and GLN value objects: normalisation, derived parts and error positions.

Every check digit below was computed by hand (weights 3,1,3… from the rightmost data digit),
not with the code under test.
"""

from __future__ import annotations

import pytest

from udi.errors import ParseError
from udi.identifiers import Gln, Gtin, GtinFormat, Sscc


@pytest.mark.parametrize(
    ("digits", "gtin14", "format_", "indicator", "prefix"),
    [
        ("96385074", "00000096385074", GtinFormat.GTIN_8, 0, "963"),  # EAN-8
        ("036000291452", "00036000291452", GtinFormat.GTIN_12, 0, "003"),  # UPC-A
        ("4012345678901", "04012345678901", GtinFormat.GTIN_13, 0, "401"),
        ("6901234567892", "06901234567892", GtinFormat.GTIN_13, 0, "690"),  # GS1 China
        ("10614141000415", "10614141000415", GtinFormat.GTIN_14, 1, "061"),
        ("04012345678901", "04012345678901", GtinFormat.GTIN_13, 0, "401"),  # padded GTIN-13
        ("00000096385074", "00000096385074", GtinFormat.GTIN_8, 0, "963"),  # padded GTIN-8
    ],
)
def test_gtin_normalises_to_gtin14(
    digits: str, gtin14: str, format_: GtinFormat, indicator: int, prefix: str
) -> None:
    gtin = Gtin.parse(digits)
    assert gtin.value == gtin14
    assert gtin.format is format_
    assert gtin.packaging_indicator == indicator
    assert gtin.gs1_prefix == prefix
    assert gtin.check_digit == int(digits[-1])


def test_gtin_as_shorter_format() -> None:
    gtin = Gtin.parse("036000291452")
    assert gtin.as_format(GtinFormat.GTIN_12) == "036000291452"
    assert gtin.as_format(GtinFormat.GTIN_13) == "0036000291452"
    with pytest.raises(ValueError, match="GTIN-8"):
        gtin.as_format(GtinFormat.GTIN_8)


@pytest.mark.parametrize(
    ("digits", "code", "position", "length", "message"),
    [
        ("4012345678902", "gs1.check_digit", 12, 1, "Expected check digit 1 for GTIN, got 2."),
        ("96385075", "gs1.check_digit", 7, 1, "Expected check digit 4 for GTIN, got 5."),
        ("40123X5678901", "gs1.non_digit", 5, 1, "Expected only digits for GTIN, got 'X'."),
        (
            "4012345678",
            "gs1.gtin_length",
            0,
            10,
            "Expected 8, 12, 13 or 14 digits for GTIN, got 10.",
        ),
        ("", "gs1.gtin_length", 0, 0, "Expected 8, 12, 13 or 14 digits for GTIN, got 0."),
    ],
)
def test_gtin_errors(digits: str, code: str, position: int, length: int, message: str) -> None:
    with pytest.raises(ParseError) as error:
        Gtin.parse(digits)
    issue = error.value.issues[0]
    assert (issue.code, issue.position, issue.length, issue.message) == (
        code,
        position,
        length,
        message,
    )


def test_gtin_error_position_is_shifted() -> None:
    with pytest.raises(ParseError) as error:
        Gtin.parse("4012345678902", position=3)
    assert error.value.issues[0].position == 15


def test_gtin_rejects_non_ascii_digits() -> None:
    with pytest.raises(ParseError) as error:
        Gtin.parse("401234567890١")  # ARABIC-INDIC DIGIT ONE is a digit to str.isdigit
    assert error.value.code == "gs1.non_digit"


def test_sscc() -> None:
    sscc = Sscc.parse("106141412345678908")
    assert (sscc.value, sscc.extension_digit, sscc.gs1_prefix) == ("106141412345678908", 1, "061")
    with pytest.raises(ParseError) as error:
        Sscc.parse("376130321109103421")  # vector 22: expected check digit 0
    issue = error.value.issues[0]
    assert (issue.code, issue.position, issue.message) == (
        "gs1.check_digit",
        17,
        "Expected check digit 0 for SSCC, got 1.",
    )
    with pytest.raises(ParseError) as error:
        Sscc.parse("37613032110910342")
    assert error.value.code == "gs1.value_too_short"


def test_gln() -> None:
    gln = Gln.parse("4000001000005")
    assert (gln.value, gln.gs1_prefix) == ("4000001000005", "400")
    with pytest.raises(ParseError) as error:
        Gln.parse("4000001000006")
    assert (error.value.code, error.value.issues[0].position) == ("gs1.check_digit", 12)
    with pytest.raises(ParseError) as error:
        Gln.parse("40000010000050")
    assert error.value.code == "gs1.value_too_long"


def test_identifiers_are_frozen() -> None:
    gtin = Gtin.parse("4012345678901")
    with pytest.raises(AttributeError):
        gtin.value = "x"  # type: ignore[misc]
