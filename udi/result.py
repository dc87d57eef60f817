"""The interpreted UDI and the result of parsing one scan.

Every format parser (GS1 element strings, HRI, Digital Link, HIBC, ISBT 128, MA, AHM) returns
a :class:`Udi`; :func:`udi.parse` wraps it, or the errors found for each format the scan might
be, in a :class:`ParseResult` whose :meth:`ParseResult.to_json` is the JSON form shared by the
CLI and the HTTP API.

>>> from datetime import date
>>> expiry = UdiDate(date(2028, 12, 31), "281231", "YYMMDD", DatePrecision.DAY)
>>> expiry.to_json()["date"]
'2028-12-31'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum
from typing import Any, TypeVar

from udi.errors import Issue


class Agency(StrEnum):
    """Issuing agency of a UDI (ISO/IEC 15459 issuers accepted by NMPA, FDA and the EU)."""

    GS1 = "GS1"
    HIBC = "HIBC"
    ISBT128 = "ISBT128"
    MA = "MA"
    AHM = "AHM"
    IFA = "IFA"
    """Informationsstelle für Arzneispezialitäten (PPN in an ISO/IEC 15434 envelope)."""


class DatePrecision(StrEnum):
    """How much of a date the label actually states."""

    DAY = "day"
    MONTH = "month"
    """Only year and month are known (GS1 DD=00, HIBC MMYY); ``value`` is the month's last day."""
    HOUR = "hour"
    MINUTE = "minute"


@dataclass(frozen=True, slots=True)
class UdiDate:
    """A date read from a label, with the text it came from and how precise it is."""

    value: date
    """The resolved calendar date (the last day of the month for month precision)."""

    original: str
    """The characters on the label, e.g. ``"281200"`` or ``"0624"``."""

    format: str
    """The label's date format: ``YYMMDD``, ``YYYYMMDD``, ``MMYY``, ``MMDDYY``, ``YYJJJ``…"""

    precision: DatePrecision = DatePrecision.DAY
    """What the label states; month precision means the day was not given."""

    time: time | None = None
    """Hour (and minute) where the format carries them, e.g. HIBC ``$$4`` or GS1 (7003)."""

    def to_json(self) -> dict[str, Any]:
        """Serialise to ``{"date", "original", "format", "precision", "time"}``."""
        return {
            "date": self.value.isoformat(),
            "original": self.original,
            "format": self.format,
            "precision": str(self.precision),
            "time": self.time.isoformat(timespec="minutes") if self.time else None,
        }


@dataclass(frozen=True, slots=True)
class Element:
    """One data element of a scan: a GS1 AI, an HIBC field, an MA unit…"""

    key: str
    """The element's identifier: the AI (``"17"``) for GS1, a field id elsewhere (``"lic"``)."""

    title: str
    """Short title, e.g. ``"USE BY OR EXPIRY"`` or ``"labeler identification code"``."""

    value: str
    """The element's data, without its identifier (percent-decoded for Digital Link)."""

    position: int
    """0-based offset of the element (identifier included) in the text it was read from."""

    length: int
    """Length of the element, identifier included, in the text it was read from."""

    def shifted(self, offset: int) -> Element:
        """Return the same element with its position moved by ``offset``."""
        return dataclasses.replace(self, position=self.position + offset)

    def to_json(self) -> dict[str, Any]:
        """Serialise to ``{"key", "title", "value", "position", "length"}``."""
        return {
            "key": self.key,
            "title": self.title,
            "value": self.value,
            "position": self.position,
            "length": self.length,
        }


# Each slot set through its descriptor: twice as fast as the frozen dataclass ``__init__``,
# which goes through ``object.__setattr__`` for every field. The GS1 parsers make an Element
# per AI of every scan, so they use new_element(). (Unpacking fails at import should the
# fields of Element change.)
_SET_KEY, _SET_TITLE, _SET_VALUE, _SET_POSITION, _SET_LENGTH = (
    Element.__dict__[item.name].__set__ for item in dataclasses.fields(Element)
)


def new_element(key: str, title: str, value: str, position: int, length: int) -> Element:
    """The same object as ``Element(key, title, value, position, length)``, built faster."""
    element = object.__new__(Element)
    _SET_KEY(element, key)
    _SET_TITLE(element, title)
    _SET_VALUE(element, value)
    _SET_POSITION(element, position)
    _SET_LENGTH(element, length)
    return element


@dataclass(frozen=True)
class Udi:
    """A successfully interpreted scan: the device identifier and its production identifiers."""

    agency: Agency
    """Who issued the identifier."""

    di: str | None
    """Device identifier: GTIN-14 for GS1, LIC+PCN+UoM for HIBC, the MA DI… None for an SSCC."""

    gtin: str | None = None
    """GTIN-14 (GS1 only), zero-padded from GTIN-8/12/13."""

    sscc: str | None = None
    """SSCC of a logistic unit (GS1 AI 00), used for cartons and pallets."""

    lot: str | None = None
    serial: str | None = None
    production_date: UdiDate | None = None
    expiry_date: UdiDate | None = None
    quantity: int | None = None
    """A quantity carried by the code itself (GS1 30/37, HIBC $$8/$$9 and /Q)."""

    elements: tuple[Element, ...] = ()
    """Every element read, in scan order, with positions."""

    other: dict[str, str] = field(default_factory=dict)
    """Further production identifiers by name, e.g. ``{"sterilisation_lot": "20220118"}``."""

    hri: str | None = None
    """Canonical human-readable interpretation, e.g. ``(01)…(17)…(10)…``."""

    digital_link: str | None = None
    """Canonical GS1 Digital Link URI (GS1 only)."""

    warnings: tuple[Issue, ...] = ()
    """Things a careful operator should know that do not make the scan invalid."""

    def with_positions(self, elements: tuple[Element, ...], warnings: tuple[Issue, ...]) -> Udi:
        """Return a copy with re-positioned elements and warnings.

        Written out rather than ``dataclasses.replace``: this runs once per scan and
        ``replace`` introspects every field each time.
        """
        return Udi(
            self.agency,
            self.di,
            self.gtin,
            self.sscc,
            self.lot,
            self.serial,
            self.production_date,
            self.expiry_date,
            self.quantity,
            elements,
            self.other,
            self.hri,
            self.digital_link,
            warnings,
        )

    def to_json(self) -> dict[str, Any]:
        """Serialise the interpreted fields (without the envelope of :class:`ParseResult`)."""
        return {
            "agency": str(self.agency),
            "di": self.di,
            "gtin": self.gtin,
            "sscc": self.sscc,
            "lot": self.lot,
            "serial": self.serial,
            "production_date": _iso(self.production_date),
            "expiry_date": _iso(self.expiry_date),
            "production_date_detail": _detail(self.production_date),
            "expiry_date_detail": _detail(self.expiry_date),
            "quantity": self.quantity,
            "other": dict(self.other),
            "hri": self.hri,
            "digital_link": self.digital_link,
            "elements": [element.to_json() for element in self.elements],
        }


def _iso(value: UdiDate | None) -> str | None:
    return value.value.isoformat() if value else None


def _detail(value: UdiDate | None) -> dict[str, Any] | None:
    return value.to_json() if value else None


@dataclass(frozen=True)
class ParseResult:
    """The outcome of :func:`udi.parse`: the UDI, or every reason it could not be read."""

    scan: str
    """The scan exactly as received."""

    symbology: str | None = None
    """AIM symbology identifier found at the start, e.g. ``"]d2"``; None when absent."""

    symbology_name: str | None = None
    """What the symbology identifier means, e.g. ``"GS1 DataMatrix"``."""

    detected: str | None = None
    """The format the content was read as: gs1, gs1_hri, gs1_digital_link, hibc, ma…"""

    udi: Udi | None = None
    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the scan was interpreted without errors."""
        return self.udi is not None and not self.errors

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form: interpreted fields at the top level, errors with positions."""
        empty = dict.fromkeys(
            ("agency", "di", "gtin", "sscc", "lot", "serial", "production_date", "expiry_date")
        )
        body: dict[str, Any] = {
            "ok": self.ok,
            "scan": self.scan,
            "symbology": self.symbology,
            "symbology_name": self.symbology_name,
            "detected": self.detected,
            **empty,
            "elements": [],
        }
        if self.udi is not None:
            body.update(self.udi.to_json())
        body["errors"] = [issue.to_json() for issue in self.errors]
        body["warnings"] = [issue.to_json() for issue in self.warnings]
        return body


_Assembled = TypeVar("_Assembled", Udi, ParseResult)

_FIELD_NAMES: dict[type, frozenset[str]] = {
    cls: frozenset(item.name for item in dataclasses.fields(cls)) for cls in (Udi, ParseResult)
}


def assemble(cls: type[_Assembled], values: dict[str, Any]) -> _Assembled:
    """Build a :class:`Udi` or :class:`ParseResult` from the value of every field, by name.

    The same object as ``cls(**values)``, about three times faster: the ``__init__`` of a
    frozen dataclass stores each field through ``object.__setattr__``, while this fills the
    instance ``__dict__`` in one call. The GS1 parsers and :func:`udi.parse` build one of each
    per scan, which makes the difference worth it. ``values`` must name every field (checked),
    so a field added to the class cannot silently keep its class default here.
    """
    assert values.keys() == _FIELD_NAMES[cls], sorted(values.keys() ^ _FIELD_NAMES[cls])
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance
