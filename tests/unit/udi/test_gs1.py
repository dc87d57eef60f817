"""GS1 element strings: public vectors (udi-public-vectors.md §A and §D) and the linters.

Scans go through :func:`udi.parse` in their symbology-identifier form: the Syntax Engine's
leading ``^`` (FNC1 in first position) becomes ``]C1`` and an inner ``^`` becomes GS. Positions
in results are offsets into the whole scan, symbology identifier included.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

import udi
from udi import gs1
from udi._gs1_lint import (
    LINTERS,
    UNIMPLEMENTED_LINTERS,
    century_year,
    gmn_check_pair,
    mod10_check_digit,
)
from udi._gs1_table import AI_LENGTH, AI_TABLE
from udi.config import ParseConfig
from udi.errors import ParseError
from udi.result import Agency, DatePrecision

CONFIG = ParseConfig(today=date(2026, 11, 27))
GS_ONLY = ParseConfig(today=date(2026, 11, 27), separators=("\x1d",))
GS = "\x1d"
DICTIONARY_LINTERS = {
    name for spec in AI_TABLE.values() for c in spec.components for name, _ in c.linters
}


def parse(scan: str, config: ParseConfig = CONFIG) -> udi.ParseResult:
    return udi.parse(scan, config=config)


def errors(scan: str, config: ParseConfig = CONFIG) -> list[tuple[str, int, int]]:
    result = parse(scan, config)
    assert not result.ok, result
    return [(issue.code, issue.position, issue.length) for issue in result.errors]


def elements(scan: str, config: ParseConfig = CONFIG) -> list[tuple[str, str, int, int]]:
    result = parse(scan, config)
    assert result.ok, result.errors
    assert result.udi is not None
    return [(e.key, e.value, e.position, e.length) for e in result.udi.elements]


# --- §A valid vectors: (vector, scan, expected elements, expected Udi fields) ------------------

VALID: list[tuple[str, str, list[tuple[str, str, int, int]], dict[str, Any]]] = [
    ("1", "]C10112345678901231", [("01", "12345678901231", 3, 16)], {"gtin": "12345678901231"}),
    # 5: a superfluous trailing FNC1 is tolerated.
    ("5", f"]C10112345678901231{GS}", [("01", "12345678901231", 3, 16)], {}),
    # 6: (01) has a predefined length, so (99) follows without a separator.
    (
        "6",
        "]C10112345678901231991234",
        [("01", "12345678901231", 3, 16), ("99", "1234", 19, 6)],
        {"other": {"ai_99": "1234"}, "hri": "(01)12345678901231(99)1234"},
    ),
    (
        "10",
        "]d2011231231231233310ABC123<GS>99TESTING",
        [("01", "12312312312333", 3, 16), ("10", "ABC123", 19, 8), ("99", "TESTING", 31, 9)],
        {"lot": "ABC123", "hri": "(01)12312312312333(10)ABC123(99)TESTING"},
    ),
    # 12: (235) is not predefined-length, so a GS ends it before (10).
    (
        "12",
        "]C10112312312312333235XYZ<GS>10ABC",
        [("01", "12312312312333", 3, 16), ("235", "XYZ", 19, 6), ("10", "ABC", 29, 5)],
        {"lot": "ABC", "other": {"tpx": "XYZ"}},
    ),
    (
        "15",
        "010703206980498815210526100329",
        [("01", "07032069804988", 0, 16), ("15", "210526", 16, 8), ("10", "0329", 24, 6)],
        {"lot": "0329", "other": {"best_before_date": "2021-05-26"}},
    ),
    (
        "17",
        "0107032069804988100329<GS>15210526",
        [("01", "07032069804988", 0, 16), ("10", "0329", 16, 6), ("15", "210526", 26, 8)],
        {"lot": "0329"},
    ),
    # 19: a doubled GS is ignored (positions still count both).
    (
        "19",
        "0107032069804988100329<GS><GS>15210526",
        [("01", "07032069804988", 0, 16), ("10", "0329", 16, 6), ("15", "210526", 30, 8)],
        {"lot": "0329"},
    ),
    (
        "26",
        "]C1010590123412345715210526",
        [("01", "05901234123457", 3, 16), ("15", "210526", 19, 8)],
        {"gtin": "05901234123457", "other": {"best_before_date": "2021-05-26"}},
    ),
    (
        "27",
        "]d201034531200000111719112510ABCD1234",
        [("01", "03453120000011", 3, 16), ("17", "191125", 19, 8), ("10", "ABCD1234", 27, 10)],
        {"expiry": ("2019-11-25", "191125", DatePrecision.DAY), "lot": "ABCD1234"},
    ),
    # 30: lamoda's strict default wants a symbology identifier; our policy is lenient like
    # biip, because keyboard-wedge scanners are often set up without one.
    (
        "30",
        "01034531200000111719112510ABCD1234",
        [("01", "03453120000011", 0, 16), ("17", "191125", 16, 8), ("10", "ABCD1234", 24, 10)],
        {"lot": "ABCD1234"},
    ),
    # 32: lower case and "+/=" are CSET 82; (92) carries a base64 crypto tail.
    (
        "32",
        "010467003301005321gJk6o54AQBJfX<GS>2406401<GS>91ffd0<GS>92LGYc+/ZX34A==",
        [
            ("01", "04670033010053", 0, 16),
            ("21", "gJk6o54AQBJfX", 16, 15),
            ("240", "6401", 35, 7),
            ("91", "ffd0", 46, 6),
            ("92", "LGYc+/ZX34A==", 56, 15),
        ],
        {
            "serial": "gJk6o54AQBJfX",
            "other": {"additional_id": "6401", "ai_91": "ffd0", "ai_92": "LGYc+/ZX34A=="},
            "digital_link": "https://id.gs1.org/01/04670033010053/21/gJk6o54AQBJfX"
            "?240=6401&91=ffd0&92=LGYc%2B%2FZX34A%3D%3D",
        },
    ),
    (
        "udi",
        "]d201040123456789011728123110LOT-A1\x1d21SN0001",
        [
            ("01", "04012345678901", 3, 16),
            ("17", "281231", 19, 8),
            ("10", "LOT-A1", 27, 8),
            ("21", "SN0001", 36, 8),
        ],
        {
            "gtin": "04012345678901",
            "di": "04012345678901",
            "lot": "LOT-A1",
            "serial": "SN0001",
            "expiry": ("2028-12-31", "281231", DatePrecision.DAY),
            "hri": "(01)04012345678901(17)281231(10)LOT-A1(21)SN0001",
            "digital_link": "https://id.gs1.org/01/04012345678901/10/LOT-A1/21/SN0001?17=281231",
            "other": {},
        },
    ),
]


@pytest.mark.parametrize(("vector", "scan", "expected_elements", "fields"), VALID)
def test_valid_element_strings(
    vector: str,
    scan: str,
    expected_elements: list[tuple[str, str, int, int]],
    fields: dict[str, Any],
) -> None:
    result = parse(scan)
    assert result.ok, (vector, result.errors)
    assert result.detected == "gs1"
    assert result.udi is not None
    assert result.udi.agency is Agency.GS1
    assert [(e.key, e.value, e.position, e.length) for e in result.udi.elements] == (
        expected_elements
    )
    assert result.warnings == ()
    for name, expected in fields.items():
        if name == "expiry":
            expiry = result.udi.expiry_date
            assert expiry is not None
            assert (expiry.value.isoformat(), expiry.original, expiry.precision) == expected
            assert expiry.format == "YYMMDD"
        else:
            assert getattr(result.udi, name) == expected, name


# --- §A invalid vectors: (vector, scan, config, expected errors as (code, position, length)) ---

INVALID: list[tuple[str, str, ParseConfig, list[tuple[str, int, int]]]] = [
    # 2: the check digit is reported on the check digit itself.
    ("2", "]C10112345678901234", CONFIG, [("gs1.check_digit", 18, 1)]),
    ("3", "]C1011234567890123", CONFIG, [("gs1.value_too_short", 3, 15)]),
    # 4: (01) needs no FNC1, so the 17th digit starts a new, unknown, AI "2".
    ("4", "]C101123456789012312", CONFIG, [("gs1.unknown_ai", 19, 1)]),
    # 7: 242 is N..6; it also needs (01), (02), (8006) or (8026).
    (
        "7",
        "]C12421234567",
        CONFIG,
        [("gs1.value_too_long", 3, 10), ("gs1.missing_required_ai", 3, 10)],
    ),
    # 8: "~" outside CSET 82, with GS as the only separator ...
    ("8", "]C199~ABC", GS_ONLY, [("gs1.invalid_character", 5, 1)]),
    # ... while the default configuration treats "~" as a remapped GS (config.py), which
    # leaves (99) empty and "ABC" where an AI should be.
    (
        "8-default",
        "]C199~ABC",
        CONFIG,
        [("gs1.value_too_short", 3, 2), ("gs1.unknown_ai", 6, 2)],
    ),
    ("9", "]C1891234", CONFIG, [("gs1.unknown_ai", 3, 2)]),
    # 9 without a symbology id: "891234" is 6 digits, so not a GTIN-8 (biip reads "08912…").
    ("9-bare", "891234", CONFIG, [("gs1.unknown_ai", 0, 2)]),
    ("11", "]d2\x1d", CONFIG, [("gs1.empty", 3, 0)]),
    # 13: "^" is not a separator in scan data: it lands inside the GTIN, and what follows
    # starts with "0A", which is no AI (SE: "illegal ^").
    (
        "13",
        "]C101123123123133^10ABC",
        CONFIG,
        [("gs1.non_digit", 17, 1), ("gs1.unknown_ai", 19, 2)],
    ),
    # 20: a lot of 23 characters (biip splits after 20 and fails on "aaa").
    (
        "20",
        "1022222222222222222222aaa",
        CONFIG,
        [("gs1.value_too_long", 0, 25), ("gs1.missing_required_ai", 0, 25)],
    ),
    # 21, 22: biip only attaches a nested gtin_error/sscc_error; here the scan fails.
    ("21", "0107032069804987", CONFIG, [("gs1.check_digit", 15, 1)]),
    ("22", "00376130321109103421", CONFIG, [("gs1.check_digit", 19, 1)]),
    # 23, 24: dates checked with the resolved century (2012-02 has 29 days, 1999-02 has 28).
    ("23", "]C10104012345678901" + "11120230", CONFIG, [("gs1.illegal_day", 25, 2)]),
    ("24", "]C10104012345678901" + "15990229", CONFIG, [("gs1.illegal_day", 25, 2)]),
    ("28", "]d2010345", CONFIG, [("gs1.value_too_short", 3, 6)]),
    # 29: a GS inside (01)'s predefined length: too short; the rest is then misaligned.
    (
        "29",
        "]d20103453<GS>200000111719112510ABCD1234",
        CONFIG,
        [("gs1.value_too_short", 3, 7), ("gs1.non_digit", 32, 1), ("gs1.unknown_ai", 38, 2)],
    ),
    # 31: brock accepts it, but the Syntax Dictionary forbids (3922) with (3932) (3920-3929
    # have ex=392n,393n); SE rejects it too. Reported on the later AI of the pair.
    (
        "31",
        "]C101040123456789011715012910ABC123<GS>39329714711<GS>310300052539224711<GS>42127649716",
        CONFIG,
        [("gs1.invalid_ai_pair", 64, 8)],
    ),
    # 59 (§D): the lost GS before (240) makes the lot 29 characters long.
    (
        "59",
        "0104062102661608112405271727112710S2400424282400522010301NNN003",
        CONFIG,
        [("gs1.value_too_long", 32, 31)],
    ),
    # 18: biip accepts (15) and (10) alone; the Dictionary requires (01), (02), (03), (8006)
    # or (8026) with each of them, so our policy (SE's) rejects it. The redundant GS after
    # the predefined-length (15) is itself fine, as the "with (01)" variant below shows.
    (
        "18",
        "15210526<GS>100329",
        CONFIG,
        [("gs1.missing_required_ai", 0, 8), ("gs1.missing_required_ai", 12, 6)],
    ),
]


@pytest.mark.parametrize(("vector", "scan", "config", "expected"), INVALID)
def test_invalid_element_strings(
    vector: str, scan: str, config: ParseConfig, expected: list[tuple[str, int, int]]
) -> None:
    assert errors(scan, config) == expected, vector


def test_vector_11_symbology_without_data() -> None:
    for scan in ("]d2", "]C1", "]e0", "]Q3"):
        assert errors(scan) == [("scan.empty", 3, 0)]


def test_vector_14_ean13_check_digit() -> None:
    assert errors("]E02112345678901") == [("gs1.check_digit", 15, 1)]
    result = parse("]E02112345678900")
    assert result.ok
    assert result.udi is not None
    assert (result.detected, result.udi.gtin, result.udi.elements[0].key) == (
        "gtin",
        "02112345678900",
        "01",
    )


def test_vector_16_lot_swallows_15_and_is_flagged() -> None:
    result = parse("010703206980498810032915210526")
    assert result.ok
    assert result.udi is not None
    assert result.udi.lot == "032915210526"  # the greedy reading, as biip and SE do
    assert [(w.code, w.position, w.length) for w in result.warnings] == [
        ("gs1.ambiguous_separator", 22, 8)
    ]
    assert "(10)0329(15)210526" in result.warnings[0].message


def test_vector_18_redundant_gs_after_predefined_length() -> None:
    assert elements("0104012345678901" + "15210526<GS>100329")[1:] == [
        ("15", "210526", 16, 8),
        ("10", "0329", 28, 6),
    ]


@pytest.mark.parametrize(
    ("value", "iso"),
    [("200200", "2020-02-29"), ("210200", "2021-02-28"), ("211200", "2021-12-31")],
)
def test_vector_25_day_zero_is_last_day_of_month(value: str, iso: str) -> None:
    # Prefixed with a GTIN: alone, (15)/(17) miss their requisite (01) (see vector 18).
    result = parse("]C10104012345678901" + "17" + value)
    assert result.ok
    assert result.udi is not None
    expiry = result.udi.expiry_date
    assert expiry is not None
    assert (expiry.value.isoformat(), expiry.original, expiry.precision) == (
        iso,
        value,
        DatePrecision.MONTH,
    )


def test_vector_60_lost_gs_after_lot_is_a_warning() -> None:
    result = parse("01035960104943371731042610P212940211210428")
    assert result.ok
    assert result.udi is not None
    assert result.udi.lot == "P212940211210428"
    assert [(w.code, w.position, w.length) for w in result.warnings] == [
        ("gs1.ambiguous_separator", 34, 8)
    ]
    message = result.warnings[0].message
    assert "(10)P2129402(11)210428" in message


def test_vector_59_hint_in_message() -> None:
    result = parse("0104062102661608112405271727112710S2400424282400522010301NNN003")
    assert "group separator may be missing" in result.errors[0].message


def test_no_ambiguity_warning_for_plain_lots() -> None:
    # "A10B": (10)"B" would lint, but a variable-length CSET 82 tail is no evidence.
    for lot in ("A10B", "LOT-A1", "SN0001", "2100"):
        result = parse("]C10104012345678901" + "10" + lot)
        assert result.ok
        assert result.warnings == (), lot


def test_ambiguity_needs_a_plausible_reading() -> None:
    # (12) DUE DATE needs (8020), so "(10)X(12)281231" is not a plausible reading.
    result = parse("]C10104012345678901" + "10X12281231")
    assert result.ok
    assert result.warnings == ()
    # (17) is plausible with (01): flagged.
    result = parse("]C10104012345678901" + "10X17281231")
    assert [w.code for w in result.warnings] == ["gs1.ambiguous_separator"]


def test_interpret_doctest_example() -> None:
    assert errors("]d201040123456789021728123110LOT-A1") == [("gs1.check_digit", 18, 1)]
    result = parse("]d201040123456789021728123110LOT-A1")
    assert result.errors[0].message == "Expected check digit 1 for GTIN in AI (01), got 2."


def test_errors_are_collected_not_first_only() -> None:
    # Bad GTIN check digit, bad month and a CSET 82 violation: three independent errors.
    scan = "]C10104012345678902" + "17281331" + "10AB CD"
    assert [code for code, _, _ in errors(scan, GS_ONLY)] == [
        "gs1.check_digit",
        "gs1.illegal_month",
        "gs1.invalid_character",
    ]


def test_remapped_separator_positions_are_in_the_scan() -> None:
    assert elements("]d20104012345678901" + "10A<GS>21B")[1:] == [
        ("10", "A", 19, 3),
        ("21", "B", 26, 3),
    ]


# --- century window and dates -------------------------------------------------------------


@pytest.mark.parametrize(
    ("yy", "reference", "year"),
    [(76, 2026, 2076), (77, 2026, 1977), (0, 2026, 2000), (99, 2026, 1999), (49, 2099, 2149)],
)
def test_century_window(yy: int, reference: int, year: int) -> None:
    assert century_year(yy, reference) == year


@pytest.mark.parametrize(
    ("value", "ok"), [("280229", True), ("270229", False), ("760229", True), ("000229", True)]
)
def test_leap_years_use_resolved_century(value: str, ok: bool) -> None:
    assert parse("]C10104012345678901" + "17" + value).ok is ok


def test_expiry_time_7003_rejects_day_zero() -> None:
    scan = "]C10104012345678901" + "7003" + "2812311430"
    result = parse(scan)
    assert result.ok
    assert result.udi is not None
    assert result.udi.other == {"expiry_date_time": "2028-12-31T14:30"}
    assert errors("]C10104012345678901" + "7003" + "2812001430") == [("gs1.illegal_day", 27, 2)]
    assert errors("]C10104012345678901" + "7003" + "2812312430") == [("gs1.illegal_hour", 29, 2)]
    assert errors("]C10104012345678901" + "7003" + "2812311460") == [("gs1.illegal_minute", 31, 2)]


def test_production_date_and_quantity() -> None:
    result = parse("]C10104012345678901" + "11260115" + "3012")
    assert result.ok
    assert result.udi is not None
    assert result.udi.production_date is not None
    assert result.udi.production_date.value == date(2026, 1, 15)
    assert result.udi.quantity == 12


# --- linters -------------------------------------------------------------------------------


def test_every_dictionary_linter_is_implemented() -> None:
    assert set(LINTERS) >= DICTIONARY_LINTERS
    assert sorted(UNIMPLEMENTED_LINTERS) == ["couponcode", "couponposoffer"]
    assert len(DICTIONARY_LINTERS) == 34


def test_mod10_hand_computed() -> None:
    # 0·3+4·1+0·3+1·1+2·3+3·1+4·3+5·1+6·3+7·1+8·3+9·1+0·3 = 89 → (10 − 9) = 1
    assert mod10_check_digit("0401234567890") == 1
    assert mod10_check_digit("37613032110910342") == 0


def test_gmn_check_pair() -> None:
    # GenSpecs §7.9.5 worked example, and gs1/gmn-helpers' shortest and longest examples.
    assert gmn_check_pair("1987654Ad4X4bL5ttr2310c") == "2K"
    assert gmn_check_pair("12345A") == "NJ"
    assert gmn_check_pair("12345678901234567890123") == "NT"
    assert parse("(8013)1987654Ad4X4bL5ttr2310c2K").ok
    assert errors("(8013)1987654Ad4X4bL5ttr2310cXK") == [("gs1.check_pair", 29, 2)]


@pytest.mark.parametrize(
    ("hri", "code"),
    [
        ("(01)04012345678901(422)156", None),  # China
        ("(01)04012345678901(422)999", "gs1.not_iso3166"),
        ("(01)04012345678901(4307)CN", "gs1.missing_required_ai"),  # 4307 needs (00)
        ("(00)106141412345678908(4307)XX", "gs1.not_iso3166_alpha2"),
        ("(00)106141412345678908(4321)2", "gs1.not_zero_or_one"),
        ("(00)106141412345678908(4330)001250-", None),
        ("(00)106141412345678908(4330)001250+", "gs1.not_hyphen"),
        ("(00)106141412345678908(4309)18000000003600000000", None),
        ("(00)106141412345678908(4309)18000000013600000000", "gs1.invalid_latitude"),
        ("(00)106141412345678908(4300)ACME%20Inc", None),
        ("(00)106141412345678908(4300)ACME%2", "gs1.invalid_percent_sequence"),
        ("(00)106141412345678908(7041)BX", None),
        ("(00)106141412345678908(7041)QQQ", "gs1.invalid_package_type"),
        ("(8017)106141412345678908(7241)80", None),
        ("(8017)106141412345678908(7241)50", "gs1.invalid_media_type"),
        ("(8018)106141412345678908(7250)20000230", "gs1.illegal_day"),
        ("(8018)106141412345678908(7252)3", "gs1.invalid_biological_sex"),
        ("(8018)106141412345678908(7259)A(7258)1/2", None),
        ("(8018)106141412345678908(7259)A(7258)3/2", "gs1.invalid_position_in_sequence"),
        ("(8010)1234ABC(8011)0123", "gs1.illegal_zero_prefix"),
        ("(01)04012345678901(8014)1000000123", "gs1.requires_non_digit"),
        ("(01)04012345678901(8001)00001000200011", "gs1.illegal_zero_value"),
        ("(415)4000001000005(8020)REF(8007)GB82WEST12345698765432", None),
        ("(415)4000001000005(8020)REF(8007)GB82WEST12345698765433", "gs1.iban_check_digits"),
        ("(8004)1234ABC(7040)1ABC", None),
        ("(8004)1234ABC(7040)1AB#", "gs1.invalid_character"),
        ("(01)04012345678901(3103)000525", None),
        ("(01)04012345678901(3103)000525(3102)005250", "gs1.invalid_ai_pair"),  # ex=310n
        ("(8020)ABC(415)4000001000005(3902)1234", None),
        ("(8020)ABC(415)4000001000005(3902)1234(3942)0010", "gs1.invalid_ai_pair"),
        ("(8006)040123456789010102", None),
        ("(8006)040123456789010002", "gs1.zero_piece_number"),
        ("(8110)anything-goes", None),  # couponcode: documented no-op
        ("(253)4000001000005ABC", None),
        ("(253)4000001000006", "gs1.check_digit"),
        ("(401)12AB", "gs1.invalid_gcp_prefix"),
        ("(401)123", "gs1.gcp_too_short"),
        ("(8030)-_AZaz09==(00)106141412345678908", None),
        ("(8030)ab=c(00)106141412345678908", "gs1.invalid_character"),
    ],
)
def test_linters_through_hri(hri: str, code: str | None) -> None:
    result = parse(hri)
    if code is None:
        assert result.ok, result.errors
    else:
        assert code in [issue.code for issue in result.errors], result.errors


def test_all_messages_are_expected_got_sentences() -> None:
    scans = [
        "]C10112345678901234",
        "]C1011234567890123",
        "]C1891234",
        "(8013)123456ABXX",
        "(426)987",
        "(8026)123456789012310302",
        "(01)12345678901231(02)12345678901231",
        "(400)ABC(400)XYZ",
        "(10) ",
        "(01)95012345678903(11)131313",
    ]
    shape = re.compile(r"^Expected .+, got .+\.$")
    for scan in scans:
        for issue in parse(scan).errors:
            assert shape.match(issue.message), issue.message


def test_ai_length_table_matches_genspecs() -> None:
    # GenSpecs Figure 7.8.2-1 as listed in udi-formats.md §1.1.
    two = ["00", "01", "02", "03", "10", "11", "17", "20", "21", "22", "30", "37", "90", "99"]
    three = ["23", "24", "25", "40", "41", "42", "71"]
    four = ["31", "32", "33", "34", "35", "36", "39", "43", "70", "72", "80", "81", "82"]
    assert {p: AI_LENGTH[p] for p in two} == dict.fromkeys(two, 2)
    assert {p: AI_LENGTH[p] for p in three} == dict.fromkeys(three, 3)
    assert {p: AI_LENGTH[p] for p in four} == dict.fromkeys(four, 4)
    assert len(AI_TABLE) == 541


def test_predefined_lengths_match_genspecs() -> None:
    # Figure 7.8.4-2: 00→18, 01-03→14, 11-17→6, 20→2, 31-36 (4-digit)→6, 41x→13.
    expected = {"00": 18, "01": 14, "02": 14, "03": 14, "11": 6, "17": 6, "20": 2, "414": 13}
    for ai, length in expected.items():
        assert (AI_TABLE[ai].predefined, AI_TABLE[ai].max_length) == (True, length)
    assert all(AI_TABLE[ai].predefined for ai in AI_TABLE if ai[:2] in {"31", "32", "36"})
    # Fixed length is not predefined length: these still need a GS.
    assert not any(AI_TABLE[ai].predefined for ai in ("422", "7003", "8006", "8001"))


def test_direct_api_raises_parse_error() -> None:
    with pytest.raises(ParseError) as error:
        gs1.parse_element_string("0104012345678902", CONFIG)
    assert error.value.code == "gs1.check_digit"
    assert error.value.issues[0].position == 15
    with pytest.raises(ParseError) as error:
        gs1.parse_element_string("", CONFIG)
    assert error.value.code == "gs1.empty"


def test_bare_gtin_digits() -> None:
    result = parse("4012345678901")
    assert result.ok
    assert result.udi is not None
    assert (result.detected, result.udi.gtin, result.udi.digital_link) == (
        "gtin",
        "04012345678901",
        "https://id.gs1.org/01/04012345678901",
    )
    with pytest.raises(ParseError) as error:
        gs1.parse_bare_gtin("", CONFIG)
    assert error.value.code == "gs1.empty"


def test_sscc_only_scan_has_no_di() -> None:
    result = parse("]C100106141412345678908")
    assert result.ok
    assert result.udi is not None
    assert (result.udi.di, result.udi.sscc, result.udi.digital_link) == (
        None,
        "106141412345678908",
        "https://id.gs1.org/00/106141412345678908",
    )


def test_itip_gives_the_gtin_and_pieces() -> None:
    result = parse("(8006)040123456789010102(21)S1")
    assert result.ok
    assert result.udi is not None
    assert result.udi.gtin == "04012345678901"
    assert result.udi.other == {
        "itip": "040123456789010102",
        "itip_piece": "01",
        "itip_total": "02",
    }


def test_repeated_ai_with_same_value_is_kept_once_in_fields() -> None:
    result = parse("]C10104012345678901" + "10A" + GS + "10A")
    assert result.ok
    assert result.udi is not None
    assert result.udi.lot == "A"
    assert [e.key for e in result.udi.elements] == ["01", "10", "10"]
    assert result.udi.digital_link == "https://id.gs1.org/01/04012345678901/10/A"
