"""ISO/IEC 15434 ``[)>`` envelopes: GS1 element strings (format 05) and ANSI MH10.8.2 (06).

A message is ``[)>`` + RS, then one format envelope, ``05``/``06`` + GS + data, closed by RS, and
the message trailer EOT (RS = ``\\x1e``, GS = ``\\x1d``, EOT = ``\\x04``):

* **05**: GS1 element strings, GS-separated; they are handed to the GS1 parser.
* **06**: ANSI MH10.8.2 data identifiers, GS-separated. IFA labels (securPharm, EU MDR) use
  ``9N`` PPN, ``1T`` lot, ``S`` serial, ``D`` expiry YYMMDD, ``14D`` expiry YYYYMMDD, ``16D``
  manufacture date YYYYMMDD, ``Q`` quantity; ``8P`` carries a GTIN.

The PPN is PRA code (2 digits) + product number + 2 check digits: the sum of each character's
ASCII value times its position weight (2, 3, 4… from the left) modulo 97. For PRA ``11`` the
product number is the 8-digit PZN, whose own last digit is a mod-11 check.

>>> GS, RS, EOT = "\\x1d", "\\x1e", "\\x04"
>>> scan = f"[)>{RS}06{GS}9N110375286414{GS}1T12345ABCDE{GS}D270600{GS}S12345ABCDEF98765{RS}{EOT}"
>>> ifa = parse_iso15434(scan, ParseConfig())
>>> (ifa.agency, ifa.di, ifa.lot, ifa.serial, ifa.expiry_date.value.isoformat())
(<Agency.IFA: 'IFA'>, '110375286414', '12345ABCDE', '12345ABCDEF98765', '2027-06-30')
>>> ppn_check_digits("1103752864")
'14'

References:
    ISO/IEC 15434 (syntax for high-capacity ADC media); ANSI MH10.8.2 (data identifiers);
    IFA "PPN Pharmacy Product Number – Technical Specification" (check digits, PRA codes) and
    "IFA Coding System – PPN-Code Specification for Retail Packaging".
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from dataclasses import dataclass, field
from datetime import date

from udi.checksums import gs1_mod10, gs1_mod10_is_valid
from udi.config import ParseConfig
from udi.errors import Issue, ParseError
from udi.result import Agency, DatePrecision, Element, Udi, UdiDate

FORMAT = "iso15434"
RS, GS, EOT = "\x1e", "\x1d", "\x04"
HEADER = "[)>" + RS

_DATA_IDENTIFIER = re.compile(r"(\d{0,3})([A-Z])")
_FIELDS: dict[str, tuple[str, str]] = {
    "9N": ("ppn", "PPN (pharmacy product number)"),
    "8P": ("gtin", "GTIN"),
    "1T": ("lot", "lot number"),
    "S": ("serial", "serial number"),
    "D": ("expiry_date", "expiry date (YYMMDD)"),
    "14D": ("expiry_date", "expiry date (YYYYMMDD)"),
    "16D": ("production_date", "manufacture date (YYYYMMDD)"),
    "Q": ("quantity", "quantity"),
}
_MAX_VALUE = {"1T": 20, "S": 20}


def ppn_check_digits(data: str) -> str:
    """Return the two PPN check digits for ``data`` (PRA code + product number).

    References:
        IFA PPN Technical Specification, "Calculation of PPN check digits".
    """
    return f"{sum(ord(char) * weight for weight, char in enumerate(data, start=2)) % 97:02d}"


def parse_iso15434(text: str, config: ParseConfig) -> Udi:
    """Interpret an ISO/IEC 15434 message with one format 05 or 06 envelope.

    Args:
        text: The scan content, starting ``[)>`` + RS; remapped group separators are already GS.
        config: Passed to the GS1 parser for format 05.

    Returns:
        For 05, the GS1 parser's :class:`Udi` with positions moved into ``text``. For 06 with a
        ``9N`` PPN, a :class:`Udi` with agency IFA and ``di`` = the PPN (agency GS1 and ``di`` =
        GTIN when only ``8P`` identifies the item).

    Raises:
        ParseError: codes ``iso15434.*`` (or the GS1 parser's, shifted) with positions in ``text``.
    """
    if not text.startswith(HEADER):
        got = repr(text[:4])
        raise _error("iso15434.header", f"Expected the header '[)>' + RS, got {got}.", 0, 4)
    start = len(HEADER)
    fmt = text[start : start + 2]
    warnings: list[Issue] = []
    end = _envelope_end(text, start, warnings)
    if text[start + 2 : start + 3] != GS and fmt in ("05", "06"):
        raise _error(
            "iso15434.format_header",
            f"Expected GS after format {fmt!r}, got {text[start + 2 : start + 3]!r}.",
            start + 2,
            1,
        )
    data_start = start + 3
    if fmt == "05":
        udi = _parse_format_05(text[data_start:end], data_start, config)
    elif fmt == "06":
        udi = _Format06(text, config).read(data_start, end)
    else:
        raise _error(
            "iso15434.format",
            f"Expected format '05' (GS1) or '06' (ANSI MH10.8.2), got {fmt!r}.",
            start,
            2,
        )
    return dataclasses.replace(
        udi, other={**udi.other, "iso15434_format": fmt}, warnings=udi.warnings + tuple(warnings)
    )


def _error(code: str, message: str, position: int, length: int = 0) -> ParseError:
    return ParseError.single(code, message, position, length, FORMAT)


def _envelope_end(text: str, start: int, warnings: list[Issue]) -> int:
    """Where the format envelope's data ends: at its RS; tolerate a missing RS/EOT trailer."""
    rs = text.find(RS, start)
    if rs < 0:
        warnings.append(
            Issue(
                "iso15434.missing_trailer",
                "Expected RS + EOT at the end of the message, got no trailer (read to the end).",
                len(text),
                0,
                FORMAT,
            )
        )
        return len(text)
    rest = text[rs + 1 :]
    if rest == EOT:
        return rs
    if rest == "":
        warnings.append(
            Issue(
                "iso15434.missing_trailer",
                "Expected EOT after the final RS, got nothing.",
                len(text),
                0,
                FORMAT,
            )
        )
        return rs
    raise _error(
        "iso15434.multiple_envelopes",
        f"Expected one format envelope followed by EOT, got {rest[:6]!r} after its RS.",
        rs + 1,
        len(rest),
    )


def _parse_format_05(data: str, offset: int, config: ParseConfig) -> Udi:
    # Imported here: the GS1 parser is its own module (and a heavier import) used only for 05.
    from udi import gs1

    try:
        udi = gs1.parse_element_string(data, config)
    except ParseError as error:
        raise error.shifted(offset) from None
    return dataclasses.replace(
        udi,
        elements=tuple(element.shifted(offset) for element in udi.elements),
        warnings=tuple(issue.shifted(offset) for issue in udi.warnings),
    )


@dataclass
class _Format06:
    """Reads GS-separated ANSI MH10.8.2 data identifiers (the IFA subset)."""

    text: str
    config: ParseConfig
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    dates: dict[str, UdiDate] = field(default_factory=dict)

    def error(self, code: str, message: str, position: int, length: int = 0) -> None:
        self.errors.append(Issue(code, message, position, length, FORMAT))

    def read(self, start: int, end: int) -> Udi:
        position = start
        for field_text in self.text[start:end].split(GS):
            if field_text:  # a doubled GS is a scanner quirk, not data
                self._read_field(field_text, position)
            position += len(field_text) + 1
        if not self.errors and "ppn" not in self.values and "gtin" not in self.values:
            self.error(
                "iso15434.missing_identifier",
                "Expected a 9N (PPN) or 8P (GTIN) data identifier, got neither.",
                start,
                end - start,
            )
        if self.errors:
            raise ParseError(sorted(self.errors, key=lambda issue: issue.position))
        return self._udi()

    def _read_field(self, field_text: str, position: int) -> None:
        match = _DATA_IDENTIFIER.match(field_text)
        identifier = match.group(0) if match else ""
        if identifier not in _FIELDS:
            self.error(
                "iso15434.unknown_data_identifier",
                f"Expected a data identifier 9N, 8P, 1T, S, D, 14D, 16D or Q, got"
                f" {field_text[:4]!r}.",
                position,
                len(field_text),
            )
            return
        name, title = _FIELDS[identifier]
        value = field_text[len(identifier) :]
        value_at = position + len(identifier)
        self.elements.append(Element(identifier, title, value, position, len(field_text)))
        if name in self.values or name in self.dates:
            self.error(
                "iso15434.duplicate",
                f"Expected one {title}, got a second one.",
                position,
                len(field_text),
            )
        elif self._valid(identifier, value, value_at):
            self._store(identifier, name, value, value_at)

    def _valid(self, identifier: str, value: str, position: int) -> bool:
        limit = _MAX_VALUE.get(identifier)
        if not value or (limit is not None and len(value) > limit):
            self.error(
                "iso15434.value_length",
                f"Expected 1-{limit or 'n'} characters after {identifier!r}, got {len(value)}.",
                position,
                len(value),
            )
            return False
        bad = next(
            (i for i, c in enumerate(value) if not (c.isascii() and (c.isalnum() or c in "-_"))), -1
        )
        if bad >= 0:
            self.error(
                "iso15434.invalid_character",
                f"Expected letters, digits, '-' or '_' after {identifier!r}, got {value[bad]!r}.",
                position + bad,
                1,
            )
            return False
        return True

    def _store(self, identifier: str, name: str, value: str, position: int) -> None:
        if identifier == "9N":
            self._check_ppn(value, position)
        elif identifier == "8P":
            self._check_gtin(value, position)
        elif identifier in ("D", "14D", "16D"):
            self._store_date(identifier, name, value, position)
            return
        elif identifier == "Q" and not value.isdigit():
            self.error(
                "iso15434.quantity",
                f"Expected quantity digits, got {value!r}.",
                position,
                len(value),
            )
            return
        self.values[name] = value

    def _check_ppn(self, ppn: str, position: int) -> None:
        if len(ppn) < 5 or not ppn[:2].isdigit() or not ppn[-2:].isdigit():
            self.error(
                "iso15434.ppn_structure",
                f"Expected a PPN of PRA code (2 digits), product number and 2 check digits, got"
                f" {ppn!r}.",
                position,
                len(ppn),
            )
            return
        expected = ppn_check_digits(ppn[:-2])
        if ppn[-2:] != expected:
            self.error(
                "iso15434.ppn_check_digits",
                f"Expected PPN check digits {expected!r}, got {ppn[-2:]!r}.",
                position + len(ppn) - 2,
                2,
            )
        if ppn[:2] == "11":
            self._check_pzn(ppn[2:-2], position + 2)

    def _check_pzn(self, pzn: str, position: int) -> None:
        """PRA 11 means the German PZN: 8 digits, the last a mod-11 check (weights 1–7)."""
        if len(pzn) != 8 or not pzn.isdigit():
            self.error(
                "iso15434.pzn",
                f"Expected an 8-digit PZN after PRA code 11, got {pzn!r}.",
                position,
                len(pzn),
            )
            return
        check = sum(int(digit) * weight for weight, digit in enumerate(pzn[:7], start=1)) % 11
        if check == 10 or str(check) != pzn[7]:
            expected = repr(str(check)) if check != 10 else "none (such a PZN is never issued)"
            self.error(
                "iso15434.pzn_check_digit",
                f"Expected PZN check digit {expected}, got {pzn[7]!r}.",
                position + 7,
                1,
            )

    def _check_gtin(self, gtin: str, position: int) -> None:
        if len(gtin) != 14 or not gtin.isdigit():
            self.error(
                "iso15434.gtin",
                f"Expected a 14-digit GTIN after '8P', got {gtin!r}.",
                position,
                len(gtin),
            )
        elif not gs1_mod10_is_valid(gtin):
            self.error(
                "iso15434.gtin_check_digit",
                f"Expected GTIN check digit {gs1_mod10(gtin[:13])}, got {gtin[13]}.",
                position + 13,
                1,
            )

    def _store_date(self, identifier: str, name: str, value: str, position: int) -> None:
        try:
            self.dates[name] = read_mh10_date(value, "YYMMDD" if identifier == "D" else "YYYYMMDD")
        except ValueError as bad:
            self.error("iso15434.date", str(bad), position, len(value))

    def _udi(self) -> Udi:
        ppn, gtin = self.values.get("ppn"), self.values.get("gtin")
        other = {"ppn": ppn} if ppn else {}
        quantity = self.values.get("quantity")
        return Udi(
            agency=Agency.IFA if ppn else Agency.GS1,
            di=ppn or gtin,
            gtin=gtin,
            lot=self.values.get("lot"),
            serial=self.values.get("serial"),
            production_date=self.dates.get("production_date"),
            expiry_date=self.dates.get("expiry_date"),
            quantity=int(quantity) if quantity else None,
            elements=tuple(self.elements),
            other=other,
            hri=None,
            warnings=tuple(self.warnings),
        )


def read_mh10_date(value: str, fmt: str) -> UdiDate:
    """Read ``D`` (YYMMDD) or ``14D``/``16D`` (YYYYMMDD); DD ``00`` means the month's last day.

    Two-digit years are 20YY: the IFA specification states expiry dates are in the 21st
    century (so, unlike GS1, no sliding window).

    >>> read_mh10_date("270600", "YYMMDD").value.isoformat()
    '2027-06-30'

    Raises:
        ValueError: with an "Expected …, got …." message.
    """
    if len(value) != len(fmt) or not value.isdigit():
        raise ValueError(f"Expected {len(fmt)} digits ({fmt}), got {value!r}.")
    year = int(value[:-4]) + (2000 if fmt == "YYMMDD" else 0)
    month, day = int(value[-4:-2]), int(value[-2:])
    if not 1 <= month <= 12:
        raise ValueError(f"Expected a month 01-12, got {value[-4:-2]!r} in {value!r}.")
    if day == 0:
        last = calendar.monthrange(year, month)[1]
        return UdiDate(date(year, month, last), value, fmt, DatePrecision.MONTH)
    try:
        return UdiDate(date(year, month, day), value, fmt, DatePrecision.DAY)
    except ValueError:
        raise ValueError(f"Expected a valid {fmt} date, got {value!r}.") from None
