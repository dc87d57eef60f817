"""ICCBBA ISBT 128 data structures used on medical products of human origin (MPHO) as UDI.

An ISBT 128 scan is a run of fixed-length data structures, each introduced by a data identifier
that starts with ``=`` or ``&``. Only the structures that make up an MPHO UDI are read here:

=========  ====  ===================================================  ======================
DI         No.   Data structure                                       UDI field
=========  ====  ===================================================  ======================
``=/``     034   Processor Product Identification Code (16)           ``di``
``=α``     001   Donation Identification Number (13 + 2 flags)        ``other["donation_id"]``
``=>``     004   Expiration Date ``cyyjjj``                           ``expiry_date``
``&>``     005   Expiration Date and Time ``cyyjjjhhmm``              ``expiry_date``
``=}``     008   Production Date ``cyyjjj``                           ``production_date``
``&}``     009   Production Date and Time ``cyyjjjhhmm``              ``production_date``
``=,``     032   Product Divisions (6)                                ``serial``
``&,1``    035   MPHO Lot Number (18)                                 ``lot``
``&,2``    036   MPHO Supplemental Identification Number (18)         ``other``
``=+``     023   Compound Message ``aabbb`` (count + sequence)        ``other``
=========  ====  ===================================================  ======================

``α`` is the first character of the donation number's facility code (A–N, P–Z, 1–9): it is
both the second character of the data identifier and the first of the data.

Dates are ``cyyjjj``: century digit, year in the century, day of the year. The year is
2000 + 100·c + yy, so ``014032`` is day 32 of 2014 (2014-02-01), as AccessGUDID reads it.

>>> from udi.config import ParseConfig
>>> scan = parse_isbt128("=/A9999XYZ100T0944=,000025=A99971312345600=>014032", ParseConfig())
>>> (scan.di, scan.serial, scan.other["donation_id"], scan.expiry_date.value.isoformat())
('A9999XYZ100T0944', '000025', 'A99971312345600', '2014-02-01')
>>> try:
...     parse_isbt128("=/A9999XYZ100T0944=%5100", ParseConfig())
... except ParseError as error:
...     print(error.code, error.issues[0].position, error.issues[0].length)
isbt128.unknown_data_identifier 18 2

References:
    ICCBBA ST-001 ISBT 128 Standard Technical Specification, §2.4 (data structures 001, 004,
    005, 008, 009, 023, 032, 034, 035, 036) and Appendix A (DIN check characters); ST-017
    (MPHO UDI); ICCBBA "Technical Specification – HCT/P Medical Devices"; AccessGUDID
    parse_udi documentation (expiration date ``YYYJJJ`` example 014032 → 2014-02-01).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from udi.checksums import ISO7064_MOD37_2_CHARSET, iso7064_mod37_2
from udi.config import ParseConfig
from udi.errors import Issue, ParseError
from udi.result import Agency, DatePrecision, Element, Udi, UdiDate

FORMAT = "isbt128"

_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")
_DIN_FIRST = frozenset("ABCDEFGHIJKLMNPQRSTUVWXYZ123456789")
"""First DIN character: a letter other than O, or a digit other than 0 (ST-001 §2.4.1)."""


@dataclass(frozen=True, slots=True)
class _Spec:
    """A fixed-length data structure: what it is called and what its data may contain."""

    number: str
    key: str
    title: str
    length: int
    charset: frozenset[str]


_SPECS: dict[str, _Spec] = {
    "=/": _Spec("034", "ppic", "processor product identification code", 16, _ALNUM),
    "=>": _Spec("004", "expiry_date", "expiration date", 6, _DIGITS),
    "&>": _Spec("005", "expiry_date", "expiration date and time", 10, _DIGITS),
    "=}": _Spec("008", "production_date", "production date", 6, _DIGITS),
    "&}": _Spec("009", "production_date", "production date and time", 10, _DIGITS),
    "=,": _Spec("032", "product_divisions", "product divisions", 6, _ALNUM),
    "&,1": _Spec("035", "lot", "MPHO lot number", 18, _ALNUM),
    "&,2": _Spec("036", "supplemental_id", "MPHO supplemental identification number", 18, _ALNUM),
    "=+": _Spec("023", "compound_message", "compound message", 5, _DIGITS),
}
_DIN = _Spec("001", "donation_id", "donation identification number", 15, _ALNUM)
_KNOWN = "=/ =α => &> =} &} =, &,1 &,2 =+"


def parse_isbt128(text: str, config: ParseConfig) -> Udi:
    """Interpret the ISBT 128 data structures of an MPHO device label.

    Args:
        text: The scan content (without symbology identifier), starting with ``=`` or ``&``.
        config: Unused (ISBT 128 dates carry their century); accepted for a uniform signature.

    Returns:
        A :class:`Udi` with agency ISBT128: ``di`` is the processor product identification
        code, ``serial`` the product divisions code, ``lot`` the MPHO lot number;
        ``other`` holds ``donation_id`` (15 characters, flags included) and
        ``processing_facility`` (the FIN, the donation number's first 5 characters).

    Raises:
        ParseError: unknown data identifiers (``isbt128.unknown_data_identifier``) and every
            independent problem found before reading had to stop, with positions in ``text``.
    """
    del config  # cyyjjj dates need no century window
    reader = _Reader(text)
    reader.read_all()
    if reader.errors:
        raise ParseError(sorted(reader.errors, key=lambda issue: issue.position))
    return reader.to_udi()


@dataclass
class _Reader:
    """Reads data structures left to right; fixed lengths mean an unknown one ends the scan."""

    text: str
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    dates: dict[str, UdiDate] = field(default_factory=dict)
    compound: tuple[int, int] | None = None
    """(declared count, position) of a compound message header."""
    structures: int = 0

    def error(self, code: str, message: str, position: int, length: int = 0) -> None:
        self.errors.append(Issue(code, message, position, length, FORMAT))

    def warn(self, code: str, message: str, position: int, length: int = 0) -> None:
        self.warnings.append(Issue(code, message, position, length, FORMAT))

    def read_all(self) -> None:
        if not self.text:
            self.error("isbt128.empty", "Expected an ISBT 128 data identifier, got nothing.", 0)
            return
        position = 0
        while position < len(self.text):
            next_position = self._read_one(position)
            if next_position is None:
                return
            position = next_position
        self._check_compound_count()

    def _read_one(self, position: int) -> int | None:
        """Read the structure at ``position``; return where the next starts (None: stop)."""
        text = self.text
        flag = text[position]
        if flag not in "=&":
            self.error(
                "isbt128.flag",
                f"Expected '=' or '&' to start a data identifier, got {flag!r}.",
                position,
                1,
            )
            return None
        di = (
            text[position : position + 3]
            if text.startswith("&,", position)
            else text[position : position + 2]
        )
        spec = _SPECS.get(di)
        if spec is not None:
            return self._read_fixed(di, spec, position)
        if flag == "=" and text[position + 1 : position + 2] in _DIN_FIRST:
            return self._read_din(position)
        got = repr(di) if len(di) > 1 else f"{di!r} at the end"
        self.error(
            "isbt128.unknown_data_identifier",
            f"Expected an ISBT 128 data identifier used for MPHO UDIs ({_KNOWN}), got {got}.",
            position,
            len(di),
        )
        return None

    def _read_fixed(self, di: str, spec: _Spec, position: int) -> int | None:
        start = position + len(di)
        data = self.text[start : start + spec.length]
        if len(data) < spec.length:
            self._truncated(di, spec, data, start)
            return None
        self._count_structure(di, position)
        self.elements.append(Element(spec.key, spec.title, data, position, len(di) + spec.length))
        if self._check_charset(spec, data, start):
            self._store(di, spec, data, start)
        return start + spec.length

    def _truncated(self, di: str, spec: _Spec, data: str, start: int) -> None:
        self.error(
            "isbt128.truncated",
            f"Expected {spec.length} characters of {spec.title} after {di!r}, got {len(data)}.",
            start,
            len(data),
        )

    def _check_charset(self, spec: _Spec, data: str, start: int) -> bool:
        allowed = "digits" if spec.charset is _DIGITS else "upper-case letters or digits"
        clean = True
        for index, char in enumerate(data):
            if char not in spec.charset:
                self.error(
                    "isbt128.invalid_character",
                    f"Expected {allowed} in the {spec.title}, got {char!r}.",
                    start + index,
                    1,
                )
                clean = False
        return clean

    def _store(self, di: str, spec: _Spec, data: str, start: int) -> None:
        if spec.key in ("expiry_date", "production_date"):
            self._store_date(spec, data, start)
        elif di == "=+":
            self.compound = (int(data[:2]), start - 2)
            self.values["compound_message"] = data
        elif spec.key in self.values:
            self._duplicate(spec, start)
        else:
            self.values[spec.key] = data

    def _duplicate(self, spec: _Spec, start: int) -> None:
        self.error(
            "isbt128.duplicate",
            f"Expected one {spec.title} (data structure {spec.number}), got a second one.",
            start,
            spec.length,
        )

    def _store_date(self, spec: _Spec, data: str, start: int) -> None:
        if spec.key in self.dates:
            self._duplicate(spec, start)
            return
        try:
            self.dates[spec.key] = read_isbt128_date(data)
        except ValueError as bad:
            self.error("isbt128.date", str(bad), start, len(data))

    def _count_structure(self, di: str, position: int) -> None:
        """Count structures that follow a compound message header (the header excluded)."""
        if di != "=+" and self.compound is not None:
            self.structures += 1
        elif di == "=+" and self.compound is not None:
            self.error(
                "isbt128.duplicate",
                "Expected one compound message header (=+), got a second one.",
                position,
                2,
            )

    def _read_din(self, position: int) -> int | None:
        """``=`` + 13-character DIN + 2 flag characters (the DIN's first character ends the DI)."""
        start = position + 1
        data = self.text[start : start + _DIN.length]
        if len(data) < _DIN.length:
            self._truncated("=", _DIN, data, start)
            return None
        self._count_structure("=", position)
        self.elements.append(Element(_DIN.key, _DIN.title, data, position, 1 + _DIN.length))
        end = start + _DIN.length
        if not self._check_charset(_DIN, data, start):
            return end
        if "donation_id" in self.values:
            self._duplicate(_DIN, start)
            return end
        self.values["donation_id"] = data
        self._check_din_format(data, start)
        self._check_din_flags(data, start)
        return self._read_keyboard_check(data, end)

    def _check_din_format(self, data: str, start: int) -> None:
        # ST-001/ST-017: FIN (α + 2 alphanumerics + 2 digits), year (2 digits), sequence
        # (6 digits). Public examples (the IDOL device grammar) break this, so we warn and keep.
        fin_ok = all(char in _ALNUM and char != "O" for char in data[1:3])
        if fin_ok and data[3:13].isdigit():
            return
        self.warn(
            "isbt128.din_format",
            f"Expected a DIN of facility code (5), year (2 digits) and sequence number (6 digits),"
            f" got {data[:13]!r} (kept as read).",
            start,
            13,
        )

    def _check_din_flags(self, data: str, start: int) -> None:
        """Flags 60–96 carry the ISO/IEC 7064 mod 37-2 check of the DIN, offset by 60."""
        flags = data[13:15]
        if not flags.isdigit() or not 60 <= int(flags) <= 96:
            return
        expected = f"{ISO7064_MOD37_2_CHARSET.index(iso7064_mod37_2(data[:13])) + 60:02d}"
        if flags != expected:
            self.error(
                "isbt128.din_check_character",
                f"Expected flag characters {expected!r} (ISO/IEC 7064 mod 37-2 check of the DIN),"
                f" got {flags!r}.",
                start + 13,
                2,
            )

    def _read_keyboard_check(self, data: str, end: int) -> int:
        """Accept the eye-readable keyboard check character K if it was keyed in after the DIN.

        It is never part of scan data; a character after the DIN that cannot start a data
        identifier is read as K and verified (ST-001 Appendix A.1).
        """
        char = self.text[end : end + 1]
        if not char or char in "=&":
            return end
        expected = iso7064_mod37_2(data[:13])
        if char != expected:
            self.error(
                "isbt128.din_check_character",
                f"Expected keyboard check character {expected!r} after the DIN, got {char!r}.",
                end,
                1,
            )
            return end + 1
        self.values["din_keyboard_check"] = char
        self.warn(
            "isbt128.keyboard_check_character",
            f"Expected scan data without the DIN keyboard check character, got {char!r}"
            f" (verified and ignored).",
            end,
            1,
        )
        return end + 1

    def _check_compound_count(self) -> None:
        if self.compound is None:
            return
        declared, position = self.compound
        if declared != self.structures:
            self.error(
                "isbt128.compound_count",
                f"Expected {declared} data structures in the compound message, got"
                f" {self.structures}.",
                position,
                7,
            )

    def to_udi(self) -> Udi:
        values = self.values
        other = {
            key: values[key]
            for key in ("donation_id", "supplemental_id", "compound_message", "din_keyboard_check")
            if key in values
        }
        if "donation_id" in values:
            other["processing_facility"] = values["donation_id"][:5]
            other["din_flags"] = values["donation_id"][13:15]
        ppic = values.get("ppic")
        if ppic is not None:
            other |= {
                "processor_facility": ppic[:5],
                "facility_product_code": ppic[5:11],
                "product_description_code": ppic[11:],
            }
        else:
            self.warn(
                "isbt128.no_device_identifier",
                "Expected a processor product identification code (=/) as the device identifier,"
                " got none.",
                0,
            )
        return Udi(
            agency=Agency.ISBT128,
            di=ppic,
            lot=values.get("lot"),
            serial=values.get("product_divisions"),
            production_date=self.dates.get("production_date"),
            expiry_date=self.dates.get("expiry_date"),
            elements=tuple(self.elements),
            other=other,
            hri=self.text,
            warnings=tuple(self.warnings),
        )


def read_isbt128_date(data: str) -> UdiDate:
    """Read ``cyyjjj`` (6 digits) or ``cyyjjjhhmm`` (10 digits) into a :class:`UdiDate`.

    The century digit counts from 2000 (our reading of ST-001, matching AccessGUDID's output
    and the public ICCBBA-derived parsers): year = 2000 + 100·c + yy.

    >>> read_isbt128_date("030329").value.isoformat()
    '2030-11-25'
    >>> read_isbt128_date("0240601430").time.isoformat()
    '14:30:00'

    Raises:
        ValueError: when the day of the year, hour or minute is out of range.
    """
    year = 2000 + int(data[0]) * 100 + int(data[1:3])
    day = int(data[3:6])
    days = 366 if calendar.isleap(year) else 365
    if not 1 <= day <= days:
        raise ValueError(f"Expected a day of the year 001-{days} for {year}, got {data[3:6]!r}.")
    value = date(year, 1, 1) + timedelta(days=day - 1)
    if len(data) == 6:
        return UdiDate(value, data, "YYYJJJ", DatePrecision.DAY)
    hour, minute = int(data[6:8]), int(data[8:10])
    if hour > 23 or minute > 59:
        raise ValueError(f"Expected a time HHMM from 0000 to 2359, got {data[6:]!r}.")
    return UdiDate(value, data, "YYYJJJHHMM", DatePrecision.MINUTE, time(hour, minute))
