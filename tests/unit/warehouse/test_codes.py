"""Unified social credit codes (GB 32100-2015) and division codes (GB/T 2260)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.domain.codes import (
    CREDIT_CODE_ALPHABET,
    CREDIT_CODE_WEIGHTS,
    DivisionCode,
    DivisionLevel,
    UnifiedSocialCreditCode,
    credit_code_check_character,
)
from warehouse.errors import InvalidCreditCodeError, InvalidDivisionCodeError

# Published codes of well-known companies (business licences / annual reports).
REAL_CODES = [
    ("91440300708461136T", "深圳市腾讯计算机系统有限公司"),
    ("914403001922038216", "华为技术有限公司"),
    ("91330100716105852F", "阿里巴巴（中国）有限公司"),
    ("91110108551385082Q", "北京小米科技有限责任公司"),
]


def test_weights_are_powers_of_three_modulo_31() -> None:
    assert CREDIT_CODE_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_alphabet_has_31_characters_without_i_o_s_v_z() -> None:
    assert len(CREDIT_CODE_ALPHABET) == 31
    assert not set("IOSVZ") & set(CREDIT_CODE_ALPHABET)


@pytest.mark.parametrize(("code", "company"), REAL_CODES)
def test_published_credit_codes_parse(code: str, company: str) -> None:
    assert str(UnifiedSocialCreditCode.parse(code)) == code, company


def test_credit_code_is_split_into_its_parts() -> None:
    code = UnifiedSocialCreditCode.parse("91440300708461136T")

    assert (code.registration_authority, code.entity_category) == ("9", "1")
    assert code.division == "440300"
    assert code.organisation_code == "708461136"


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("91350200MA2XXXXXX", None),  # computed below, whatever it is, must round-trip
        ("91110000600037341", "L"),  # python-stdnum's documented example
        ("11100000000013127", "D"),  # a central-government body: division 100000
        ("00000000000000000", "0"),  # sum 0 -> 31 - 0 = 31 -> wraps to '0'
    ],
)
def test_check_character_is_computed_from_the_17_characters_before_it(
    body: str, check: str | None
) -> None:
    computed = credit_code_check_character(body)

    if check is not None:
        assert computed == check
    assert UnifiedSocialCreditCode.parse(body + computed).value == body + computed


def test_parse_tolerates_spaces_and_lower_case() -> None:
    assert UnifiedSocialCreditCode.parse(" 91440300708461136t ").value == "91440300708461136T"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9144030070846113", "Expected 18 characters, got 16."),
        ("91440300708461136TT", "Expected 18 characters, got 19."),
        (
            "91440300I08461136T",
            f"Expected a character of {CREDIT_CODE_ALPHABET} at position 9, got 'I'.",
        ),
        ("9144A300708461136T", "Expected 6 digits at positions 3-8 (division code), got '44A300'."),
        ("91440300708461136A", "Expected check character T, got A."),
    ],
)
def test_bad_credit_codes_are_refused_with_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(InvalidCreditCodeError) as raised:
        UnifiedSocialCreditCode.parse(text)

    assert raised.value.detail == message
    assert raised.value.value == text
    assert str(raised.value) == f"Failed to parse {text!r} as unified social credit code: {message}"


bodies = st.tuples(
    st.text(CREDIT_CODE_ALPHABET, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(CREDIT_CODE_ALPHABET, min_size=9, max_size=9),
).map("".join)


@given(body=bodies, position=st.integers(0, 17), shift=st.integers(1, 30))
def test_any_single_character_change_is_detected(body: str, position: int, shift: int) -> None:
    code = body + credit_code_check_character(body)
    changed_char = CREDIT_CODE_ALPHABET[(CREDIT_CODE_ALPHABET.index(code[position]) + shift) % 31]
    changed = code[:position] + changed_char + code[position + 1 :]

    assert UnifiedSocialCreditCode.parse(code).value == code
    if position in range(2, 8) and not changed_char.isdigit():
        return  # refused for its division digits before the check character is looked at
    with pytest.raises(InvalidCreditCodeError):
        UnifiedSocialCreditCode.parse(changed)


@pytest.mark.parametrize(
    ("text", "level", "prefix", "province", "city"),
    [
        ("440000", DivisionLevel.PROVINCE, "44", "440000", None),
        ("440300", DivisionLevel.CITY, "4403", "440000", "440300"),
        ("440305", DivisionLevel.DISTRICT, "440305", "440000", "440300"),
        ("110105", DivisionLevel.DISTRICT, "110105", "110000", "110100"),
        ("419001", DivisionLevel.DISTRICT, "419001", "410000", "419000"),
    ],
)
def test_division_code_knows_its_level_and_parents(
    text: str, level: DivisionLevel, prefix: str, province: str, city: str | None
) -> None:
    code = DivisionCode.parse(text)

    assert code.level is level
    assert code.prefix == prefix
    assert code.province.value == province
    assert (code.city.value if code.city else None) == city


def test_division_code_names_its_province() -> None:
    assert DivisionCode.parse("350203").province_name == "福建省"


@pytest.mark.parametrize(
    ("code", "prefix", "inside"),
    [
        ("440305", "44", True),
        ("440305", "4403", True),
        ("440305", "440305", True),
        ("440305", "440300", True),  # a full city code means the whole city
        ("440305", "440000", True),
        ("440305", "4401", False),
        ("440305", "45", False),
        ("440300", "440305", False),  # a city is not inside one of its districts
    ],
)
def test_division_code_lies_within_a_prefix(code: str, prefix: str, inside: bool) -> None:
    assert DivisionCode.parse(code).within(prefix) is inside


def test_division_code_lies_within_another_division_code() -> None:
    assert DivisionCode.parse("350203").within(DivisionCode.parse("350200"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("44030", "Expected 6 digits, got '44030'."),
        ("44O305", "Expected 6 digits, got '44O305'."),
        ("４４０３０５", "Expected 6 digits, got '４４０３０５'."),
        ("990000", "Expected a GB/T 2260 province code, got '99'."),
        ("440005", "Expected district digits 00 at province level, got '05'."),
    ],
)
def test_bad_division_codes_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidDivisionCodeError) as raised:
        DivisionCode.parse(text)

    assert raised.value.detail == message


@pytest.mark.parametrize("prefix", ["4", "440", "44030", "4403051", "abcd"])
def test_bad_jurisdiction_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(InvalidDivisionCodeError, match="Expected a prefix of 2, 4 or 6 digits"):
        DivisionCode.parse("440305").within(prefix)


@given(st.sampled_from(["110101", "310115", "440305", "650102", "820000", "419001"]))
def test_a_code_lies_within_its_own_province_city_and_prefix(text: str) -> None:
    code = DivisionCode.parse(text)

    assert code.within(code.prefix)
    assert code.within(code.province)
    assert code.city is None or code.within(code.city)
