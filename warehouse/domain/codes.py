"""Chinese business codes: unified social credit codes and administrative division codes.

Both are frozen values with a ``parse`` classmethod that returns a valid value or raises a
specific :class:`~warehouse.errors.InvalidCodeError` whose message says what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from warehouse.errors import InvalidCreditCodeError, InvalidDivisionCodeError

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of GB 32100-2015; I, O, S, V and Z are left out to avoid misreading."""

CREDIT_CODE_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
"""Weights of positions 1-17: 3^(i-1) mod 31, i.e. 1, 3, 9, 27, 19, 26, 16, 17, 20, 29…"""

_CREDIT_CODE_VALUES = {char: value for value, char in enumerate(CREDIT_CODE_ALPHABET)}


def credit_code_check_character(body: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 characters of a credit code.

    Args:
        body: The 17 characters before the check character, all from
            :data:`CREDIT_CODE_ALPHABET`.

    Returns:
        The 18th character: ``31 - (sum of value x weight) mod 31``, where 31 maps to ``0``.

    Raises:
        InvalidCreditCodeError: If ``body`` is not 17 characters of the alphabet.

    References:
        GB 32100-2015 法人和其他组织统一社会信用代码编码规则, 4.5 and appendix B.
    """
    if len(body) != 17:
        raise InvalidCreditCodeError(body, f"Expected 17 characters, got {len(body)}.")
    _check_alphabet(body, body)
    total = sum(_CREDIT_CODE_VALUES[c] * w for c, w in zip(body, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def _check_alphabet(value: str, text: str) -> None:
    for position, char in enumerate(text, start=1):
        if char not in _CREDIT_CODE_VALUES:
            raise InvalidCreditCodeError(
                value,
                f"Expected a character of {CREDIT_CODE_ALPHABET} at position {position}, "
                f"got {char!r}.",
            )


@dataclass(frozen=True, slots=True)
class UnifiedSocialCreditCode:
    """A unified social credit code (统一社会信用代码) of a legal entity or other organisation.

    The check character is guaranteed to be valid if an object is returned by :meth:`parse`.
    A few codes issued by pilot regions before the standard do not satisfy it; they are refused
    and need a manual exception in the service layer.

    References:
        GB 32100-2015, section 4: 1 registration authority + 1 entity category + 6 division
        code (GB/T 2260 of the registering authority) + 9 organisation code + 1 check character.
    """

    value: str
    """The 18 characters, upper case."""

    @classmethod
    def parse(cls, text: str) -> UnifiedSocialCreditCode:
        """Parse a credit code, tolerating surrounding spaces and lower case.

        Raises:
            InvalidCreditCodeError: On a wrong length, a character outside the alphabet,
                non-digits in the division code or a wrong check character.
        """
        value = text.strip().upper()
        if len(value) != 18:
            raise InvalidCreditCodeError(text, f"Expected 18 characters, got {len(value)}.")
        _check_alphabet(text, value)
        if not value[2:8].isdigit():
            raise InvalidCreditCodeError(
                text, f"Expected 6 digits at positions 3-8 (division code), got {value[2:8]!r}."
            )
        expected = credit_code_check_character(value[:17])
        if value[17] != expected:
            raise InvalidCreditCodeError(
                text, f"Expected check character {expected}, got {value[17]}."
            )
        return cls(value)

    @property
    def registration_authority(self) -> str:
        """Position 1: the registering department (``9`` = market regulation, ``5`` = civil)."""
        return self.value[0]

    @property
    def entity_category(self) -> str:
        """Position 2: the kind of entity within that department (``1`` = company for ``9``)."""
        return self.value[1]

    @property
    def division(self) -> str:
        """Positions 3-8: the registering authority's division code (``100000`` = national)."""
        return self.value[2:8]

    @property
    def organisation_code(self) -> str:
        """Positions 9-17: the organisation code (GB 11714), its own check digit included."""
        return self.value[8:17]

    def __str__(self) -> str:
        return self.value


PROVINCES: dict[str, str] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
}
"""Province-level codes of GB/T 2260 (first two digits) with their names."""


class DivisionLevel(StrEnum):
    """Level of an administrative division code."""

    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {"province": "省级", "city": "地级", "district": "县级"}[self.value]


@dataclass(frozen=True, slots=True)
class DivisionCode:
    """A 6-digit administrative division code (行政区划代码) of GB/T 2260.

    Digits 1-2 are the province, 3-4 the city within it (``00`` at province level) and 5-6 the
    district or county (``00`` at city level). Queries by jurisdiction compare prefixes of 2, 4
    or 6 digits, which is what :meth:`within` does.

    The code is checked for shape and a known province only: the list of cities and districts
    changes every year and belongs in reference data, not in code.
    """

    value: str
    """The 6 digits."""

    @classmethod
    def parse(cls, text: str) -> DivisionCode:
        """Parse a 6-digit division code.

        Raises:
            InvalidDivisionCodeError: If the text is not 6 digits, names an unknown province,
                or has district digits under a ``00`` city.
        """
        value = text.strip()
        if len(value) != 6 or not value.isascii() or not value.isdigit():
            raise InvalidDivisionCodeError(text, f"Expected 6 digits, got {value!r}.")
        if value[:2] not in PROVINCES:
            raise InvalidDivisionCodeError(
                text, f"Expected a GB/T 2260 province code, got {value[:2]!r}."
            )
        if value[2:4] == "00" and value[4:] != "00":
            raise InvalidDivisionCodeError(
                text, f"Expected district digits 00 at province level, got {value[4:]!r}."
            )
        return cls(value)

    @staticmethod
    def parse_prefix(text: str | DivisionCode) -> str:
        """Return the significant prefix (2, 4 or 6 digits) of a jurisdiction filter.

        A full code such as ``440300`` is reduced to its significant digits (``4403``), so a
        regulator's jurisdiction may be given either way.

        Raises:
            InvalidDivisionCodeError: If the text is not 2, 4 or 6 digits.
        """
        if isinstance(text, DivisionCode):
            return text.prefix
        value = text.strip()
        if len(value) not in (2, 4, 6) or not value.isascii() or not value.isdigit():
            raise InvalidDivisionCodeError(
                text, f"Expected a prefix of 2, 4 or 6 digits, got {value!r}."
            )
        if len(value) == 6:
            return DivisionCode.parse(value).prefix
        return value

    @property
    def level(self) -> DivisionLevel:
        """Province, city or district, from the trailing zero pairs."""
        if self.value[2:] == "0000":
            return DivisionLevel.PROVINCE
        if self.value[4:] == "00":
            return DivisionLevel.CITY
        return DivisionLevel.DISTRICT

    @property
    def prefix(self) -> str:
        """The significant digits: 2 for a province, 4 for a city, 6 for a district."""
        return self.value[: {"province": 2, "city": 4, "district": 6}[self.level]]

    @property
    def province(self) -> DivisionCode:
        """The province this code lies in (itself at province level)."""
        return DivisionCode(self.value[:2] + "0000")

    @property
    def city(self) -> DivisionCode | None:
        """The city this code lies in, or None for a province."""
        if self.level is DivisionLevel.PROVINCE:
            return None
        return DivisionCode(self.value[:4] + "00")

    @property
    def province_name(self) -> str:
        """Chinese name of the province."""
        return PROVINCES[self.value[:2]]

    def within(self, prefix: str | DivisionCode) -> bool:
        """Return whether this code lies inside the jurisdiction ``prefix``.

        Args:
            prefix: 2, 4 or 6 digits, or a :class:`DivisionCode` (its significant prefix).

        Raises:
            InvalidDivisionCodeError: If ``prefix`` is malformed.
        """
        return self.value.startswith(DivisionCode.parse_prefix(prefix))

    def __str__(self) -> str:
        return self.value
