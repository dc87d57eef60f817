"""The GS1 Barcode Syntax Tests ("linters") named by the Syntax Dictionary, by name.

Every linter takes the text of one AI component and the reference year for the century window,
and returns None when the data is fine or a :data:`Failure` tuple
``(code, offset, length, expected, got)`` whose offset/length are relative to the component.
The caller turns it into an :class:`udi.errors.Issue` naming the AI. Tuples instead of objects
keep the success path free of allocations.

>>> LINTERS["csum"]("04012345678901", 2026) is None
True
>>> LINTERS["csum"]("04012345678902", 2026)
('gs1.check_digit', 13, 1, 'check digit 1', '2')
>>> LINTERS["csumalpha"]("1987654Ad4X4bL5ttr2310c2K", 2026) is None
True
>>> LINTERS["yymmd0"]("281300", 2026)[0]
'gs1.illegal_month'
>>> resolve_yymmdd("280200", 2026, allow_zero_day=True)
(datetime.date(2028, 2, 29), True)
>>> century_year(77, 2026), century_year(76, 2026)
(1977, 2076)

References:
    GS1 General Specifications §7.9 (check digits), §7.9.5 (check character pair), §7.12
    (century of a YY year), §3.2 (AI data content); GS1 Barcode Syntax Tests (the linter names).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache

from udi._dates import century_year

Failure = tuple[str, int, int, str, str]
"""``(code, offset, length, expected, got)``; offset and length are within the component."""

Linter = Callable[[str, int], Failure | None]

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
"""GS1 AI encodable character set 82, in the value order used by the GMN check pair."""

CSET39 = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""GS1 AI encodable character set 39 (CPID, AI 8010)."""

CSET64 = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz="
"""base64url plus the ``=`` padding character (AI 8030 digital signature)."""

_CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CSET82_VALUE = {char: value for value, char in enumerate(CSET82)}
_GMN_WEIGHTS = (
    83,
    79,
    73,
    71,
    67,
    61,
    59,
    53,
    47,
    43,
    41,
    37,
    31,
    29,
    23,
    19,
    17,
    13,
    11,
    7,
    5,
    3,
    2,
)

# One compiled full-match per character set: a C-level scan is the fastest check for short
# values; the slow per-character search only runs once a value is known to be bad.
CHARSET_PATTERNS: dict[str, re.Pattern[str]] = {
    "N": re.compile(r"[0-9]*"),
    "X": re.compile("[" + re.escape(CSET82) + "]*"),
    "Y": re.compile("[" + re.escape(CSET39) + "]*"),
    "Z": re.compile("[" + re.escape(CSET64) + "]*"),
}
CHARSET_NAMES = {
    "N": "a digit",
    "X": "a GS1 CSET 82 character",
    "Y": "a GS1 CSET 39 character",
    "Z": "a base64url (CSET 64) character",
}
_CHARSETS = {"N": "0123456789", "X": CSET82, "Y": CSET39, "Z": CSET64}


CHARSET_TESTS: dict[str, Callable[[str], bool]] = {
    "X": frozenset(CSET82).issuperset,
    "Y": frozenset(CSET39).issuperset,
}
"""Yes/no tests of the GS1 character sets for the fast path of clean values (quicker than the
patterns on short values). Digits are tested inline with ``isdigit()`` and ``isascii()``;
CSET 64 has none, as it also has a padding rule."""


def first_bad_character(kind: str, data: str) -> int:
    """Offset of the first character of ``data`` outside the character set ``kind``."""
    allowed = _CHARSETS[kind]
    return next((index for index, char in enumerate(data) if char not in allowed), -1)


def check_charset(kind: str, data: str) -> Failure | None:
    """Check that ``data`` is made of ``kind`` characters (N digits, X/Y/Z GS1 sets)."""
    if CHARSET_PATTERNS[kind].fullmatch(data) is not None:
        if kind == "Z":
            return _check_cset64_padding(data)
        return None
    index = first_bad_character(kind, data)
    code = "gs1.non_digit" if kind == "N" else "gs1.invalid_character"
    return (code, index, 1, CHARSET_NAMES[kind], repr(data[index]))


def _check_cset64_padding(data: str) -> Failure | None:
    stripped = data.rstrip("=")
    if "=" in stripped or len(data) - len(stripped) > 2:
        index = stripped.find("=") if "=" in stripped else len(stripped)
        return ("gs1.invalid_character", index, 1, "'=' padding only at the end", repr(data))
    return None


# --- check digits -----------------------------------------------------------------------------


def mod10_check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of ``digits`` (ASCII digits, check digit excluded).

    Weights 3,1,3… from the rightmost data digit. Summing the ASCII codes of each half (one C
    loop over bytes) and taking off 48 per digit is about three times faster than
    ``map(int, …)``; callers check the characters first, so the input is always digits.
    """
    odd = digits[-1::-2].encode("ascii")
    even = digits[-2::-2].encode("ascii")
    total = 3 * sum(odd) + sum(even) - 48 * (3 * len(odd) + len(even))
    return (10 - total % 10) % 10


GMN_MAX_LENGTH = len(_GMN_WEIGHTS)
"""The longest data (without its pair) the GMN check pair is defined for."""

CSET82_VALUES = _CSET82_VALUE
"""CSET 82 character -> its value in the check-pair calculation."""


def gmn_check_pair(data: str) -> str:
    """The GS1 check character pair of ``data`` (a GMN without its pair, ≤ 23 CSET 82 chars).

    References:
        GS1 General Specifications §7.9.5 (check character pair calculation).
    """
    offset = len(_GMN_WEIGHTS) - len(data)
    total = sum(
        _CSET82_VALUE[char] * _GMN_WEIGHTS[offset + index] for index, char in enumerate(data)
    )
    total %= 1021
    return _CSET32[total // 32] + _CSET32[total % 32]


def lint_csum(data: str, _year: int) -> Failure | None:
    """Mod-10 check digit in the last position (GTIN, SSCC, GLN, GSRN, GDTI…)."""
    if len(data) < 2:
        return ("gs1.check_digit", 0, len(data), "at least 2 digits", str(len(data)))
    expected = mod10_check_digit(data[:-1])
    if ord(data[-1]) - 48 == expected:
        return None
    return ("gs1.check_digit", len(data) - 1, 1, f"check digit {expected}", data[-1])


def lint_csumalpha(data: str, _year: int) -> Failure | None:
    """GS1 check character pair in the last two positions (GMN, AI 8013 / MUDI, AI 8014)."""
    if len(data) < 3 or len(data) > 25:
        return ("gs1.check_pair", 0, len(data), "3 to 25 characters with a check pair", data)
    expected = gmn_check_pair(data[:-2])
    if data[-2:] == expected:
        return None
    return ("gs1.check_pair", len(data) - 2, 2, f"check character pair {expected}", data[-2:])


# --- GS1 Company Prefix -------------------------------------------------------------------------

_GCP_MIN_LENGTH = 4  # The shortest GS1 Company Prefix has four digits.


def _gcp_at(data: str, start: int) -> Failure | None:
    # Without a GCP allocation service only the shape can be checked: enough leading digits.
    if len(data) - start < _GCP_MIN_LENGTH:
        got = str(max(len(data) - start, 0))
        return ("gs1.gcp_too_short", start, len(data) - start, "a GS1 Company Prefix", got)
    if data[start : start + _GCP_MIN_LENGTH].isdigit():  # data is ASCII: charset checked first
        return None
    for index in range(start, start + _GCP_MIN_LENGTH):
        if not "0" <= data[index] <= "9":
            expected = "a GS1 Company Prefix digit"
            return ("gs1.invalid_gcp_prefix", index, 1, expected, repr(data[index]))
    return None


def lint_gcppos1(data: str, _year: int) -> Failure | None:
    """The data starts with a GS1 Company Prefix."""
    return _gcp_at(data, 0)


def lint_gcppos2(data: str, _year: int) -> Failure | None:
    """The data has a GS1 Company Prefix from its second character (after an indicator)."""
    return _gcp_at(data, 1)


# --- dates and times ----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def resolve_yymmdd(
    data: str, reference_year: int, allow_zero_day: bool
) -> tuple[date, bool] | Failure:
    """Resolve ``YYMMDD`` to ``(date, day_was_zero)`` or return the failure.

    With ``allow_zero_day`` (linter ``yymmd0``) a day of ``00`` means the month's last day.
    """
    month = int(data[2:4])
    if not 1 <= month <= 12:
        return ("gs1.illegal_month", 2, 2, "a month from 01 to 12", data[2:4])
    year = century_year(int(data[:2]), reference_year)
    last = calendar.monthrange(year, month)[1]
    day = int(data[4:6])
    if day == 0 and allow_zero_day:
        return date(year, month, last), True
    if not 1 <= day <= last:
        low = "00" if allow_zero_day else "01"
        return (
            "gs1.illegal_day",
            4,
            2,
            f"a day from {low} to {last} in {year}-{month:02d}",
            data[4:6],
        )
    return date(year, month, day), False


def lint_yymmd0(data: str, year: int) -> Failure | None:
    """``YYMMDD`` where ``DD=00`` stands for the last day of the month (AIs 11–17)."""
    result = resolve_yymmdd(data, year, True)
    return None if len(result) == 2 else result  # type: ignore[return-value]


def lint_yymmdd(data: str, year: int) -> Failure | None:
    """``YYMMDD`` with a real day (AIs 7003, 7006, 7011…)."""
    result = resolve_yymmdd(data, year, False)
    return None if len(result) == 2 else result  # type: ignore[return-value]


def lint_yyyymmdd(data: str, _year: int) -> Failure | None:
    """``YYYYMMDD`` with a four-digit year (AIs 7250, 7251)."""
    month = int(data[4:6])
    if not 1 <= month <= 12:
        return ("gs1.illegal_month", 4, 2, "a month from 01 to 12", data[4:6])
    last = calendar.monthrange(int(data[:4]), month)[1]
    if not 1 <= int(data[6:8]) <= last:
        return ("gs1.illegal_day", 6, 2, f"a day from 01 to {last}", data[6:8])
    return None


def _range(data: str, offset: int, high: int, code: str, what: str) -> Failure | None:
    if int(data[offset : offset + 2]) <= high:
        return None
    return (code, offset, 2, f"{what} from 00 to {high:02d}", data[offset : offset + 2])


def lint_hh(data: str, _year: int) -> Failure | None:
    """Hour ``HH`` from 00 to 23."""
    return _range(data, 0, 23, "gs1.illegal_hour", "an hour")


def lint_mi(data: str, _year: int) -> Failure | None:
    """Minute ``MI`` from 00 to 59."""
    return _range(data, 0, 59, "gs1.illegal_minute", "a minute")


def lint_ss(data: str, _year: int) -> Failure | None:
    """Second ``SS`` from 00 to 59."""
    return _range(data, 0, 59, "gs1.illegal_second", "a second")


def lint_hhmi(data: str, _year: int) -> Failure | None:
    """Time ``HHMI``."""
    return _range(data, 0, 23, "gs1.illegal_hour", "an hour") or _range(
        data, 2, 59, "gs1.illegal_minute", "a minute"
    )


# --- code lists -----------------------------------------------------------------------------------


def _codes(text: str) -> frozenset[str]:
    """A code list written as whitespace-separated codes."""
    return frozenset(text.split())


ISO3166_NUMERIC = _codes(
    """
    004 008 010 012 016 020 024 028 031 032 036 040 044 048 050 051 052 056 060 064 068 070
    072 074 076 084 086 090 092 096 100 104 108 112 116 120 124 132 136 140 144 148 152 156
    158 162 166 170 174 175 178 180 184 188 191 192 196 203 204 208 212 214 218 222 226 231
    232 233 234 238 239 242 246 248 250 254 258 260 262 266 268 270 275 276 288 292 296 300
    304 308 312 316 320 324 328 332 334 336 340 344 348 352 356 360 364 368 372 376 380 384
    388 392 398 400 404 408 410 414 417 418 422 426 428 430 434 438 440 442 446 450 454 458
    462 466 470 474 478 480 484 492 496 498 499 500 504 508 512 516 520 524 528 531 533 534
    535 540 548 554 558 562 566 570 574 578 580 581 583 584 585 586 591 598 600 604 608 612
    616 620 624 626 630 634 638 642 643 646 652 654 659 660 662 663 666 670 674 678 682 686
    688 690 694 702 703 704 705 706 710 716 724 728 729 732 740 744 748 752 756 760 762 764
    768 772 776 780 784 788 792 795 796 798 800 804 807 818 826 831 832 833 834 840 850 854
    858 860 862 876 882 887 894
    """
)
"""ISO 3166-1 numeric (num-3) country codes."""

ISO3166_ALPHA2 = _codes(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
    DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP
    GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
    KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
    MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
    PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM
    US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """
)
"""ISO 3166-1 alpha-2 country codes."""

ISO4217_NUMERIC = _codes(
    """
    008 012 032 036 044 048 050 051 052 060 064 068 072 084 090 096 104 108 116 124 132 136
    144 152 156 170 174 188 191 192 203 208 214 222 230 232 238 242 262 270 292 320 324 328
    332 340 344 348 352 356 360 364 368 376 388 392 398 400 404 408 410 414 417 418 422 426
    430 434 446 454 458 462 480 484 496 498 504 512 516 524 532 533 548 554 558 566 578 586
    590 598 600 604 608 634 643 646 654 682 690 694 702 704 706 710 728 748 752 756 760 764
    776 780 784 788 800 807 818 826 834 840 858 860 882 886 901 925 927 928 929 930 931 932
    933 934 936 938 940 941 943 944 946 947 948 949 950 951 952 953 955 956 957 958 959 960
    961 962 963 964 965 967 968 969 970 971 972 973 975 976 977 978 979 980 981 984 985 986
    990 994 997 999
    """
)
"""ISO 4217 numeric currency codes."""

PACKAGE_TYPES = _codes(
    """
    1A 1B 1D 1F 1G 1W 200 201 202 203 204 205 206 210 211 212 2C 3A 3H 43 44 4A 4B 4C 4D 4F
    4G 4H 5H 5L 5M 6H 6P 7A 7B 8 8A 8B 8C 9 AA AB AC AD AF AG AH AI AJ AL AM AP APE AT AV B4
    BB BC BD BE BF BG BGE BH BI BJ BK BL BM BME BN BO BP BQ BR BRI BS BT BU BV BW BX BY BZ
    CA CB CBL CC CCE CD CE CF CG CH CI CJ CK CL CM CN CO CP CQ CR CS CT CU CV CW CX CY CZ DA
    DB DC DG DH DI DJ DK DL DM DN DP DPE DR DS DT DU DV DW DX DY E1 E2 E3 EC ED EE EF EG EH
    EI EN FB FC FD FE FI FL FO FOB FP FPE FR FT FW FX GB GI GL GR GU GY GZ HA HB HC HG HN HR
    IA IB IC ID IE IF IG IH IK IL IN IZ JB JC JG JR JT JY KG KI LAB LE LG LT LU LV LZ MA MB
    MC ME MPE MR MS MT MW MX NA NE NF NG NS NT NU NV OA OB OC OD OE OF OK OPE OT OU P2 PA
    PAE PB PC PD PE PF PG PH PI PJ PK PL PLP PN PO POP PP PPE PR PT PU PUE PV PX PY PZ QA QB
    QC QD QF QG QH QJ QK QL QM QN QP QQ QR QS RB1 RB2 RB3 RCB RD RG RJ RK RL RO RT RZ S1 SA
    SB SC SD SE SEC SH SI SK SL SM SO SP SS ST STL SU SV SW SX SY SZ T1 TB TC TD TE TEV TG
    THE TI TK TL TN TO TR TRE TS TT TTE TU TV TW TWE TY TZ UC UN UUE VA VG VI VK VL VN VO VP
    VQ VR VS VY WA WB WC WD WF WG WH WJ WK WL WM WN WP WQ WR WRP WS WT WU WV WW WX WY WZ X11
    X12 X15 X16 X17 X18 X19 X20 X3 XA XB XC XD XF XG XH XJ XK YA YB YC YD YF YG YH YJ YK YL
    YM YN YP YQ YR YS YT YV YW YX YY YZ ZA ZB ZC ZD ZF ZG ZH ZJ ZK ZL ZM ZN ZP ZQ ZR ZS ZT
    ZU ZV ZW ZX ZY ZZ
    """
)
"""UN/ECE Recommendation 21 package type codes with the GS1 additions (PackageTypeCode list)."""

MEDIA_TYPES = frozenset(f"{n:02d}" for n in (*range(1, 11), *range(80, 100)))
"""AIDC media type values (GenSpecs table "AIDC media type values")."""


def _member(code: str, values: frozenset[str], what: str) -> Linter:
    def lint(data: str, _year: int) -> Failure | None:
        return None if data in values else (code, 0, len(data), what, repr(data))

    lint.__doc__ = f"The data is {what}."
    return lint


lint_iso3166 = _member("gs1.not_iso3166", ISO3166_NUMERIC, "an ISO 3166 numeric country code")
lint_iso3166999 = _member(
    "gs1.not_iso3166_or_999", ISO3166_NUMERIC | {"999"}, "an ISO 3166 numeric country code or 999"
)
lint_iso3166alpha2 = _member(
    "gs1.not_iso3166_alpha2", ISO3166_ALPHA2, "an ISO 3166 alpha-2 country code"
)
lint_iso4217 = _member("gs1.not_iso4217", ISO4217_NUMERIC, "an ISO 4217 numeric currency code")
lint_iso5218 = _member(
    "gs1.invalid_biological_sex", frozenset("0129"), "an ISO 5218 code 0, 1, 2 or 9"
)
lint_mediatype = _member("gs1.invalid_media_type", MEDIA_TYPES, "an AIDC media type 01–10 or 80–99")
lint_packagetype = _member("gs1.invalid_package_type", PACKAGE_TYPES, "a PackageTypeCode")
lint_winding = _member(
    "gs1.invalid_winding_direction", frozenset("019"), "a winding direction 0, 1 or 9"
)
lint_yesno = _member("gs1.not_zero_or_one", frozenset("01"), "0 or 1")
lint_zero = _member("gs1.not_zero", frozenset({"0"}), "0")
lint_importeridx = _member(
    "gs1.invalid_importer_index",
    frozenset("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"),
    "an importer index (-, 0-9, A-Z, _ or a-z)",
)


# --- value rules ------------------------------------------------------------------------------


def lint_nonzero(data: str, _year: int) -> Failure | None:
    """The numeric value is not zero (AI 8001 dimensions)."""
    return (
        None
        if data.strip("0")
        else ("gs1.illegal_zero_value", 0, len(data), "a non-zero value", data)
    )


def lint_nozeroprefix(data: str, _year: int) -> Failure | None:
    """A number longer than one digit does not start with 0 (AI 8011 CPID serial)."""
    if len(data) > 1 and data[0] == "0":
        return ("gs1.illegal_zero_prefix", 0, 1, "no leading zero", data)
    return None


def lint_hasnondigit(data: str, _year: int) -> Failure | None:
    """At least one character is not a digit (AI 8014 MUDI)."""
    if data.isdigit():
        return ("gs1.requires_non_digit", 0, len(data), "at least one non-digit character", data)
    return None


def lint_hyphen(data: str, _year: int) -> Failure | None:
    """The component is a hyphen (the negative sign of AIs 4330–4333)."""
    return None if data.strip("-") == "" else ("gs1.not_hyphen", 0, len(data), "'-'", repr(data))


def lint_pieceoftotal(data: str, _year: int) -> Failure | None:
    """``NNTT``: piece number NN of a total TT, both non-zero, NN ≤ TT (AIs 8006, 8026)."""
    piece, total = int(data[:2]), int(data[2:4])
    if piece == 0:
        return ("gs1.zero_piece_number", 0, 2, "a piece number from 01", data[:2])
    if total == 0:
        return ("gs1.zero_total_pieces", 2, 2, "a total number of pieces from 01", data[2:4])
    if piece > total:
        return ("gs1.piece_exceeds_total", 0, 4, f"a piece number at most {total:02d}", data[:2])
    return None


def lint_posinseqslash(data: str, _year: int) -> Failure | None:
    """``P/T``: position P of T in a sequence, 1 ≤ P ≤ T (AI 7258 birth sequence)."""
    position, slash, total = data.partition("/")
    if not slash or not position.isdigit() or not total.isdigit():
        return ("gs1.invalid_position_in_sequence", 0, len(data), "'position/total'", repr(data))
    if int(position) == 0 or int(total) == 0 or int(position) > int(total):
        return (
            "gs1.invalid_position_in_sequence",
            0,
            len(data),
            "1 ≤ position ≤ total",
            repr(data),
        )
    return None


def lint_latitude(data: str, _year: int) -> Failure | None:
    """Latitude encoded as (degrees + 90) × 10⁷, at most 1800000000."""
    value = int(data)
    return (
        None
        if value <= 1_800_000_000
        else ("gs1.invalid_latitude", 0, len(data), "at most 1800000000", data)
    )


def lint_longitude(data: str, _year: int) -> Failure | None:
    """Longitude encoded as (degrees + 180) × 10⁷, at most 3600000000."""
    value = int(data)
    return (
        None
        if value <= 3_600_000_000
        else ("gs1.invalid_longitude", 0, len(data), "at most 3600000000", data)
    )


_HEX = frozenset("0123456789ABCDEFabcdef")


def lint_pcenc(data: str, _year: int) -> Failure | None:
    """Every ``%`` starts a ``%hh`` percent-encoded byte (name and address AIs 4300…, 7253…)."""
    index = data.find("%")
    while index != -1:
        if len(data) < index + 3 or data[index + 1] not in _HEX or data[index + 2] not in _HEX:
            return (
                "gs1.invalid_percent_sequence",
                index,
                min(3, len(data) - index),
                "'%hh'",
                repr(data[index : index + 3]),
            )
        index = data.find("%", index + 3)
    return None


def lint_iban(data: str, _year: int) -> Failure | None:
    """An IBAN: country code, two check digits, BBAN; mod 97 equals 1 (ISO 13616, AI 8007)."""
    if len(data) < 5:
        return ("gs1.iban_too_short", 0, len(data), "at least 5 characters", str(len(data)))
    for index, char in enumerate(data):
        if not ("0" <= char <= "9" or "A" <= char <= "Z"):
            return ("gs1.invalid_iban_character", index, 1, "0-9 or A-Z", repr(char))
    if data[:2] not in ISO3166_ALPHA2:
        return ("gs1.invalid_iban_country", 0, 2, "an ISO 3166 alpha-2 country code", data[:2])
    rearranged = data[4:] + data[:4]
    number = int("".join(str(int(char, 36)) for char in rearranged))
    if number % 97 != 1:
        return ("gs1.iban_check_digits", 2, 2, "IBAN check digits giving mod 97 = 1", data[2:4])
    return None


def lint_noop(_data: str, _year: int) -> Failure | None:
    """Accept anything: used for linters listed in :data:`UNIMPLEMENTED_LINTERS`."""
    return None


UNIMPLEMENTED_LINTERS = frozenset({"couponcode", "couponposoffer"})
"""Linters accepted without checks: the North American coupon AIs 8110/8112 (never on devices)."""

LINTERS: dict[str, Linter] = {
    "csum": lint_csum,
    "csumalpha": lint_csumalpha,
    "gcppos1": lint_gcppos1,
    "gcppos2": lint_gcppos2,
    "hasnondigit": lint_hasnondigit,
    "hh": lint_hh,
    "hhmi": lint_hhmi,
    "hyphen": lint_hyphen,
    "iban": lint_iban,
    "importeridx": lint_importeridx,
    "iso3166": lint_iso3166,
    "iso3166999": lint_iso3166999,
    "iso3166alpha2": lint_iso3166alpha2,
    "iso4217": lint_iso4217,
    "iso5218": lint_iso5218,
    "latitude": lint_latitude,
    "longitude": lint_longitude,
    "mediatype": lint_mediatype,
    "mi": lint_mi,
    "nonzero": lint_nonzero,
    "nozeroprefix": lint_nozeroprefix,
    "packagetype": lint_packagetype,
    "pcenc": lint_pcenc,
    "pieceoftotal": lint_pieceoftotal,
    "posinseqslash": lint_posinseqslash,
    "ss": lint_ss,
    "winding": lint_winding,
    "yesno": lint_yesno,
    "yymmd0": lint_yymmd0,
    "yymmdd": lint_yymmdd,
    "yyyymmdd": lint_yyyymmdd,
    "zero": lint_zero,
    **dict.fromkeys(UNIMPLEMENTED_LINTERS, lint_noop),
}
"""Every linter name the Syntax Dictionary uses, mapped to its implementation."""
