"""GS1 identification keys used on medical devices: GTIN, SSCC and GLN.

Each ``parse`` classmethod returns a valid value or raises :class:`udi.errors.ParseError` whose
issue points at the offending character (the check digit for a wrong check digit).

>>> gtin = Gtin.parse("4012345678901")
>>> (gtin.value, gtin.format, gtin.packaging_indicator, gtin.gs1_prefix)
('04012345678901', <GtinFormat.GTIN_13: 'GTIN-13'>, 0, '401')
>>> Gtin.parse("04012345678902")
Traceback (most recent call last):
...
udi.errors.ParseError: Expected check digit 1 for GTIN, got 2.
>>> Sscc.parse("106141412345678908").extension_digit
1
>>> Gln.parse("4000001000005").gs1_prefix
'400'

References:
    GS1 General Specifications §3.3.2 (GTIN), §3.3.1 (SSCC), §3.7.9 (GLN), §7.9.1 (check
    digit), §2.1.6 (packaging indicator of a GTIN-14).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from udi._gs1_lint import mod10_check_digit
from udi.errors import ParseError


class GtinFormat(StrEnum):
    """The GTIN data structure a value was issued as (before zero-padding to 14 digits)."""

    GTIN_8 = "GTIN-8"
    GTIN_12 = "GTIN-12"
    GTIN_13 = "GTIN-13"
    GTIN_14 = "GTIN-14"


_FORMAT_BY_LENGTH = {
    8: GtinFormat.GTIN_8,
    12: GtinFormat.GTIN_12,
    13: GtinFormat.GTIN_13,
    14: GtinFormat.GTIN_14,
}


def _check_digits(value: str, name: str, position: int) -> None:
    for index, char in enumerate(value):
        if not "0" <= char <= "9":
            message = f"Expected only digits for {name}, got {char!r}."
            raise ParseError.single("gs1.non_digit", message, position + index, 1)


def _check_mod10(value: str, name: str, position: int) -> None:
    expected = mod10_check_digit(value[:-1])
    if ord(value[-1]) - 48 != expected:
        message = f"Expected check digit {expected} for {name}, got {value[-1]}."
        raise ParseError.single("gs1.check_digit", message, position + len(value) - 1, 1)


def _check_length(value: str, name: str, length: int, position: int) -> None:
    if len(value) != length:
        code = "gs1.value_too_short" if len(value) < length else "gs1.value_too_long"
        message = f"Expected {length} digits for {name}, got {len(value)}."
        raise ParseError.single(code, message, position, len(value))


def _detect_format(gtin14: str) -> GtinFormat:
    # A GTIN-14 with leading zeros is the zero-padded form of a shorter GTIN (GenSpecs §3.3.2).
    if gtin14.startswith("000000"):
        return GtinFormat.GTIN_8
    if gtin14.startswith("00"):
        return GtinFormat.GTIN_12
    if gtin14.startswith("0"):
        return GtinFormat.GTIN_13
    return GtinFormat.GTIN_14


@dataclass(frozen=True, slots=True)
class Gtin:
    """A Global Trade Item Number, normalised to 14 digits: the GS1 UDI-DI.

    References:
        GS1 General Specifications §3.3.2 (GTIN), §7.9.1 (check digit).
    """

    value: str
    """The GTIN-14: GTIN-8/12/13 left-padded with zeros; the check digit is unchanged."""

    format: GtinFormat
    """The structure it was given in (or, for 14 digits, the shortest one its zeros allow)."""

    @classmethod
    def parse(cls, value: str, *, position: int = 0) -> Gtin:
        """Parse 8, 12, 13 or 14 digits with a valid check digit.

        Args:
            value: The digits.
            position: Offset of ``value`` in the caller's text, added to issue positions.

        Raises:
            ParseError: ``gs1.non_digit``, ``gs1.gtin_length`` or ``gs1.check_digit``.
        """
        _check_digits(value, "GTIN", position)
        if len(value) not in _FORMAT_BY_LENGTH:
            message = f"Expected 8, 12, 13 or 14 digits for GTIN, got {len(value)}."
            raise ParseError.single("gs1.gtin_length", message, position, len(value))
        _check_mod10(value, "GTIN", position)
        gtin14 = value.zfill(14)
        given = _FORMAT_BY_LENGTH[len(value)]
        return cls(gtin14, _detect_format(gtin14) if given is GtinFormat.GTIN_14 else given)

    @property
    def packaging_indicator(self) -> int:
        """First digit of the GTIN-14: 0 base unit, 1–8 packaging levels, 9 variable measure."""
        return ord(self.value[0]) - 48

    @property
    def gs1_prefix(self) -> str:
        """The GS1 Prefix: first three digits of the GTIN-13 form, or of a GTIN-8.

        GS1 China prefixes are 690–699; 000–019 and 030–039 are UPC (US/Canada) ranges.
        """
        if self.format is GtinFormat.GTIN_8:
            return self.value[6:9]
        return self.value[1:4]

    @property
    def check_digit(self) -> int:
        """The mod-10 check digit."""
        return ord(self.value[-1]) - 48

    def as_format(self, format: GtinFormat) -> str:
        """The GTIN in a shorter (or the same) structure, when its leading zeros allow it."""
        length = int(format.value.rsplit("-", 1)[1])
        if self.value[: 14 - length].strip("0"):
            raise ValueError(f"Expected a GTIN that fits {format.value}, got {self.value}.")
        return self.value[14 - length :]


@dataclass(frozen=True, slots=True)
class Sscc:
    """A Serial Shipping Container Code (AI 00): the identity of a logistic unit.

    References:
        GS1 General Specifications §3.3.1 (SSCC), §7.9.1 (check digit).
    """

    value: str
    """The 18 digits."""

    @classmethod
    def parse(cls, value: str, *, position: int = 0) -> Sscc:
        """Parse 18 digits with a valid check digit.

        Raises:
            ParseError: ``gs1.non_digit``, ``gs1.value_too_short``/``gs1.value_too_long`` or
                ``gs1.check_digit``.
        """
        _check_digits(value, "SSCC", position)
        _check_length(value, "SSCC", 18, position)
        _check_mod10(value, "SSCC", position)
        return cls(value)

    @property
    def extension_digit(self) -> int:
        """The first digit, assigned freely by the company to extend its serial range."""
        return ord(self.value[0]) - 48

    @property
    def gs1_prefix(self) -> str:
        """The GS1 Prefix (three digits after the extension digit)."""
        return self.value[1:4]


@dataclass(frozen=True, slots=True)
class Gln:
    """A Global Location Number (AIs 410–417, e.g. 414 for a warehouse or site).

    References:
        GS1 General Specifications §3.7.9 (GLN), §7.9.1 (check digit).
    """

    value: str
    """The 13 digits."""

    @classmethod
    def parse(cls, value: str, *, position: int = 0) -> Gln:
        """Parse 13 digits with a valid check digit.

        Raises:
            ParseError: ``gs1.non_digit``, ``gs1.value_too_short``/``gs1.value_too_long`` or
                ``gs1.check_digit``.
        """
        _check_digits(value, "GLN", position)
        _check_length(value, "GLN", 13, position)
        _check_mod10(value, "GLN", position)
        return cls(value)

    @property
    def gs1_prefix(self) -> str:
        """The GS1 Prefix (first three digits)."""
        return self.value[:3]
