"""HIBC LIC: every public vector of udi-public-vectors.md §E, plus the structures around them."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

import udi
from udi.checksums import hibc_mod43
from udi.config import ParseConfig
from udi.errors import ParseError
from udi.hibc import (
    HibcPrimary,
    HibcSecondary,
    hibc_basic_udi_di_check,
    hibc_link_matches,
    parse_hibc,
    read_hibc_date,
)
from udi.result import Agency, DatePrecision

CONFIG = ParseConfig(today=date(2026, 11, 27))


def with_check(data: str) -> str:
    """Append the mod-43 check character to ``data``."""
    return data + hibc_mod43(data)


def codes(error: pytest.ExceptionInfo[ParseError]) -> list[str]:
    return [issue.code for issue in error.value.issues]


# (vector, scan, expected Udi fields; "expiry"/"production" are (iso date, format, precision))
VALID_VECTORS: list[tuple[int, str, dict[str, Any]]] = [
    (
        61,
        "+A99912345/$$52001510X33",
        {
            "di": "A99912345",
            "other": {"lic": "A999", "pcn": "1234", "unit_of_measure": "5", "check_character": "3"},
            "lot": "10X3",
            "expiry": ("2020-01-15", "YYJJJ", DatePrecision.DAY),
        },
    ),
    (
        63,
        "+A99912345/$$52001510X3/16D20111212/S77DEFG457",
        {
            "di": "A99912345",
            "lot": "10X3",
            "serial": "77DEFG45",
            "expiry": ("2020-01-15", "YYJJJ", DatePrecision.DAY),
            "production": ("2011-12-12", "YYYYMMDD", DatePrecision.DAY),
            "other": {"check_character": "7"},
        },
    ),
    (
        64,
        "+A99912345/$10X3/16D20111231/14D202001313",
        {
            "di": "A99912345",
            "lot": "10X3",
            "expiry": ("2020-01-31", "YYYYMMDD", DatePrecision.DAY),
            "production": ("2011-12-31", "YYYYMMDD", DatePrecision.DAY),
            "other": {"check_character": "3"},
        },
    ),
    (
        65,
        "+A99912349/$10X3/16D20111231/14D20200131/Q500Z",
        {
            "di": "A99912349",
            "other": {"unit_of_measure": "9", "check_character": "Z"},
            "lot": "10X3",
            "quantity": 500,
            "expiry": ("2020-01-31", "YYYYMMDD", DatePrecision.DAY),
            "production": ("2011-12-31", "YYYYMMDD", DatePrecision.DAY),
        },
    ),
    (
        66,
        "+J123AQ3451/$$3231231BC34567/S4012R",
        {
            "di": "J123AQ3451",
            "other": {
                "lic": "J123",
                "pcn": "AQ345",
                "unit_of_measure": "1",
                "check_character": "R",
            },
            "lot": "BC34567",
            "serial": "4012",
            "expiry": ("2023-12-31", "YYMMDD", DatePrecision.DAY),
        },
    ),
    (
        67,
        "+J014652230580/$$3220909K010025/16D20200311Z",
        {
            "di": "J014652230580",
            "other": {"lic": "J014", "pcn": "65223058", "unit_of_measure": "0"},
            "lot": "K010025",
            "expiry": ("2022-09-09", "YYMMDD", DatePrecision.DAY),
            "production": ("2020-03-11", "YYYYMMDD", DatePrecision.DAY),
        },
    ),
    (
        69,
        "+$$0624J139276%5",
        {
            "di": None,
            "other": {"structure": "secondary", "link_character": "%", "check_character": "5"},
            "lot": "J139276",
            "expiry": ("2024-06-30", "MMYY", DatePrecision.MONTH),
        },
    ),
    (
        70,
        "+X999123ABC0/$$4190515211234AB/S5678EDFG/16D20151001N",
        {
            "di": "X999123ABC0",
            "other": {"lic": "X999", "pcn": "123ABC", "unit_of_measure": "0"},
            "lot": "1234AB",
            "serial": "5678EDFG",
            "expiry": ("2019-05-15", "YYMMDDHH", DatePrecision.HOUR),
            "production": ("2015-10-01", "YYYYMMDD", DatePrecision.DAY),
        },
    ),
    (
        71,
        "+X999123ABC0/$$5191351234AB/S5678EDFG/16D20151001J",
        {
            "di": "X999123ABC0",
            "lot": "1234AB",
            "serial": "5678EDFG",
            "expiry": ("2019-05-15", "YYJJJ", DatePrecision.DAY),
            "production": ("2015-10-01", "YYYYMMDD", DatePrecision.DAY),
        },
    ),
    (
        72,
        "+X999123ABC0/$1234AB/S5678EDFG/16D20151001/14D20190515.",
        {
            "di": "X999123ABC0",
            "lot": "1234AB",
            "serial": "5678EDFG",
            "expiry": ("2019-05-15", "YYYYMMDD", DatePrecision.DAY),
            "production": ("2015-10-01", "YYYYMMDD", DatePrecision.DAY),
            "other": {"check_character": "."},
        },
    ),
]


@pytest.mark.parametrize(("vector", "scan", "expected"), VALID_VECTORS)
def test_public_vector_is_read_with_exact_fields(
    vector: int, scan: str, expected: dict[str, Any]
) -> None:
    result = parse_hibc(scan, CONFIG)
    assert result.agency is Agency.HIBC
    assert result.di == expected["di"]
    assert result.lot == expected.get("lot")
    assert result.serial == expected.get("serial")
    assert result.quantity == expected.get("quantity")
    for name in ("expiry", "production"):
        found = getattr(result, f"{name}_date")
        if name not in expected:
            assert found is None, vector
            continue
        iso, fmt, precision = expected[name]
        assert (found.value.isoformat(), found.format, found.precision) == (iso, fmt, precision)
    assert expected.get("other", {}).items() <= result.other.items()
    assert result.hri == f"*{scan}*"


def test_vector_70_keeps_the_hour_of_a_yymmddhh_expiry() -> None:
    result = parse_hibc("+X999123ABC0/$$4190515211234AB/S5678EDFG/16D20151001N", CONFIG)
    assert result.expiry_date is not None
    assert result.expiry_date.time == time(21)
    assert result.expiry_date.original == "19051521"


# (vector, scan, codes in position order, (position, length) of the first, first message)
INVALID_VECTORS: list[tuple[int, str, list[str], tuple[int, int], str]] = [
    (
        62,
        "+A99912345/$$52001510X34",
        ["hibc.check_character"],
        (23, 1),
        "Expected check character '3', got '4'.",
    ),
    (
        73,
        "+099912345/$$52001510X33",
        ["hibc.lic_first_char", "hibc.check_character"],
        (1, 1),
        "Expected a letter as the first LIC character, got '0'.",
    ),
    (
        74,
        "+A9991234NC",
        ["hibc.unit_of_measure", "hibc.check_character"],
        (9, 1),
        "Expected a unit of measure digit 0-9, got 'N'.",
    ),
    (
        75,
        "*A99912345/$$52001510X33",
        ["hibc.flag"],
        (0, 1),
        "Expected '+' as the HIBC flag character, got '*'.",
    ),
    # 76 and 77 carry the placeholder check characters of the HIBC spec examples.
    (
        76,
        "+Z999009993020351/05271C",
        ["hibc.check_character"],
        (23, 1),
        "Expected check character 'R', got 'C'.",
    ),
    (
        77,
        "+$$09053C001//",
        ["hibc.check_character"],
        (13, 1),
        "Expected check character 'H', got '/'.",
    ),
    # 68: the source (brixion) reads $$251021 as 2021-10-25 (DDMMYY without a format digit);
    # by the standard, $$2 is MMDDYY and "51" is no month.
    (
        68,
        "+$$25102173960231W",
        ["hibc.date"],
        (4, 6),
        "Expected a month 01-12, got 51 in '510217'.",
    ),
]


@pytest.mark.parametrize(("vector", "scan", "expected_codes", "span", "message"), INVALID_VECTORS)
def test_public_vector_is_rejected_with_exact_code_and_position(
    vector: int, scan: str, expected_codes: list[str], span: tuple[int, int], message: str
) -> None:
    with pytest.raises(ParseError) as error:
        parse_hibc(scan, CONFIG)
    assert codes(error) == expected_codes, vector
    first = error.value.issues[0]
    assert (first.position, first.length) == span
    assert first.message == message
    assert first.format == "hibc"


def test_vector_76_structure_reads_once_its_true_check_character_is_used() -> None:
    result = parse_hibc("+Z999009993020351/05271R", CONFIG)
    assert (result.other["lic"], result.other["pcn"], result.other["unit_of_measure"]) == (
        "Z999",
        "00999302035",
        "1",
    )
    assert result.expiry_date is not None
    assert result.expiry_date.value == date(2005, 9, 28)
    assert result.lot is None


def test_vector_77_structure_reads_once_its_true_check_character_is_used() -> None:
    result = parse_hibc("+$$09053C001/H", CONFIG)
    assert result.expiry_date is not None
    assert (result.expiry_date.value, result.expiry_date.precision) == (
        date(2005, 9, 30),
        DatePrecision.MONTH,
    )
    assert result.lot == "3C001"
    assert result.other["link_character"] == "/"


def test_primary_alone_gives_the_di_and_its_check_character() -> None:
    primary = HibcPrimary.parse("+A123BJC5D6E71G")
    assert primary == HibcPrimary("A123", "BJC5D6E7", 1, "G")
    assert primary.di == "A123BJC5D6E71"


def test_primary_parse_refuses_other_structures() -> None:
    with pytest.raises(ParseError) as error:
        HibcPrimary.parse("+A99912345/$$52001510X33")
    assert codes(error) == ["hibc.not_primary"]


def test_secondary_parse_refuses_a_primary() -> None:
    with pytest.raises(ParseError) as error:
        HibcSecondary.parse("+A123BJC5D6E71G", CONFIG)
    assert codes(error) == ["hibc.not_secondary"]


def test_separately_scanned_secondary_reports_its_link_character_and_a_warning() -> None:
    primary = HibcPrimary.parse(with_check("+A99912345"))
    secondary_scan = with_check("+$$52001510X3" + primary.check_character)  # type: ignore[operator]
    result = parse_hibc(secondary_scan, CONFIG)
    assert result.di is None
    assert result.other["link_character"] == primary.check_character
    assert [warning.code for warning in result.warnings] == ["hibc.secondary_only"]
    assert hibc_link_matches(primary, HibcSecondary.parse(secondary_scan, CONFIG))


def test_link_character_of_another_primary_does_not_match() -> None:
    primary = HibcPrimary.parse(with_check("+A99912345"))
    other_link = "0" if primary.check_character != "0" else "1"
    secondary = HibcSecondary.parse(with_check("+$10X3" + other_link), CONFIG)
    assert not hibc_link_matches(primary, secondary)


@pytest.mark.parametrize(
    ("secondary", "expected"),
    [
        ("$$0624X", ("2024-06-30", "MMYY", DatePrecision.MONTH)),
        ("$$1124X", ("2024-11-30", "MMYY", DatePrecision.MONTH)),
        ("$$2123124X", ("2024-12-31", "MMDDYY", DatePrecision.DAY)),
        ("$$324022 9X", ("2024-02-29", "YYMMDD", DatePrecision.DAY)),
        ("$$62406023X", ("2024-02-29", "YYJJJHH", DatePrecision.HOUR)),
        ("$$3770101X", ("1977-01-01", "YYMMDD", DatePrecision.DAY)),
        ("$$3760101X", ("2076-01-01", "YYMMDD", DatePrecision.DAY)),
    ],
)
def test_date_formats_resolve_with_the_century_window(
    secondary: str, expected: tuple[str, str, DatePrecision]
) -> None:
    scan = with_check(f"+A99912345/{secondary.replace(' ', '')}")
    found = parse_hibc(scan, CONFIG).expiry_date
    assert found is not None
    assert (found.value.isoformat(), found.format, found.precision) == expected


def test_mmyy_resolves_to_the_last_day_of_the_month_by_policy() -> None:
    found = read_hibc_date("0224", "MMYY", date(2026, 11, 27))
    assert (found.value, found.precision, found.original) == (
        date(2024, 2, 29),
        DatePrecision.MONTH,
        "0224",
    )


@pytest.mark.parametrize(
    ("secondary", "lot", "serial", "quantity", "expiry"),
    [
        ("$$7LOT1", "LOT1", None, None, None),
        ("$$+7SER1", None, "SER1", None, None),
        ("$+SER1", None, "SER1", None, None),
        ("$$812524001LOT1", "LOT1", None, 12, "2024-01-01"),
        ("$$9001257LOT1", "LOT1", None, 125, None),
        ("$$+9001253240101SER1", None, "SER1", 125, "2024-01-01"),
        ("24001LOT1", "LOT1", None, None, "2024-01-01"),
    ],
)
def test_secondary_forms_give_lot_serial_and_quantity(
    secondary: str, lot: str | None, serial: str | None, quantity: int | None, expiry: str | None
) -> None:
    result = parse_hibc(with_check(f"+A99912345/{secondary}"), CONFIG)
    assert (result.lot, result.serial, result.quantity) == (lot, serial, quantity)
    assert (result.expiry_date.value.isoformat() if result.expiry_date else None) == expiry


@pytest.mark.parametrize(
    ("data", "code", "position"),
    [
        ("+A99912345/$$523366LOT", "hibc.julian_day", 14),  # 2023 has no day 366
        ("+A99912345/$$624366LOT", "hibc.date", 14),  # YYJJJHH needs 7 digits: '24366LO'
        ("+A99912345/$$4240101247", "hibc.date", 14),  # hour 24
        ("+A99912345/$$X", "hibc.date_format", 13),
        ("+A99912345/$", "hibc.lot", 12),
        ("+A99912345/$+", "hibc.serial", 13),
        ("+A99912345/$1234567890123456789", "hibc.lot_length", 12),
        ("+A99912345/2400112345678901234", "hibc.lot_length", 16),
        ("+A99912345/$LOT/X1", "hibc.supplemental", 16),
        ("+A99912345/$LOT/14D20230229", "hibc.date", 19),
        ("+A99912345/$LOT/QX", "hibc.quantity", 17),
        ("+A99912345/-LOT", "hibc.secondary_flag", 11),
        ("+A9991234567890123456789015", "hibc.pcn_length", 5),
        ("+A99$12345", "hibc.lic", 4),
        ("+A999123-5", "hibc.pcn_character", 8),
        ("+A9991", "hibc.too_short", 1),
    ],
)
def test_structural_errors_have_codes_and_positions(data: str, code: str, position: int) -> None:
    with pytest.raises(ParseError) as error:
        parse_hibc(with_check(data), CONFIG)
    assert (error.value.issues[0].code, error.value.issues[0].position) == (code, position)


def test_independent_errors_are_collected() -> None:
    with pytest.raises(ParseError) as error:
        parse_hibc("+1$99123-X/$$523366LOT/QX0", CONFIG)
    assert codes(error) == [
        "hibc.lic_first_char",
        "hibc.lic",
        "hibc.pcn_character",
        "hibc.unit_of_measure",
        "hibc.julian_day",
        "hibc.quantity",
        "hibc.check_character",
    ]


def test_lower_case_is_outside_the_hibc_character_set() -> None:
    with pytest.raises(ParseError) as error:
        parse_hibc("+a99912345/$$52001510x33", CONFIG)
    assert [(issue.code, issue.position) for issue in error.value.issues] == [
        ("hibc.invalid_character", 1),
        ("hibc.invalid_character", 21),
    ]
    assert error.value.issues[0].message == "Expected an upper-case HIBC character, got 'a'."


def test_space_check_character_is_accepted_and_printed_as_underscore() -> None:
    result = parse_hibc("+A999030 ", CONFIG)
    assert result.other["check_character"] == " "
    assert result.hri == "*+A999030_*"


def test_underscore_typed_for_a_space_check_character_is_read_with_a_warning() -> None:
    result = parse_hibc("+A999030_", CONFIG)
    assert result.di == "A999030"
    assert [warning.code for warning in result.warnings] == ["hibc.underscore_check_character"]


def test_conflicting_supplemental_serial_keeps_the_secondary_one_and_warns() -> None:
    result = parse_hibc(with_check("+A99912345/$+SER1/SSER2"), CONFIG)
    assert result.serial == "SER1"
    assert [warning.code for warning in result.warnings] == ["hibc.conflicting_supplemental"]


def test_elements_carry_positions_in_the_scan() -> None:
    result = parse_hibc("+A99912345/$$52001510X3/16D20111212/S77DEFG457", CONFIG)
    spans = [(e.key, e.value, e.position, e.length) for e in result.elements]
    assert spans == [
        ("lic", "A999", 1, 4),
        ("pcn", "1234", 5, 4),
        ("unit_of_measure", "5", 9, 1),
        ("expiry_date", "20015", 14, 5),
        ("lot", "10X3", 19, 4),
        ("16D", "20111212", 24, 11),
        ("S", "77DEFG45", 36, 9),
        ("check_character", "7", 45, 1),
    ]


def test_basic_udi_di_check_pair_follows_the_published_examples() -> None:
    assert hibc_basic_udi_di_check("++A999MODELIDENTIFIER11") == "S8"
    registered = "++E22100160100000008Z"  # registered in EUDAMED; shorter than the example
    assert hibc_basic_udi_di_check(registered[:-2]) == registered[-2:]


def test_basic_udi_di_is_read_with_a_warning_that_it_is_no_label_identifier() -> None:
    result = parse_hibc("++A999MODELIDENTIFIER11S8", CONFIG)
    assert result.di == "++A999MODELIDENTIFIER11S8"
    assert (result.other["lic"], result.other["model"]) == ("A999", "MODELIDENTIFIER11")
    assert [warning.code for warning in result.warnings] == ["hibc.basic_udi_di"]


def test_basic_udi_di_with_a_wrong_check_pair_is_rejected() -> None:
    with pytest.raises(ParseError) as error:
        parse_hibc("++E221023102000000093", CONFIG)
    issue = error.value.issues[0]
    assert (issue.code, issue.message, issue.position, issue.length) == (
        "hibc.basic_udi_di_check",
        "Expected check characters '9B', got '93'.",
        19,
        2,
    )


def test_basic_udi_di_with_a_non_alphanumeric_model_is_rejected_before_its_check() -> None:
    with pytest.raises(ParseError) as error:
        parse_hibc("++A999$MODEL 11S8", CONFIG)
    assert [(i.code, i.position) for i in error.value.issues] == [
        ("hibc.basic_udi_di_model", 6),
        ("hibc.basic_udi_di_model", 12),
    ]


def test_pas_provider_label_is_classified_and_rejected() -> None:
    with pytest.raises(ParseError) as error:
        parse_hibc("+/AQSERIAL123X", CONFIG)
    assert codes(error) == ["hibc.pas_not_supplier_label"]
    assert "data location 'A': patient" in error.value.issues[0].message


def test_udi_parse_detects_hibc_and_maps_positions_past_the_symbology_identifier() -> None:
    result = udi.parse("]d1+A99912345/$$52001510X33", config=CONFIG)
    assert (result.ok, result.detected, result.udi.di if result.udi else None) == (
        True,
        "hibc",
        "A99912345",
    )
    assert result.udi is not None
    assert [(e.key, e.position) for e in result.udi.elements][:2] == [("lic", 4), ("pcn", 8)]


def test_udi_parse_reports_the_check_character_error_at_its_scan_position() -> None:
    result = udi.parse("]d1+A99912345/$$52001510X34", config=CONFIG)
    assert [(e.code, e.position, e.length, e.format) for e in result.errors] == [
        ("hibc.check_character", 26, 1, "hibc")
    ]
