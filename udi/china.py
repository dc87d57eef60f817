"""China's non-GS1 UDI issuing agencies: MA (IDcode, 中关村工信二维码技术研究院) and AHM (阿里健康).

**MA code.** The DI is ``MA.<country>.<industry>.<registrant>.<product>``: ``MA`` (ISO/IEC
15459 issuing agency code), country ``156`` (China), industry ``M0`` (medical devices), a
6-digit registrant code and a product code of one or more letters and digits. Production
identifiers follow as ``.`` + a letter + a value:

====  ====================================  ======================================
Unit  Meaning                               Where it goes
====  ====================================  ======================================
L     生产批号 lot                          ``lot``
S     序列号 serial number                  ``serial``
M     生产日期 production date (6/8 digits)  ``production_date``
P     older form of the production date     ``production_date`` (when there is no M)
D     灭菌批号 sterilisation lot            ``other["sterilisation_lot"]``
E     失效期 expiry date                    ``expiry_date``
V     有效期 valid-until date               ``other["valid_until"]`` (``expiry_date`` if no E)
Y     医保编码 insurance code               ``other["insurance_code"]``
C     PI check character (last unit)       ``other["check_character"]``, **not verified**
====  ====================================  ======================================

Our interpretation: ``E`` (失效期) is the expiry date. Real labels carry ``V`` one day before
``E`` (``V220627``/``E220628``), i.e. V is the last day of use and E the day it lapses; V is
kept in ``other``, and used as the expiry only when a label has no E (with a warning). The MA
check algorithm is not public, so a ``C`` unit is reported with ``ma.check_unverified``.

QR codes wrap MA codes in a URL (``…?code=MA.156…``) or in XML
(``<UDI IAC="MA"><DI/><SN/><MFG/><LOT/><EXP/><VAL/></UDI>``); both are read, and positions
stay relative to the whole text.

>>> from datetime import date
>>> from udi.config import ParseConfig
>>> config = ParseConfig(today=date(2026, 11, 27))
>>> code = "MA.156.M0.100761.21234561.Sx00008.M220117.L20220117.E220130.C3"
>>> ma = parse_ma(code, config)
>>> (ma.di, ma.serial, ma.lot, ma.expiry_date.value.isoformat())
('MA.156.M0.100761.21234561', 'x00008', '20220117', '2022-01-30')
>>> [warning.code for warning in ma.warnings]
['ma.check_unverified']
>>> parse_ma("https://udi.example.cn/q?code=" + code, config).di
'MA.156.M0.100761.21234561'

**AHM code** (low confidence: no public specification or real sample was found). Codes start
with ``MF``; segments ``MF`` DI (≤13), ``BA`` (or ``BN``) batch, ``SN`` serial, ``MD``
production date, ``BD`` 保质日期, ``ED`` 有效期 (6-digit YYMMDD) and ``PL`` packaging digit.
Every AHM result carries the warning ``ahm.low_confidence`` and the raw text.

>>> ahm = parse_ahm("MF1234567890123BA2201SN0001MD220101ED240101PL1", config)
>>> (ahm.di, ahm.lot, ahm.serial, ahm.expiry_date.value.isoformat())
('1234567890123', '2201', '0001', '2024-01-01')

References:
    《医疗器械唯一标识系统规则》 (NMPA Announcement 2019 No. 66); MA (IDcode) FAQ
    (wanbiaoku.com) and udi.cp-sy.cn; ISO/IEC 15459-2 (issuing agency code MA); public MA and
    AHM parsers (see docs/udi-formats-implemented.md).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import date

from udi._dates import century_year
from udi.config import ParseConfig
from udi.errors import Issue, ParseError
from udi.result import Agency, DatePrecision, Element, Udi, UdiDate

_MA_UNITS: dict[str, tuple[str, str]] = {
    "L": ("lot", "lot number (生产批号)"),
    "S": ("serial", "serial number (序列号)"),
    "M": ("production_date", "production date (生产日期)"),
    "P": ("production_date_p", "production date, older form (生产日期)"),
    "D": ("sterilisation_lot", "sterilisation lot (灭菌批号)"),
    "E": ("expiry_date", "expiry date (失效期)"),
    "V": ("valid_until", "valid-until date (有效期)"),
    "Y": ("insurance_code", "insurance code (医保编码)"),
    "C": ("check_character", "PI check character"),
}
_MA_DATES = frozenset("MPEV")
_XML_UNITS = {"SN": "S", "LOT": "L", "MFG": "M", "EXP": "E", "VAL": "V"}
_VALUE_EXTRA = frozenset("-_")
_CODE_END = re.compile(r"[&#\s?/\"'<>]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_AHM_KEYS: dict[str, tuple[str, str]] = {
    "MF": ("di", "device identifier"),
    "BA": ("lot", "batch number"),
    "BN": ("lot", "batch number"),
    "SN": ("serial", "serial number"),
    "MD": ("production_date", "production date"),
    "BD": ("best_before", "保质日期"),
    "ED": ("expiry_date", "有效期 (expiry date)"),
    "PL": ("packaging_level", "packaging level"),
}
_AHM_FIXED = {"MD": 6, "BD": 6, "ED": 6, "PL": 1}
_AHM_DELIMITERS = ("|", ";", ",", "\x1d", ".")
_AHM_MAX_DI = 13


def parse_ma(text: str, config: ParseConfig) -> Udi:
    """Interpret an MA (IDcode) UDI: plain, inside a URL, or in the ``<UDI IAC="MA">`` XML form.

    Args:
        text: The scan content (without symbology identifier).
        config: Supplies the reference date for two-digit years.

    Returns:
        A :class:`Udi` with agency MA; ``di`` is ``MA.<country>.<industry>.<registrant>.<product>``.

    Raises:
        ParseError: codes ``ma.*`` with positions relative to ``text``.
    """
    if text.lstrip("\ufeff \t\r\n").startswith("<"):
        return _parse_ma_xml(text, config)
    start, end = _locate_ma(text)
    reader = _MaReader(text, config)
    reader.read_code(start, end)
    return reader.finish(text[start:end])


def parse_ahm(text: str, config: ParseConfig) -> Udi:
    """Interpret an Alibaba Health (AHM) code; always warns ``ahm.low_confidence``.

    Segments are split on a delimiter when the code has one (``|``, ``;``, ``,``, GS or
    ``.``); otherwise each variable value ends where the next segment key starts, which is our
    guess at the undelimited form (a value containing a key would be split wrongly).

    Raises:
        ParseError: codes ``ahm.*`` with positions relative to ``text``.
    """
    if not config.enable_ahm:
        raise ParseError.single(
            "ahm.disabled",
            "Expected AHM parsing to be enabled (ParseConfig.enable_ahm), got it disabled.",
            0,
            len(text),
            "ahm",
        )
    return _AhmReader(text, config).read()


# --------------------------------------------------------------------------------------------
# Shared bits
# --------------------------------------------------------------------------------------------


@dataclass
class _Findings:
    """Errors, warnings and elements found so far, positions relative to the text."""

    format: str
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)

    def error(self, code: str, message: str, position: int, length: int = 0) -> None:
        self.errors.append(Issue(code, message, position, length, self.format))

    def warn(self, code: str, message: str, position: int, length: int = 0) -> None:
        self.warnings.append(Issue(code, message, position, length, self.format))

    def element(self, key: str, title: str, value: str, position: int, length: int) -> None:
        self.elements.append(Element(key, title, value, position, length))

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ParseError(sorted(self.errors, key=lambda issue: issue.position))


def _read_date(value: str, reference: date) -> UdiDate:
    """YYMMDD, YYYYMMDD or (XML only) YYYY-MM-DD; raises ValueError with an "Expected" text."""
    digits = value.replace("-", "") if _ISO_DATE.fullmatch(value) else value
    if not (digits.isascii() and digits.isdigit() and len(digits) in (6, 8)):
        raise ValueError(f"Expected a date of 6 (YYMMDD) or 8 (YYYYMMDD) digits, got {value!r}.")
    if len(digits) == 6:
        year, fmt = century_year(int(digits[:2]), reference.year), "YYMMDD"
    else:
        year, fmt = int(digits[:4]), "YYYYMMDD" if digits == value else "YYYY-MM-DD"
    try:
        resolved = date(year, int(digits[-4:-2]), int(digits[-2:]))
    except ValueError:
        raise ValueError(f"Expected a valid {fmt} date, got {value!r}.") from None
    return UdiDate(resolved, value, fmt, DatePrecision.DAY)


def _clean_value(value: str) -> int:
    """Index of the first character outside ASCII letters, digits, ``-`` and ``_`` (or −1)."""
    for index, char in enumerate(value):
        if not (char.isascii() and (char.isalnum() or char in _VALUE_EXTRA)):
            return index
    return -1


# --------------------------------------------------------------------------------------------
# MA
# --------------------------------------------------------------------------------------------


def _locate_ma(text: str) -> tuple[int, int]:
    """Span of the MA code: the whole text, after ``=`` in a URL query, or ``MA.156.`` in a path."""
    if text.startswith("MA."):
        return 0, len(text)
    marker = text.find("=MA.")
    start = marker + 1 if marker >= 0 else text.find("MA.156.")
    if start < 0:
        shown = text[:12] + ("…" if len(text) > 12 else "")
        raise ParseError.single(
            "ma.structure",
            f"Expected an MA code starting 'MA.' (or a URL/XML carrying one), got {shown!r}.",
            0,
            len(text),
            "ma",
        )
    found = _CODE_END.search(text, start)
    return start, found.start() if found else len(text)


@dataclass
class _MaReader:
    text: str
    config: ParseConfig
    findings: _Findings = field(default_factory=lambda: _Findings("ma"))
    di: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    dates: dict[str, UdiDate] = field(default_factory=dict)
    check_at: int | None = None
    """Position of the ``C`` unit, which must be the last one."""
    unit_at: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Position and length of each unit read, by unit letter."""

    def read_code(self, start: int, end: int) -> None:
        """Read ``text[start:end]``: the DI, then each ``.``-separated PI unit."""
        code = self.text[start:end]
        parts = code.split(".")
        offsets = [start]
        for part in parts[:-1]:
            offsets.append(offsets[-1] + len(part) + 1)
        if len(parts) < 5 or parts[0] != "MA":
            self.findings.error(
                "ma.structure",
                f"Expected MA.<country>.<industry>.<registrant>.<product>, got {code!r}.",
                start,
                len(code),
            )
            return
        self._read_di(parts[:5], offsets[:5])
        for part, offset in zip(parts[5:], offsets[5:], strict=True):
            self.read_unit(part[:1], part[1:], offset)

    def _read_di(self, parts: list[str], offsets: list[int]) -> None:
        _, country, industry, registrant, product = parts
        before = len(self.findings.errors)
        if not (country.isascii() and country.isdigit() and len(country) == 3):
            self._bad("ma.country", "a 3-digit country code (156)", country, offsets[1])
        elif country != "156":
            self._bad("ma.country", "country code 156 (China)", country, offsets[1])
        if industry != "M0":
            self.findings.warn(
                "ma.industry",
                f"Expected industry code 'M0' (medical devices), got {industry!r}.",
                offsets[2],
                len(industry),
            )
        if not (registrant.isascii() and registrant.isdigit() and len(registrant) == 6):
            self._bad("ma.registrant", "a 6-digit registrant code", registrant, offsets[3])
        if not product or not product.isascii() or not product.isalnum():
            self._bad(
                "ma.product_code", "a product code of letters and digits", product, offsets[4]
            )
        for key, title, value, offset in (
            ("country", "country code", country, offsets[1]),
            ("industry", "industry code", industry, offsets[2]),
            ("registrant", "registrant code", registrant, offsets[3]),
            ("product_code", "product code", product, offsets[4]),
        ):
            self.findings.element(key, title, value, offset, len(value))
        if len(self.findings.errors) == before:
            self.di = ".".join(parts)
            self.values |= {"country": country, "industry": industry, "registrant": registrant}
            self.values["product_code"] = product

    def _bad(self, code: str, expected: str, got: str, position: int) -> None:
        self.findings.error(code, f"Expected {expected}, got {got!r}.", position, len(got))

    def read_unit(self, key: str, value: str, offset: int, length: int | None = None) -> None:
        """Read one PI unit: ``key`` (a letter) and its ``value`` (starting at ``offset + 1``)."""
        length = len(key) + len(value) if length is None else length
        if key not in _MA_UNITS:
            got = repr(key + value[:3]) if key else "nothing"
            self.findings.error(
                "ma.unknown_identifier",
                f"Expected a production identifier unit (L, S, M, P, D, E, V, Y or C), got {got}.",
                offset,
                length,
            )
            return
        name, title = _MA_UNITS[key]
        self.findings.element(key, title, value, offset, length)
        if self.check_at is not None:
            self.findings.error(
                "ma.check_position",
                f"Expected the check character unit C last, got {key!r} after it.",
                offset,
                length,
            )
        self.unit_at.setdefault(key, (offset, length))
        if not self._valid_value(key, value, offset + (length - len(value))):
            return
        if name in self.values or name in self.dates:
            self.findings.error(
                "ma.duplicate", f"Expected one {title}, got a second one.", offset, length
            )
        elif key in _MA_DATES:
            self._store_date(name, value, offset + (length - len(value)))
        else:
            self.values[name] = value
            if key == "C":
                self.check_at = offset

    def _valid_value(self, key: str, value: str, position: int) -> bool:
        if not value:
            self.findings.error(
                "ma.empty_value", f"Expected a value after unit {key!r}, got nothing.", position
            )
            return False
        bad = _clean_value(value) if key not in _MA_DATES else -1
        if bad >= 0:
            self.findings.error(
                "ma.invalid_character",
                f"Expected letters, digits, '-' or '_' in unit {key!r}, got {value[bad]!r}.",
                position + bad,
                1,
            )
            return False
        return True

    def _store_date(self, name: str, value: str, position: int) -> None:
        try:
            self.dates[name] = _read_date(value, self.config.reference_date())
        except ValueError as bad:
            self.findings.error("ma.date", str(bad), position, len(value))

    def finish(self, hri: str | None) -> Udi:
        self.findings.raise_if_errors()
        other = dict(self.values)
        for key in ("lot", "serial"):
            other.pop(key, None)
        production = self.dates.get("production_date") or self.dates.get("production_date_p")
        expiry = self._expiry(other)
        if self.check_at is not None:
            self.findings.warn(
                "ma.check_unverified",
                f"Expected a check character we can verify, got {other['check_character']!r}"
                f" (the MA check algorithm is not public; not verified).",
                self.check_at,
                1 + len(other["check_character"]),
            )
        other |= _product_code_parts(other.get("product_code", ""))
        return Udi(
            agency=Agency.MA,
            di=self.di,
            lot=self.values.get("lot"),
            serial=self.values.get("serial"),
            production_date=production,
            expiry_date=expiry,
            elements=tuple(sorted(self.findings.elements, key=lambda e: e.position)),
            other=other,
            hri=hri,
            warnings=tuple(self.findings.warnings),
        )

    def _expiry(self, other: dict[str, str]) -> UdiDate | None:
        valid_until = self.dates.get("valid_until")
        if valid_until is not None:
            other["valid_until"] = valid_until.value.isoformat()
            other["valid_until_original"] = valid_until.original
        if "production_date_p" in self.dates:
            other["production_date_p"] = self.dates["production_date_p"].value.isoformat()
        expiry = self.dates.get("expiry_date")
        if expiry is None and valid_until is not None:
            self.findings.warn(
                "ma.expiry_from_valid_until",
                "Expected an expiry date unit E (失效期), got only V (有效期); expiry_date is"
                " taken from V.",
                *self.unit_at["V"],
            )
            return valid_until
        return expiry


def _product_code_parts(product: str) -> dict[str, str]:
    """Split an 8-digit product code as the MA manual's example does (not validated).

    The manual describes packaging digit (1) + item code (6) + check (1); real codes are often
    longer and alphanumeric, so only exactly-8-digit codes are split.
    """
    if len(product) != 8 or not product.isdigit():
        return {}
    return {"packaging_level": product[0], "item_code": product[1:7], "product_check": product[7]}


def _parse_ma_xml(text: str, config: ParseConfig) -> Udi:
    """``<UDI IAC="MA"><DI>…</DI><SN>…</SN>…</UDI>``, parsed with entities refused."""
    reader = _MaReader(text, config)
    root = _parse_xml_root(text)
    if root.tag != "UDI" or root.get("IAC") != "MA":
        raise ParseError.single(
            "ma.structure",
            f'Expected <UDI IAC="MA">, got <{root.tag} IAC={root.get("IAC")!r}>.',
            0,
            len(text),
            "ma",
        )
    di_span = None
    cursor = 0
    for child in root:
        value, start, cursor = _xml_value(text, child, cursor)
        if child.tag == "DI":
            di_span = (start, start + len(value))
        elif child.tag in _XML_UNITS and value:
            reader.read_unit(_XML_UNITS[child.tag], value, start, len(value))
        elif child.tag not in _XML_UNITS:
            reader.findings.warn(
                "ma.xml_unknown_element",
                f"Expected DI, SN, MFG, LOT, EXP or VAL, got <{child.tag}> (ignored).",
                start,
                len(value),
            )
    if di_span is None or di_span[0] == di_span[1]:
        raise ParseError.single(
            "ma.structure",
            "Expected a <DI> element with the MA code, got none.",
            0,
            len(text),
            "ma",
        )
    reader.read_code(*di_span)
    return reader.finish(text[di_span[0] : di_span[1]])


def _parse_xml_root(text: str) -> ElementTree.Element:
    lowered = text.lower()
    for forbidden in ("<!doctype", "<!entity"):
        at = lowered.find(forbidden)
        if at >= 0:
            raise ParseError.single(
                "ma.xml_forbidden",
                f"Expected XML without DTD or entity declarations, got {text[at : at + 9]!r}.",
                at,
                len(forbidden),
                "ma",
            )
    try:
        return ElementTree.fromstring(text.lstrip("\ufeff \t\r\n"))
    except ElementTree.ParseError as error:
        line, column = error.position
        position = sum(len(row) + 1 for row in text.splitlines()[: line - 1]) + column
        raise ParseError.single(
            "ma.xml", f"Expected well-formed XML, got an error: {error}.", position, 0, "ma"
        ) from None


def _xml_value(text: str, child: ElementTree.Element, cursor: int) -> tuple[str, int, int]:
    """The stripped text of ``child``, its offset in ``text``, and where to search next."""
    value = (child.text or "").strip()
    tag_at = text.find(f"<{child.tag}", cursor)
    content_at = text.find(">", tag_at) + 1 if tag_at >= 0 else cursor
    start = text.find(value, content_at) if value else content_at
    return value, max(start, 0), max(content_at, cursor)


# --------------------------------------------------------------------------------------------
# AHM
# --------------------------------------------------------------------------------------------


@dataclass
class _AhmReader:
    text: str
    config: ParseConfig
    findings: _Findings = field(default_factory=lambda: _Findings("ahm"))
    values: dict[str, str] = field(default_factory=dict)
    dates: dict[str, UdiDate] = field(default_factory=dict)

    def read(self) -> Udi:
        if not self.text.startswith("MF"):
            self.findings.error(
                "ahm.structure",
                f"Expected an AHM code starting 'MF', got {self.text[:2]!r}.",
                0,
                min(len(self.text), 2),
            )
            self.findings.raise_if_errors()
        for key, value, position in self._segments():
            self._store(key, value, position)
        if "di" not in self.values and not self.findings.errors:
            self.findings.error("ahm.structure", "Expected a DI after 'MF', got nothing.", 2)
        self.findings.raise_if_errors()
        return self._udi()

    def _segments(self) -> list[tuple[str, str, int]]:
        delimiter = next((d for d in _AHM_DELIMITERS if d in self.text), None)
        if delimiter is not None:
            segments, position = [], 0
            for part in self.text.split(delimiter):
                segments.append((part[:2], part[2:], position))
                position += len(part) + 1
            return segments
        return self._undelimited()

    def _undelimited(self) -> list[tuple[str, str, int]]:
        segments: list[tuple[str, str, int]] = []
        position, text = 0, self.text
        while position < len(text):
            key = text[position : position + 2]
            start = position + 2
            if key in _AHM_FIXED:
                end = start + _AHM_FIXED[key]
            else:
                seen = {segment[0] for segment in segments} | {key}
                end = self._next_key(start, seen)
            segments.append((key, text[start:end], position))
            if key not in _AHM_KEYS:
                break  # nothing tells where an unknown segment ends
            position = end
        return segments

    def _next_key(self, start: int, seen: set[str]) -> int:
        for index in range(start + 1, len(self.text) - 1):
            if self.text[index : index + 2] in _AHM_KEYS.keys() - seen:
                return index
        return len(self.text)

    def _store(self, key: str, value: str, position: int) -> None:
        length = len(key) + len(value)
        if key not in _AHM_KEYS:
            self.findings.error(
                "ahm.unknown_segment",
                f"Expected a segment key (MF, BA, BN, SN, MD, BD, ED or PL), got {key!r}.",
                position,
                length,
            )
            return
        name, title = _AHM_KEYS[key]
        self.findings.element(key, title, value, position, length)
        if name in self.values or name in self.dates:
            self.findings.error(
                "ahm.duplicate", f"Expected one {title}, got a second one.", position, length
            )
        elif not value or _clean_value(value) >= 0:
            self.findings.error(
                "ahm.structure",
                f"Expected letters or digits after {key!r}, got {value!r}.",
                position + 2,
                len(value),
            )
        elif key in ("MD", "BD", "ED"):
            self._store_date(name, value, position + 2)
        else:
            self._store_value(key, name, value, position + 2)

    def _store_value(self, key: str, name: str, value: str, position: int) -> None:
        if key == "MF" and len(value) > _AHM_MAX_DI:
            self.findings.error(
                "ahm.di_length",
                f"Expected at most {_AHM_MAX_DI} DI characters, got {len(value)}.",
                position,
                len(value),
            )
        elif key == "PL" and not value.isdigit():
            self.findings.error(
                "ahm.packaging", f"Expected a packaging digit 0-9, got {value!r}.", position, 1
            )
        else:
            self.values[name] = value

    def _store_date(self, name: str, value: str, position: int) -> None:
        if len(value) != 6:
            self.findings.error(
                "ahm.date",
                f"Expected a 6-digit date (YYMMDD), got {value!r}.",
                position,
                len(value),
            )
            return
        try:
            self.dates[name] = _read_date(value, self.config.reference_date())
        except ValueError as bad:
            self.findings.error("ahm.date", str(bad), position, len(value))

    def _udi(self) -> Udi:
        other = {"raw": self.text}
        if "packaging_level" in self.values:
            other["packaging_level"] = self.values["packaging_level"]
        if "best_before" in self.dates:
            other["best_before"] = self.dates["best_before"].value.isoformat()
        self.findings.warn(
            "ahm.low_confidence",
            "Expected a publicly specified format, got an AHM code (no public specification;"
            " fields are a best-effort reading, keep the raw text).",
            0,
            len(self.text),
        )
        return Udi(
            agency=Agency.AHM,
            di=self.values.get("di"),
            lot=self.values.get("lot"),
            serial=self.values.get("serial"),
            production_date=self.dates.get("production_date"),
            expiry_date=self.dates.get("expiry_date"),
            elements=tuple(self.findings.elements),
            other=other,
            hri=self.text,
            warnings=tuple(self.findings.warnings),
        )
