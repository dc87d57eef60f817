"""Check digit and check character algorithms used by UDI issuing agencies.

>>> gs1_mod10("0401234567890")
1
>>> hibc_mod43("+A99912345/$$52001510X3")
'3'
>>> iso7064_mod37_2("G123498654321")  # the example of ISO/IEC 7064
'H'
"""

from __future__ import annotations

HIBC_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"
"""The 43 characters of Code 39 that HIBC data may use, in mod-43 value order."""

_HIBC_VALUES = {char: value for value, char in enumerate(HIBC_CHARSET)}

ISO7064_MOD37_2_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
"""Check characters of ISO/IEC 7064 MOD 37-2, by value (``*`` stands for 36)."""


def gs1_mod10(digits: str) -> int:
    """Return the GS1 check digit for ``digits`` (the data digits, without the check digit).

    Weights 3 and 1 alternate starting with 3 on the rightmost data digit.

    References:
        GS1 General Specifications, section 7.9.1 (standard check digit calculation).

    Raises:
        ValueError: if ``digits`` contains anything but ASCII digits.
    """
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"Expected only digits, got {digits!r}.")
    total = 0
    for index, char in enumerate(reversed(digits)):
        total += (ord(char) - 48) * (3 if index % 2 == 0 else 1)
    return (10 - total % 10) % 10


def gs1_mod10_is_valid(digits_with_check: str) -> bool:
    """True when the last digit is the GS1 check digit of the digits before it."""
    if len(digits_with_check) < 2 or not digits_with_check.isascii():
        return False
    if not digits_with_check.isdigit():
        return False
    return gs1_mod10(digits_with_check[:-1]) == ord(digits_with_check[-1]) - 48


def hibc_mod43(data: str) -> str:
    """Return the HIBC mod-43 check character of ``data`` (leading ``+`` included).

    References:
        ANSI/HIBC 2.6 Supplier Labeling Standard, Appendix B (mod-43 check character).

    Raises:
        ValueError: if ``data`` has a character outside the 43-character HIBC set.
    """
    total = 0
    for char in data:
        value = _HIBC_VALUES.get(char)
        if value is None:
            raise ValueError(f"Expected one of the 43 HIBC characters, got {char!r}.")
        total += value
    return HIBC_CHARSET[total % 43]


def iso7064_mod37_2(data: str) -> str:
    """Return the ISO/IEC 7064 MOD 37-2 check character of ``data`` (ISBT 128 DIN check).

    Digits count 0–9 and letters A–Z count 10–35; the result 36 is written ``*``.

    References:
        ISO/IEC 7064:2003 pure system MOD 37-2; ICCBBA ST-001 (keyboard entry check character).

    Raises:
        ValueError: if ``data`` has a character other than 0–9 or A–Z.
    """
    total = 0
    for char in data:
        value = ISO7064_MOD37_2_CHARSET.find(char)
        if value < 0 or value == 36:
            raise ValueError(f"Expected a digit or an upper-case letter, got {char!r}.")
        total = ((total + value) * 2) % 37
    return ISO7064_MOD37_2_CHARSET[(38 - total) % 37]
