"""ISO/IEC 15434 envelopes: IFA PPN (format 06) and GS1 element strings (format 05)."""

from __future__ import annotations

from datetime import date

import pytest

import udi
from udi.config import ParseConfig
from udi.errors import ParseError
from udi.iso15434 import parse_iso15434, ppn_check_digits, read_mh10_date
from udi.result import Agency, DatePrecision

CONFIG = ParseConfig(today=date(2026, 11, 27))
GS, RS, EOT = "\x1d", "\x1e", "\x04"
HEAD_06 = f"[)>{RS}06{GS}"
IFA = f"{HEAD_06}9N110375286414{GS}1T12345ABCDE{GS}D270600{GS}S12345ABCDEF98765{RS}{EOT}"


@pytest.mark.parametrize(
    ("data", "check"),
    [("1103752864", "14"), ("1112345678", "42"), ("141446921", "80"), ("14HAHA921", "46")],
)
def test_ppn_check_digits_match_published_ppns(data: str, check: str) -> None:
    assert ppn_check_digits(data) == check


def test_ifa_message_gives_ppn_lot_serial_and_month_precision_expiry() -> None:
    result = parse_iso15434(IFA, CONFIG)
    assert result.agency is Agency.IFA
    assert (result.di, result.lot, result.serial) == (
        "110375286414",
        "12345ABCDE",
        "12345ABCDEF98765",
    )
    assert result.expiry_date is not None
    assert (result.expiry_date.value, result.expiry_date.precision) == (
        date(2027, 6, 30),
        DatePrecision.MONTH,
    )
    assert result.other == {"ppn": "110375286414", "iso15434_format": "06"}
    assert [(e.key, e.position, e.length) for e in result.elements] == [
        ("9N", 7, 14),
        ("1T", 22, 12),
        ("D", 35, 7),
        ("S", 43, 17),
    ]
    assert result.warnings == ()


def test_manufacture_date_quantity_and_four_digit_expiry() -> None:
    scan = f"{HEAD_06}9N110375286414{GS}16D20151106{GS}14D20270131{GS}Q20{RS}{EOT}"
    result = parse_iso15434(scan, CONFIG)
    assert result.production_date is not None
    assert result.expiry_date is not None
    assert (result.production_date.value, result.expiry_date.value, result.quantity) == (
        date(2015, 11, 6),
        date(2027, 1, 31),
        20,
    )


def test_gtin_alone_identifies_a_gs1_item() -> None:
    result = parse_iso15434(f"{HEAD_06}8P04012345678901{GS}1TLOT1{RS}{EOT}", CONFIG)
    assert (result.agency, result.di, result.gtin, result.lot) == (
        Agency.GS1,
        "04012345678901",
        "04012345678901",
        "LOT1",
    )


@pytest.mark.parametrize(
    ("scan", "code", "position", "length", "message"),
    [
        (
            f"{HEAD_06}9N110375286415{GS}1TA{RS}{EOT}",
            "iso15434.ppn_check_digits",
            19,
            2,
            "Expected PPN check digits '14', got '15'.",
        ),
        (
            f"{HEAD_06}9N110375286500{RS}{EOT}",
            "iso15434.pzn_check_digit",
            18,
            1,
            "Expected PZN check digit '4', got '5'.",
        ),
        (
            f"{HEAD_06}9N110375286414{GS}D271300{RS}{EOT}",
            "iso15434.date",
            23,
            6,
            "Expected a month 01-12, got '13' in '271300'.",
        ),
        (
            f"{HEAD_06}9N110375286414{GS}7Q10GR{RS}{EOT}",
            "iso15434.unknown_data_identifier",
            22,
            6,
            "Expected a data identifier 9N, 8P, 1T, S, D, 14D, 16D or Q, got '7Q10'.",
        ),
        (
            f"{HEAD_06}1TLOT1{RS}{EOT}",
            "iso15434.missing_identifier",
            7,
            6,
            "Expected a 9N (PPN) or 8P (GTIN) data identifier, got neither.",
        ),
        (
            f"{HEAD_06}9N110375286414{GS}1T123456789012345678901{RS}{EOT}",
            "iso15434.value_length",
            24,
            21,
            "Expected 1-20 characters after '1T', got 21.",
        ),
        (
            f"[)>{RS}07{GS}9N1{RS}{EOT}",
            "iso15434.format",
            4,
            2,
            "Expected format '05' (GS1) or '06' (ANSI MH10.8.2), got '07'.",
        ),
        ("[)>06", "iso15434.header", 0, 4, "Expected the header '[)>' + RS, got '[)>0'."),
        (
            f"{HEAD_06}9N110375286414{RS}{HEAD_06[4:]}1TA{RS}{EOT}",
            "iso15434.multiple_envelopes",
            22,
            8,
            "Expected one format envelope followed by EOT, got '06\\x1d1TA' after its RS.",
        ),
    ],
)
def test_errors_have_codes_positions_and_messages(
    scan: str, code: str, position: int, length: int, message: str
) -> None:
    with pytest.raises(ParseError) as error:
        parse_iso15434(scan, CONFIG)
    issue = error.value.issues[0]
    assert (issue.code, issue.position, issue.length, issue.message) == (
        code,
        position,
        length,
        message,
    )


def test_independent_errors_are_collected() -> None:
    scan = f"{HEAD_06}9N110375286415{GS}D271300{GS}XX{RS}{EOT}"
    with pytest.raises(ParseError) as error:
        parse_iso15434(scan, CONFIG)
    assert [i.code for i in error.value.issues] == [
        "iso15434.ppn_check_digits",
        "iso15434.date",
        "iso15434.unknown_data_identifier",
    ]


def test_missing_trailer_is_tolerated_with_a_warning() -> None:
    result = parse_iso15434(f"{HEAD_06}9N110375286414{GS}1TA", CONFIG)
    assert result.lot == "A"
    assert [(w.code, w.position) for w in result.warnings] == [("iso15434.missing_trailer", 25)]


def test_two_digit_mh10_years_are_21st_century_as_ifa_specifies() -> None:
    assert read_mh10_date("991231", "YYMMDD").value == date(2099, 12, 31)


def test_format_05_is_delegated_to_the_gs1_parser_with_shifted_positions() -> None:
    scan = f"[)>{RS}05{GS}010401234567890117281231{GS}10LOT-A1{RS}{EOT}"
    result = parse_iso15434(scan, CONFIG)
    assert (result.agency, result.gtin, result.lot) == (Agency.GS1, "04012345678901", "LOT-A1")
    assert result.other["iso15434_format"] == "05"
    gtin = next(e for e in result.elements if e.key == "01")
    assert (gtin.position, gtin.length) == (7, 16)


def test_format_05_errors_are_shifted_into_the_envelope() -> None:
    scan = f"[)>{RS}05{GS}0104012345678902{RS}{EOT}"
    with pytest.raises(ParseError) as error:
        parse_iso15434(scan, CONFIG)
    assert [(i.code, i.position, i.length) for i in error.value.issues] == [
        ("gs1.check_digit", 22, 1)
    ]


def test_udi_parse_reads_an_ifa_envelope_with_remapped_separators() -> None:
    scan = f"[)>{RS}06<GS>9N110375286414<GS>1T12345ABCDE{RS}{EOT}"
    result = udi.parse(scan, config=CONFIG)
    assert (result.ok, result.detected) == (True, "iso15434")
    assert result.udi is not None
    assert (result.udi.agency, result.udi.di) == (Agency.IFA, "110375286414")
    lot = next(e for e in result.udi.elements if e.key == "1T")
    assert scan[lot.position : lot.position + lot.length] == "1T12345ABCDE"


def test_udi_parse_reports_a_bad_ppn_at_its_scan_position() -> None:
    result = udi.parse(f"]d1[)>{RS}06{GS}9N110375286415{RS}{EOT}", config=CONFIG)
    assert [(e.code, e.position, e.format) for e in result.errors] == [
        ("iso15434.ppn_check_digits", 22, "iso15434")
    ]
