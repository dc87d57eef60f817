"""HIBC LIC supplier labels (HIBCC): primary, secondary, concatenated and Basic UDI-DI scans.

An HIBC scan starts with the flag character ``+`` and ends with a mod-43 check character
computed over everything before it, the ``+`` included. What follows the flag decides the kind:

* a letter: the **primary** data structure, LIC (4) + product/catalogue number (1–18) + unit of
  measure (1 digit); with ``/`` and secondary data after it, a **concatenated** scan whose single
  check character covers the whole string (the primary's own check and the link are dropped);
* ``$`` or a 5-digit Julian date: a **secondary** scanned on its own; the character before the
  check is the link character, equal to the check character of the matching primary;
* ``++``: an EU **Basic UDI-DI** (model key, two check characters, not a label identifier);
* ``+/``: an HIBC **PAS** provider label (patients, specimens, assets), rejected here.

>>> from datetime import date
>>> config = ParseConfig(today=date(2026, 11, 27))
>>> scan = parse_hibc("+A99912345/$$52001510X33", config)
>>> (scan.di, scan.lot, scan.expiry_date.value.isoformat(), scan.expiry_date.format)
('A99912345', '10X3', '2020-01-15', 'YYJJJ')
>>> scan.hri
'*+A99912345/$$52001510X33*'
>>> primary = HibcPrimary.parse("+A123BJC5D6E71G")
>>> (primary.lic, primary.pcn, primary.unit_of_measure, primary.check_character)
('A123', 'BJC5D6E7', 1, 'G')
>>> secondary = HibcSecondary.parse("+$$0624J139276%5", config)
>>> (secondary.lot, secondary.expiry_date.value.isoformat(), secondary.link_character)
('J139276', '2024-06-30', '%')
>>> try:
...     parse_hibc("+A99912345/$$52001510X34", config)
... except ParseError as error:
...     print(error.code, error.issues[0].position, error)
hibc.check_character 23 Expected check character '3', got '4'.

References:
    ANSI/HIBC 2.6 Supplier Labeling Standard (primary, secondary, supplemental data, mod 43);
    hibcc.org/m43/terms.htm (check character, HRI caption); EUDAMED help "Basic UDI-DI
    generators depending on Issuing Entity" and HIBCC "HIBC Basic UDI-DI" (mod 1021/32 pair).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from udi._dates import century_year as shared_century_year
from udi._gs1_lint import CSET82_VALUES, GMN_MAX_LENGTH, gmn_check_pair
from udi.checksums import HIBC_CHARSET, hibc_mod43
from udi.config import DEFAULT_CONFIG, ParseConfig
from udi.errors import Issue, ParseError
from udi.result import Agency, DatePrecision, Element, Udi, UdiDate

FORMAT = "hibc"

_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

# ``$$`` format digit -> (date format, characters after the format digit). ``0``/``1`` are not
# flags but the first digit of MMYY, so the date starts at the digit itself.
_DATE_FLAGS: dict[str, tuple[str, int]] = {
    "2": ("MMDDYY", 6),
    "3": ("YYMMDD", 6),
    "4": ("YYMMDDHH", 8),
    "5": ("YYJJJ", 5),
    "6": ("YYJJJHH", 7),
}
_QUANTITY_FLAGS = {"8": 2, "9": 5}
_MAX_PCN = 18
_MAX_LOT = 18
_MAX_JULIAN_LOT = 13

# Basic UDI-DI check pair: the GS1 GMN scheme (values from GS1 CSET 82, prime weights aligned to
# the right, sum mod 1021 split into two characters of a 32-character set), shared with AI 8013.
# HIBCC's document and the EUDAMED page name it "Mod 1021 and Mod 32"; the worked example
# ++A999MODELIDENTIFIER11 -> S8 and shorter real EUDAMED codes (++E22100160100000008Z) reproduce.

_PAS_LOCATIONS = {
    "A": "patient",
    "B": "patient care record",
    "C": "specimen container",
    "D": "direct patient image item",
    "E": "business record",
    "F": "medical administration record",
    "G": "library reference material",
    "H": "devices and materials",
    "I": "identification card",
    "J": "product container",
    "K": "asset",
    "L": "surgical instrument",
    "Z": "user defined",
}


@dataclass(frozen=True, slots=True)
class HibcPrimary:
    """The HIBC primary data structure: who labelled the device and which product it is.

    References:
        ANSI/HIBC 2.6 Supplier Labeling Standard, primary data structure.
    """

    lic: str
    """Labeler Identification Code: 4 characters, the first a letter (assigned by HIBCC)."""

    pcn: str
    """Product or catalogue number: 1–18 letters or digits (assigned by the labeler)."""

    unit_of_measure: int
    """Packaging level: 0 unit of use, 1–8 higher packaging levels, 9 variable quantity."""

    check_character: str | None = None
    """The mod-43 check character; None inside a concatenated scan, where it is dropped."""

    @property
    def di(self) -> str:
        """The UDI-DI: LIC + product number + unit of measure."""
        return f"{self.lic}{self.pcn}{self.unit_of_measure}"

    @classmethod
    def parse(cls, text: str) -> HibcPrimary:
        """Parse a primary scanned on its own, e.g. ``+A123BJC5D6E71G``.

        Raises:
            ParseError: if ``text`` is not a valid stand-alone primary (wrong check character,
                LIC, unit of measure…), or is another HIBC structure (``hibc.not_primary``).
        """
        parsed = _parse(text, DEFAULT_CONFIG)
        if parsed.structure != "primary" or parsed.primary is None:
            raise ParseError.single(
                "hibc.not_primary",
                f"Expected a stand-alone HIBC primary, got a {parsed.structure} scan.",
                0,
                len(text),
                FORMAT,
            )
        return parsed.primary


@dataclass(frozen=True, slots=True)
class HibcSecondary:
    """The HIBC secondary data structure and its supplemental data: the production identifiers.

    References:
        ANSI/HIBC 2.6 Supplier Labeling Standard, secondary data structure and Appendix D
        (supplemental data using ANSI MH10.8.2 data identifiers).
    """

    lot: str | None = None
    """Lot or batch number (up to 18 characters; 13 after a 5-digit Julian date)."""

    serial: str | None = None
    """Serial number from ``$+``/``$$+`` or the supplemental ``/S``."""

    expiry_date: UdiDate | None = None
    """Expiry date from the ``$$`` date formats, the Julian form, or ``/14D``."""

    production_date: UdiDate | None = None
    """Manufacture date from the supplemental ``/16D``."""

    quantity: int | None = None
    """Quantity from ``$$8``/``$$9`` or the supplemental ``/Q``."""

    link_character: str | None = None
    """The primary's check character repeated before the check; None when concatenated."""

    check_character: str | None = None
    """This symbol's own check character; None inside a concatenated scan (one check for all)."""

    @classmethod
    def parse(cls, text: str, config: ParseConfig | None = None) -> HibcSecondary:
        """Parse a secondary scanned on its own, e.g. ``+$$0624J139276%5``.

        Raises:
            ParseError: if ``text`` is not a valid stand-alone secondary (``hibc.not_secondary``
                when it is another HIBC structure).
        """
        parsed = _parse(text, config or DEFAULT_CONFIG)
        if parsed.structure != "secondary" or parsed.secondary is None:
            raise ParseError.single(
                "hibc.not_secondary",
                f"Expected a stand-alone HIBC secondary, got a {parsed.structure} scan.",
                0,
                len(text),
                FORMAT,
            )
        return parsed.secondary


def hibc_link_matches(primary: HibcPrimary, secondary: HibcSecondary) -> bool:
    """True when ``secondary`` was printed for ``primary``: its link is the primary's check.

    >>> primary = HibcPrimary.parse("+A123BJC5D6E71G")
    >>> hibc_link_matches(primary, HibcSecondary.parse("+$$52001510X3GD"))
    True
    """
    return (
        primary.check_character is not None
        and secondary.link_character is not None
        and primary.check_character == secondary.link_character
    )


def hibc_basic_udi_di_check(data: str) -> str:
    """Return the two check characters of an HIBC Basic UDI-DI (``data`` includes ``++``).

    >>> hibc_basic_udi_di_check("++A999MODELIDENTIFIER11")
    'S8'

    References:
        HIBCC "HIBC Basic UDI-DI" (mod 1021 and mod 32); GS1 GMN check character pair.

    Raises:
        ValueError: if ``data`` is longer than 23 characters or outside GS1 CSET 82.
    """
    if len(data) > GMN_MAX_LENGTH:
        raise ValueError(f"Expected at most {GMN_MAX_LENGTH} characters, got {len(data)}.")
    for char in data:
        if char not in CSET82_VALUES:
            raise ValueError(f"Expected a GS1 CSET 82 character, got {char!r}.")
    return gmn_check_pair(data)


def parse_hibc(text: str, config: ParseConfig) -> Udi:
    """Interpret an HIBC scan: primary, secondary, concatenated or Basic UDI-DI.

    Args:
        text: The scan content (without symbology identifier), starting with ``+``.
        config: Supplies the reference date for two-digit years.

    Returns:
        A :class:`Udi` with agency HIBC. ``di`` is LIC+PCN+UoM (None for a secondary scanned
        alone, whose link character is in ``other["link_character"]``). ``hri`` is the Code 39
        caption: the data between asterisks, a space check character shown as ``_``.

    Raises:
        ParseError: with every independent problem found; positions are relative to ``text``.
    """
    return _parse(text, config).to_udi()


# --------------------------------------------------------------------------------------------
# Parsing machinery
# --------------------------------------------------------------------------------------------


@dataclass
class _Findings:
    """What a parse found so far: errors, warnings and elements, all relative to the text."""

    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)

    def error(self, code: str, message: str, position: int, length: int = 0) -> None:
        self.errors.append(Issue(code, message, position, length, FORMAT))

    def warn(self, code: str, message: str, position: int, length: int = 0) -> None:
        self.warnings.append(Issue(code, message, position, length, FORMAT))

    def element(self, key: str, title: str, value: str, position: int, length: int) -> None:
        self.elements.append(Element(key, title, value, position, length))


@dataclass
class _Parsed:
    """The outcome of :func:`_parse`, before it becomes a :class:`Udi`."""

    structure: str
    text: str
    """The scan as read (an HRI ``_`` check character already turned back into a space)."""
    findings: _Findings
    primary: HibcPrimary | None = None
    secondary: HibcSecondary | None = None
    basic: dict[str, str] = field(default_factory=dict)

    def to_udi(self) -> Udi:
        primary, secondary, text = self.primary, self.secondary, self.text
        other: dict[str, str] = {"structure": self.structure}
        if primary is not None:
            other |= {
                "lic": primary.lic,
                "pcn": primary.pcn,
                "unit_of_measure": str(primary.unit_of_measure),
            }
        if secondary is not None and secondary.link_character is not None:
            other["link_character"] = secondary.link_character
        other["check_character"] = text[-1] if self.structure != "basic_udi_di" else text[-2:]
        other |= self.basic
        return Udi(
            agency=Agency.HIBC,
            di=self.basic.get("basic_udi_di") or (primary.di if primary else None),
            lot=secondary.lot if secondary else None,
            serial=secondary.serial if secondary else None,
            production_date=secondary.production_date if secondary else None,
            expiry_date=secondary.expiry_date if secondary else None,
            quantity=secondary.quantity if secondary else None,
            elements=tuple(sorted(self.findings.elements, key=lambda e: e.position)),
            other=other,
            # A Basic UDI-DI is a registry key, not a Code 39 label: no caption asterisks.
            hri=text if self.structure == "basic_udi_di" else _caption(text),
            warnings=tuple(self.findings.warnings),
        )


@dataclass
class _SecondaryFields:
    """Production identifiers collected while reading secondary and supplemental data."""

    lot: str | None = None
    serial: str | None = None
    expiry: UdiDate | None = None
    production: UdiDate | None = None
    quantity: int | None = None


class _BadDate(ValueError):
    """A date field that does not hold a real date; carries the issue code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _caption(text: str) -> str:
    """The HRI caption: ``*`` + data + ``*``, with a space check character printed as ``_``."""
    if text.endswith(" "):
        text = text[:-1] + "_"
    return f"*{text}*"


def _parse(text: str, config: ParseConfig) -> _Parsed:
    findings = _Findings()
    if not text.startswith("+"):
        got = repr(text[0]) if text else "nothing"
        findings.error("hibc.flag", f"Expected '+' as the HIBC flag character, got {got}.", 0, 1)
        raise ParseError(findings.errors)
    if text.startswith("+/"):
        raise ParseError(_pas_issue(text))
    text = _accept_underscore_check(text, findings)
    _check_charset(text, findings)
    if text.startswith("++"):
        return _parse_basic_udi_di(text, findings)
    if len(text) < 3:
        findings.error(
            "hibc.too_short", f"Expected at least 3 characters, got {len(text)}.", 0, len(text)
        )
        raise ParseError(findings.errors)
    _verify_check_character(text, findings)
    if text[1] == "$" or _starts_with_julian_date(text[1:]):
        return _parse_secondary_scan(text, findings, config)
    return _parse_primary_scan(text, findings, config)


def _pas_issue(text: str) -> Issue:
    location = text[2:3]
    name = _PAS_LOCATIONS.get(location)
    what = f"an HIBC PAS provider label (data location {location!r}: {name})" if name else None
    what = what or "an HIBC PAS provider label ('+/')"
    message = f"Expected an HIBC supplier label (LIC or secondary data after '+'), got {what}."
    return Issue("hibc.pas_not_supplier_label", message, 0, len(text), FORMAT)


def _accept_underscore_check(text: str, findings: _Findings) -> str:
    """Read an HRI ``_`` in the check position as the space it stands for (HIBCC caption rule)."""
    if not text.endswith("_") or text.startswith("++"):
        return text
    position = len(text) - 1
    findings.warn(
        "hibc.underscore_check_character",
        "Expected a space as the check character in scan data, got '_' (its HRI form; read as a"
        " space).",
        position,
        1,
    )
    return text[:-1] + " "


def _check_charset(text: str, findings: _Findings) -> None:
    for position, char in enumerate(text):
        if char in HIBC_CHARSET:
            continue
        if char.isascii() and char.islower():
            message = f"Expected an upper-case HIBC character, got {char!r}."
        else:
            message = (
                f"Expected one of the 43 HIBC characters (0-9 A-Z - . space $ / + %), got {char!r}."
            )
        findings.error("hibc.invalid_character", message, position, 1)
    if findings.errors:
        raise ParseError(findings.errors)


def _verify_check_character(text: str, findings: _Findings) -> None:
    expected = hibc_mod43(text[:-1])
    got = text[-1]
    findings.element("check_character", "check character", got, len(text) - 1, 1)
    if got != expected:
        findings.error(
            "hibc.check_character",
            f"Expected check character {_show(expected)}, got {_show(got)}.",
            len(text) - 1,
            1,
        )


def _show(char: str) -> str:
    return "' ' (space, printed '_')" if char == " " else repr(char)


def _starts_with_julian_date(data: str) -> bool:
    """A secondary may start with YYJJJ; a primary never starts with a digit (LIC rule)."""
    head = data[:5]
    return len(head) == 5 and head.isdigit() and 1 <= int(head[2:]) <= 366


# --------------------------------------------------------------------------------------------
# Primary, concatenated and secondary scans
# --------------------------------------------------------------------------------------------


def _parse_primary_scan(text: str, findings: _Findings, config: ParseConfig) -> _Parsed:
    body = text[1:-1]
    slash = body.find("/")
    if slash < 0:
        primary = _read_primary(body, 1, findings, check=text[-1])
        _raise_if_errors(findings)
        return _Parsed("primary", text, findings, primary=primary)
    primary = _read_primary(body[:slash], 1, findings, check=None)
    fields = _read_secondary_data(body[slash + 1 :], slash + 2, findings, config)
    _raise_if_errors(findings)
    secondary = _secondary(fields, link=None, check=None)
    return _Parsed("concatenated", text, findings, primary=primary, secondary=secondary)


def _parse_secondary_scan(text: str, findings: _Findings, config: ParseConfig) -> _Parsed:
    body = text[1:-1]
    if len(body) < 2:
        findings.error(
            "hibc.too_short",
            f"Expected secondary data, a link character and a check character, got {text!r}.",
            0,
            len(text),
        )
        raise ParseError(findings.errors)
    link_position = len(text) - 2
    link = text[link_position]
    findings.element("link_character", "link character", link, link_position, 1)
    fields = _read_secondary_data(body[:-1], 1, findings, config)
    _raise_if_errors(findings)
    findings.warn(
        "hibc.secondary_only",
        f"Expected the primary (device identifier) with the secondary, got secondary data only;"
        f" match link character {_show(link)} to the check character of the primary scan.",
        link_position,
        1,
    )
    secondary = _secondary(fields, link=link, check=text[-1])
    return _Parsed("secondary", text, findings, secondary=secondary)


def _raise_if_errors(findings: _Findings) -> None:
    if findings.errors:
        raise ParseError(sorted(findings.errors, key=lambda issue: issue.position))


def _secondary(fields: _SecondaryFields, link: str | None, check: str | None) -> HibcSecondary:
    return HibcSecondary(
        lot=fields.lot,
        serial=fields.serial,
        expiry_date=fields.expiry,
        production_date=fields.production,
        quantity=fields.quantity,
        link_character=link,
        check_character=check,
    )


def _read_primary(
    part: str, offset: int, findings: _Findings, check: str | None
) -> HibcPrimary | None:
    """Read LIC + PCN + UoM from ``part`` (which starts at ``offset`` in the scan)."""
    if len(part) < 6:
        findings.error(
            "hibc.too_short",
            f"Expected at least 6 primary characters (LIC 4, product number 1+, unit of measure"
            f" 1), got {len(part)}.",
            offset,
            len(part),
        )
        return None
    errors_before = len(findings.errors)
    lic, pcn, uom = part[:4], part[4:-1], part[-1]
    _check_lic(lic, offset, findings)
    _check_pcn(pcn, offset + 4, findings)
    if not uom.isdigit():
        findings.error(
            "hibc.unit_of_measure",
            f"Expected a unit of measure digit 0-9, got {uom!r}.",
            offset + len(part) - 1,
            1,
        )
    findings.element("lic", "labeler identification code", lic, offset, 4)
    findings.element("pcn", "product or catalogue number", pcn, offset + 4, len(pcn))
    findings.element("unit_of_measure", "unit of measure", uom, offset + len(part) - 1, 1)
    if len(findings.errors) > errors_before:
        return None
    return HibcPrimary(lic, pcn, int(uom), check)


def _check_lic(lic: str, offset: int, findings: _Findings) -> None:
    if lic[0] not in _LETTERS:
        findings.error(
            "hibc.lic_first_char",
            f"Expected a letter as the first LIC character, got {lic[0]!r}.",
            offset,
            1,
        )
    for index, char in enumerate(lic[1:], start=1):
        if char not in _ALNUM:
            findings.error(
                "hibc.lic",
                f"Expected a letter or digit in the LIC, got {char!r}.",
                offset + index,
                1,
            )


def _check_pcn(pcn: str, offset: int, findings: _Findings) -> None:
    if len(pcn) > _MAX_PCN:
        findings.error(
            "hibc.pcn_length",
            f"Expected 1-{_MAX_PCN} characters of product number, got {len(pcn)}.",
            offset,
            len(pcn),
        )
    for index, char in enumerate(pcn):
        if char not in _ALNUM:
            findings.error(
                "hibc.pcn_character",
                f"Expected a letter or digit in the product number, got {char!r}.",
                offset + index,
                1,
            )


# --------------------------------------------------------------------------------------------
# Secondary data and supplemental data
# --------------------------------------------------------------------------------------------


def _read_secondary_data(
    data: str, offset: int, findings: _Findings, config: ParseConfig
) -> _SecondaryFields:
    """Read ``main[/supplemental…]``; ``data`` starts at ``offset`` in the scan."""
    fields = _SecondaryFields()
    segments = data.split("/")
    _read_main_secondary(segments[0], offset, findings, config, fields)
    position = offset + len(segments[0]) + 1
    for segment in segments[1:]:
        _read_supplemental(segment, position, findings, fields)
        position += len(segment) + 1
    return fields


def _read_main_secondary(
    main: str, offset: int, findings: _Findings, config: ParseConfig, fields: _SecondaryFields
) -> None:
    if main.startswith("$$"):
        serial = main.startswith("$$+")
        start = 3 if serial else 2
        end = _read_flags(main, start, offset, findings, config, fields)
        if end is not None:
            _store_lot_or_serial(
                main[end:], offset + end, serial, findings, fields, required=serial
            )
    elif main.startswith("$+"):
        _store_lot_or_serial(main[2:], offset + 2, True, findings, fields, required=True)
    elif main.startswith("$"):
        _store_lot_or_serial(main[1:], offset + 1, False, findings, fields, required=True)
    elif _starts_with_julian_date(main):
        fields.expiry = _expiry(main[:5], "YYJJJ", offset, findings, config)
        lot = main[5:]
        if len(lot) > _MAX_JULIAN_LOT:
            findings.error(
                "hibc.lot_length",
                f"Expected at most {_MAX_JULIAN_LOT} lot characters after a Julian date, got"
                f" {len(lot)}.",
                offset + 5,
                len(lot),
            )
        elif lot:
            fields.lot = lot
            findings.element("lot", "lot number", lot, offset + 5, len(lot))
    else:
        got = repr(main[:2]) if main else "nothing"
        findings.error(
            "hibc.secondary_flag",
            f"Expected '$', '$$', '$+' or a 5-digit Julian date to start the secondary data, got"
            f" {got}.",
            offset,
            min(len(main), 2),
        )


def _read_flags(
    main: str,
    start: int,
    offset: int,
    findings: _Findings,
    config: ParseConfig,
    fields: _SecondaryFields,
) -> int | None:
    """Read the ``$$`` format digit (quantity, then date); return where lot/serial starts."""
    flag = main[start : start + 1]
    position = start
    if flag in _QUANTITY_FLAGS:
        width = _QUANTITY_FLAGS[flag]
        digits = main[start + 1 : start + 1 + width]
        if len(digits) != width or not digits.isdigit():
            findings.error(
                "hibc.quantity",
                f"Expected {width} quantity digits after '$${flag}', got {digits!r}.",
                offset + start + 1,
                len(digits),
            )
            return None
        fields.quantity = int(digits)
        findings.element("quantity", "quantity", digits, offset + start + 1, width)
        position = start + 1 + width
        flag = main[position : position + 1]
        # Our reading: after the quantity an expiry format digit may follow; if the next
        # character is not one (0-7), the lot starts right away.
        if not flag or flag not in "01234567":
            return position
    return _read_date_flag(main, position, flag, offset, findings, config, fields)


def _read_date_flag(
    main: str,
    position: int,
    flag: str,
    offset: int,
    findings: _Findings,
    config: ParseConfig,
    fields: _SecondaryFields,
) -> int | None:
    if flag in ("0", "1"):
        value = main[position : position + 4]
        fields.expiry = _expiry(value, "MMYY", offset + position, findings, config)
        return min(position + 4, len(main))  # a short date must not move past the scan
    if flag in _DATE_FLAGS:
        fmt, width = _DATE_FLAGS[flag]
        value = main[position + 1 : position + 1 + width]
        fields.expiry = _expiry(value, fmt, offset + position + 1, findings, config)
        return min(position + 1 + width, len(main))
    if flag == "7":
        return position + 1
    got = repr(flag) if flag else "nothing"
    findings.error(
        "hibc.date_format",
        f"Expected a date format digit 0-9 after '$$', got {got}.",
        offset + position,
        len(flag),
    )
    return None


def _store_lot_or_serial(
    value: str,
    position: int,
    serial: bool,
    findings: _Findings,
    fields: _SecondaryFields,
    *,
    required: bool,
) -> None:
    name = "serial number" if serial else "lot number"
    if not value:
        if required:
            findings.error(
                f"hibc.{'serial' if serial else 'lot'}",
                f"Expected a {name}, got nothing.",
                position,
            )
        return
    if len(value) > _MAX_LOT:
        findings.error(
            f"hibc.{'serial' if serial else 'lot'}_length",
            f"Expected at most {_MAX_LOT} characters of {name}, got {len(value)}.",
            position,
            len(value),
        )
        return
    if serial:
        fields.serial = value
    else:
        fields.lot = value
    findings.element("serial" if serial else "lot", name, value, position, len(value))


def _read_supplemental(
    segment: str, position: int, findings: _Findings, fields: _SecondaryFields
) -> None:
    """Read one ``/``-separated supplemental field: 14D, 16D, S or Q (ANSI MH10.8.2 DIs)."""
    if segment.startswith(("14D", "16D")):
        key = segment[:3]
        title = "expiry date" if key == "14D" else "manufacture date"
        findings.element(key, title, segment[3:], position, len(segment))
        # Four-digit years: the century window (and so the config) plays no part here.
        value = _date(segment[3:], "YYYYMMDD", position + 3, findings, DEFAULT_CONFIG)
        if value is not None and key == "14D":
            fields.expiry = _merge(fields.expiry, value, "expiry date", position, findings)
        elif value is not None:
            fields.production = value
    elif segment.startswith("S"):
        _supplemental_serial(segment, position, findings, fields)
    elif segment.startswith("Q"):
        _supplemental_quantity(segment, position, findings, fields)
    else:
        got = repr(segment[:3]) if segment else "nothing"
        findings.error(
            "hibc.supplemental",
            f"Expected a supplemental data identifier (14D, 16D, S or Q) after '/', got {got}.",
            position,
            len(segment),
        )


def _supplemental_serial(
    segment: str, position: int, findings: _Findings, fields: _SecondaryFields
) -> None:
    serial = segment[1:]
    if not serial or len(serial) > _MAX_LOT:
        findings.error(
            "hibc.serial_length",
            f"Expected 1-{_MAX_LOT} serial number characters after '/S', got {len(serial)}.",
            position + 1,
            len(serial),
        )
        return
    findings.element("S", "serial number", serial, position, len(segment))
    if fields.serial is not None and fields.serial != serial:
        _conflict("serial number", fields.serial, serial, position, findings)
        return
    fields.serial = serial


def _supplemental_quantity(
    segment: str, position: int, findings: _Findings, fields: _SecondaryFields
) -> None:
    digits = segment[1:]
    if not digits.isdigit() or not digits.isascii():
        findings.error(
            "hibc.quantity",
            f"Expected quantity digits after '/Q', got {digits!r}.",
            position + 1,
            len(digits),
        )
        return
    findings.element("Q", "quantity", digits, position, len(segment))
    if fields.quantity is not None and fields.quantity != int(digits):
        _conflict("quantity", str(fields.quantity), digits, position, findings)
        return
    fields.quantity = int(digits)


def _merge(
    current: UdiDate | None, new: UdiDate, what: str, position: int, findings: _Findings
) -> UdiDate:
    """Keep the secondary's own date when a supplemental one repeats it (warn if it differs)."""
    if current is None:
        return new
    if current.value != new.value:
        _conflict(what, current.value.isoformat(), new.value.isoformat(), position, findings)
    return current


def _conflict(what: str, kept: str, other: str, position: int, findings: _Findings) -> None:
    findings.warn(
        "hibc.conflicting_supplemental",
        f"Expected the supplemental {what} to repeat the secondary's {kept!r}, got {other!r}"
        f" (the secondary's value is kept).",
        position,
    )


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def _date(
    value: str, fmt: str, position: int, findings: _Findings, config: ParseConfig
) -> UdiDate | None:
    """Read a date field, recording an error at its position when it is not a real date."""
    try:
        return read_hibc_date(value, fmt, config.reference_date())
    except _BadDate as bad:
        findings.error(bad.code, bad.message, position, max(len(value), 1))
        return None


def _expiry(
    value: str, fmt: str, position: int, findings: _Findings, config: ParseConfig
) -> UdiDate | None:
    """Read the secondary's expiry date and record it as an element."""
    findings.element("expiry_date", f"expiry date ({fmt})", value, position, len(value))
    return _date(value, fmt, position, findings, config)


def century_year(yy: int, reference: date) -> int:
    """Resolve a two-digit year into the window reference year −49…+50 (GS1 GenSpecs §7.12).

    >>> century_year(20, date(2026, 11, 27)), century_year(77, date(2026, 11, 27))
    (2020, 1977)
    """
    return shared_century_year(yy, reference.year)


def read_hibc_date(value: str, fmt: str, reference: date) -> UdiDate:
    """Read an HIBC date in ``fmt`` (MMYY, MMDDYY, YYMMDD, YYMMDDHH, YYJJJ, YYJJJHH, YYYYMMDD).

    MMYY has month precision and, as our policy, resolves to the **last day** of the month:
    labels are ambiguous (some readers take the first), so the precision is kept alongside.

    >>> read_hibc_date("0224", "MMYY", date(2026, 11, 27)).value.isoformat()
    '2024-02-29'

    Raises:
        ValueError: (a private subclass carrying the issue code ``hibc.date`` or
            ``hibc.julian_day``) when the digits are not a real date.
    """
    if len(value) != len(fmt) or not value.isascii() or not value.isdigit():
        raise _BadDate("hibc.date", f"Expected {len(fmt)} digits ({fmt}), got {value!r}.")
    year = _number(fmt, value, "YYYY")
    if year is None:
        year = century_year(_number(fmt, value, "YY") or 0, reference)
    if "JJJ" in fmt:
        resolved = _julian(year, fmt, value)
        precision = DatePrecision.DAY
    else:
        resolved, precision = _calendar(year, fmt, value)
    hour = _number(fmt, value, "HH")
    if hour is None:
        return UdiDate(resolved, value, fmt, precision)
    if hour > 23:
        raise _BadDate("hibc.date", f"Expected an hour 00-23, got {hour:02d} in {value!r}.")
    return UdiDate(resolved, value, fmt, DatePrecision.HOUR, time(hour))


def _number(fmt: str, value: str, name: str) -> int | None:
    index = fmt.find(name)
    if index < 0 or (name == "YY" and "YYYY" in fmt):
        return None
    return int(value[index : index + len(name)])


def _julian(year: int, fmt: str, value: str) -> date:
    day = _number(fmt, value, "JJJ") or 0
    days = 366 if calendar.isleap(year) else 365
    if not 1 <= day <= days:
        raise _BadDate(
            "hibc.julian_day",
            f"Expected a day of the year 001-{days} for {year}, got {day:03d}.",
        )
    return date(year, 1, 1) + timedelta(days=day - 1)


def _calendar(year: int, fmt: str, value: str) -> tuple[date, DatePrecision]:
    month = _number(fmt, value, "MM") or 0
    if not 1 <= month <= 12:
        raise _BadDate("hibc.date", f"Expected a month 01-12, got {month:02d} in {value!r}.")
    day = _number(fmt, value, "DD")
    if day is None:
        return date(year, month, calendar.monthrange(year, month)[1]), DatePrecision.MONTH
    try:
        return date(year, month, day), DatePrecision.DAY
    except ValueError:
        raise _BadDate(
            "hibc.date",
            f"Expected a valid {fmt} date, got {value!r} ({year}-{month:02d}-{day:02d}).",
        ) from None


# --------------------------------------------------------------------------------------------
# Basic UDI-DI
# --------------------------------------------------------------------------------------------


def _parse_basic_udi_di(text: str, findings: _Findings) -> _Parsed:
    """``++`` + LIC (4) + model (1–17) + 2 check characters (HIBC Basic UDI-DI)."""
    if not 9 <= len(text) <= 25:
        findings.error(
            "hibc.basic_udi_di_length",
            f"Expected 9-25 characters for an HIBC Basic UDI-DI (++, LIC 4, model 1-17, check 2),"
            f" got {len(text)}.",
            0,
            len(text),
        )
        raise ParseError(findings.errors)
    lic, model, check = text[2:6], text[6:-2], text[-2:]
    _check_lic(lic, 2, findings)
    for index, char in enumerate(model, start=6):
        if char not in _ALNUM:
            findings.error(
                "hibc.basic_udi_di_model",
                f"Expected a letter or digit in the model identifier, got {char!r}.",
                index,
                1,
            )
    _raise_if_errors(findings)  # the check pair is only defined over letters and digits
    expected = hibc_basic_udi_di_check(text[:-2])
    if check != expected:
        findings.error(
            "hibc.basic_udi_di_check",
            f"Expected check characters {expected!r}, got {check!r}.",
            len(text) - 2,
            2,
        )
    _raise_if_errors(findings)
    findings.element("lic", "labeler identification code", lic, 2, 4)
    findings.element("model", "model identifier", model, 6, len(model))
    findings.element("check_characters", "check characters", check, len(text) - 2, 2)
    findings.warn(
        "hibc.basic_udi_di",
        "Expected a UDI-DI as printed on a device label, got an HIBC Basic UDI-DI (the EUDAMED"
        " model key, never a label identifier).",
        0,
        len(text),
    )
    basic = {"basic_udi_di": text, "lic": lic, "model": model}
    return _Parsed("basic_udi_di", text, findings, basic=basic)
