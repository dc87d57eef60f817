"""GS1 EPCIS 2.0 JSON-LD ⇄ our movement events: identifiers, CBV vocabulary, both directions.

Pure mapping, no database: :func:`parse_event` reads one EPCIS event into a
:class:`CapturedEvent` whose parties and places are still identifiers (:class:`Ref`), which
the service resolves; :func:`export_event` renders a stored event row (with its items) as an
EPCIS event, given functions that name our parties and places as URIs.

Identifiers (docs/epcis.md):

* Trade items and containers are GS1 keys, read as EPC URNs (``urn:epc:id:sgtin:…``,
  ``urn:epc:class:lgtin:…``, ``urn:epc:idpat:sgtin:….*``, ``urn:epc:id:sscc:…``) or GS1
  Digital Link URIs on any domain, and written as canonical Digital Link URIs:
  ``https://id.gs1.org/01/{GTIN}/21/{serial}`` (a unit), ``…/01/{GTIN}/10/{lot}`` (a lot
  class), ``…/01/{GTIN}`` (a class without lot), ``…/00/{SSCC}`` (a container).
* Places and parties: SGLN/PGLN (URN or Digital Link ``/414/…/254/…``, ``/417/…``) when the
  deployment maps them to our records, otherwise ``urn:udi-trace:location:<uuid>``,
  ``urn:udi-trace:warehouse:<uuid>`` and ``urn:udi-trace:org:<uuid>``.
* eventID: ``urn:uuid:<event_id>``; any other eventID (``ni:///sha-256;…``) maps to the
  deterministic :func:`event_uuid`.

What we record that EPCIS has no field for travels in extension fields under the ``udit:``
prefix (``urn:udi-trace:epcis:``); capture reads them back, so our own documents round-trip.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from urllib.parse import quote, unquote

from udi.checksums import gs1_mod10
from udi.digital_link import render_digital_link
from udi.errors import ParseError
from udi.identifiers import Gln, Gtin, Sscc
from warehouse.domain.movements import Action, BizStep, Disposition, EventType, NewItem

STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
NAMESPACE = "urn:udi-trace:epcis:"
PREFIX = "udit"
CONTEXT: tuple[Any, ...] = (STANDARD_CONTEXT, {PREFIX: NAMESPACE})
"""The ``@context`` of every document we write: the standard one plus our extension prefix."""

EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:udi-trace:epcis:eventID")
"""uuid5 namespace for eventIDs that are not ``urn:uuid:`` (hash eventIDs, missing ones)."""

DECLARATION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:udi-trace:epcis:errorDeclaration")

OWN_URN = "urn:udi-trace:"
DOCUMENT_URN = "urn:udi-trace:bt:"
"""Wraps a business document number that is not a URI (EPCIS wants a URI there)."""

CUSTOM_STEP_URN = "urn:udi-trace:bizstep:"
"""Our steps CBV does not have (``returning``) are written as ``urn:udi-trace:bizstep:…``."""

PIECE_UOMS = frozenset({"EA", "H87", "C62"})
"""Units of measure that count pieces: the only quantities we record."""

EVENT_TYPES = {"ObjectEvent": EventType.OBJECT, "AggregationEvent": EventType.AGGREGATION}
_TYPE_NAMES = {kind: name for name, kind in EVENT_TYPES.items()}

CBV_STEPS = frozenset(
    {
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
        "sensor_reporting",
        "sampling",
    }
)
"""CBV 2.0 business steps (the schema's list)."""

DOCUMENT_TYPES = frozenset(
    {
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    }
)
"""CBV 2.0 business transaction types."""

UNSUPPORTED_FIELDS = {
    "persistentDisposition": "persistent dispositions are not recorded",
    "sensorElementList": "sensor data is not recorded",
    "certificationInfo": "certification information is not recorded",
}
"""Standard fields we cannot keep: an event carrying one is refused rather than cut short."""

_KNOWN_FIELDS = frozenset(
    {
        "@context",
        "type",
        "eventID",
        "eventTime",
        "eventTimeZoneOffset",
        "recordTime",
        "errorDeclaration",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "epcList",
        "quantityList",
        "parentID",
        "childEPCs",
        "childQuantityList",
        "ilmd",
    }
)

# Vocabulary URIs: the CBV 1.x URN form and the CBV 2.0 Web URI form of each kind.
_VOCABULARY = {
    "bizstep": ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    "disp": ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    "btt": ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    "sdt": ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    "er": ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
}

_ILMD_LOT = ("cbvmda:lotNumber", "urn:epcglobal:cbv:mda:lotNumber")
_ILMD_EXPIRY = ("cbvmda:itemExpirationDate", "urn:epcglobal:cbv:mda:itemExpirationDate")
_ILMD_PRODUCTION = (f"{PREFIX}:productionDate", f"{NAMESPACE}productionDate")

_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


class MappingRefused(ValueError):
    """An EPCIS event that is valid EPCIS but outside what we record, or malformed for us."""

    def __init__(self, code: str, message: str, pointer: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.pointer = pointer


REFUSAL_CODES = {
    "epcis.unsupported_event": "Only ObjectEvent and AggregationEvent map to our movements.",
    "epcis.unsupported_field": "The event carries a standard field this service cannot record.",
    "epcis.identifier": "An identifier is not a GS1 key, Digital Link or one of ours we read.",
    "epcis.vocabulary": "A bizStep, disposition or type is not one this service records.",
    "epcis.quantity": "Quantities are whole pieces (no uom, or EA/H87/C62), at least 1.",
    "epcis.unknown_identifier": "A party, location or warehouse identifier is not on file.",
    "epcis.schema": "The document does not validate against the EPCIS 2.0 JSON schema.",
    "epcis.time": "An event or declaration time is unreadable or outside the years 1970-9998.",
}
"""Stable problem codes of the EPCIS mapping, with what each means."""


# --- Identifiers ----------------------------------------------------------------------------------


class KeyKind(StrEnum):
    """Which GS1 key an identifier is."""

    SGTIN = "sgtin"
    LGTIN = "lgtin"
    GTIN = "gtin"
    """A product class without lot (``urn:epc:idpat:sgtin:…*`` or ``/01/{gtin}``)."""
    SSCC = "sscc"
    SGLN = "sgln"
    PGLN = "pgln"


@dataclass(frozen=True, slots=True)
class Key:
    """A GS1 identification key read from an EPC URN or a Digital Link URI."""

    kind: KeyKind
    value: str
    """GTIN-14, SSCC or GLN digits."""

    serial: str | None = None
    lot: str | None = None
    extension: str | None = None
    """SGLN extension (AI 254); None for the GLN itself."""

    def uri(self) -> str:
        """The canonical GS1 Digital Link URI (id.gs1.org, constrained to the key)."""
        pairs: list[tuple[str, str]]
        if self.kind is KeyKind.SSCC:
            pairs = [("00", self.value)]
        elif self.kind is KeyKind.PGLN:
            pairs = [("417", self.value)]
        elif self.kind is KeyKind.SGLN:
            pairs = [("414", self.value)]
            if self.extension:
                pairs.append(("254", self.extension))
        else:
            pairs = [("01", self.value)]
            if self.lot is not None:
                pairs.append(("10", self.lot))
            if self.serial is not None:
                pairs.append(("21", self.serial))
        rendered = render_digital_link(pairs)
        assert rendered is not None  # every pair list above has a primary key
        return rendered


def parse_key(uri: str) -> Key | None:
    """Read a GS1 key from an EPC URN or a Digital Link URI; None if ``uri`` is neither.

    Raises:
        ValueError: The URI is of a GS1 form but its digits or structure are wrong.
    """
    if uri.startswith(("urn:epc:id:", "urn:epc:class:", "urn:epc:idpat:")):
        return _parse_urn(uri)
    if uri.startswith(("https://", "http://")):
        return _parse_digital_link(uri)
    return None


def canonical(uri: str) -> str:
    """One spelling per identifier: GS1 keys as canonical Digital Link, others unchanged."""
    try:
        key = parse_key(uri)
    except ValueError:
        return uri
    return key.uri() if key is not None else uri


def _gs1(prefix_and_ref: str, check: Callable[[str], Any]) -> str:
    digits = prefix_and_ref + str(gs1_mod10(prefix_and_ref))
    try:
        check(digits)
    except ParseError as error:
        raise ValueError(str(error)) from None
    return digits


def _parse_urn(uri: str) -> Key:
    scheme, _, body = uri.rpartition(":")
    parts = body.split(".")
    shapes = {
        "urn:epc:id:sgtin": 3,
        "urn:epc:class:lgtin": 3,
        "urn:epc:idpat:sgtin": 3,
        "urn:epc:id:sscc": 2,
        "urn:epc:id:sgln": 3,
        "urn:epc:id:pgln": 2,
    }
    if scheme not in shapes or len(parts) != shapes[scheme]:
        raise ValueError(f"Expected an SGTIN, LGTIN, SSCC, SGLN or PGLN EPC URN, got {uri!r}.")
    company, reference = parts[0], parts[1]
    if not (company.isdigit() and reference.isdigit()):
        raise ValueError(f"Expected digits for company prefix and reference, got {uri!r}.")
    if scheme == "urn:epc:id:sscc":
        if len(company) + len(reference) != 17:
            raise ValueError(f"Expected 17 digits before the check digit, got {uri!r}.")
        return Key(KeyKind.SSCC, _gs1(reference[:1] + company + reference[1:], Sscc.parse))
    if scheme in ("urn:epc:id:sgln", "urn:epc:id:pgln"):
        if len(company) + len(reference) != 12:
            raise ValueError(f"Expected 12 digits before the check digit, got {uri!r}.")
        gln = _gs1(company + reference, Gln.parse)
        if scheme == "urn:epc:id:pgln":
            return Key(KeyKind.PGLN, gln)
        extension = unquote(parts[2])
        return Key(KeyKind.SGLN, gln, extension=None if extension == "0" else extension)
    if len(company) + len(reference) != 13:
        raise ValueError(f"Expected 13 digits before the check digit, got {uri!r}.")
    gtin = _gs1(reference[:1] + company + reference[1:], Gtin.parse)
    last = unquote(parts[2])
    if scheme == "urn:epc:idpat:sgtin":
        if last != "*":
            raise ValueError(f"Expected a whole-class pattern ending in '*', got {uri!r}.")
        return Key(KeyKind.GTIN, gtin)
    if scheme == "urn:epc:class:lgtin":
        return Key(KeyKind.LGTIN, gtin, lot=last)
    return Key(KeyKind.SGTIN, gtin, serial=last)


_DL_KEYS = {"01", "00", "414", "417"}


def _parse_digital_link(uri: str) -> Key | None:
    path = uri.split("?", 1)[0].split("#", 1)[0]
    segments = path.split("/")[3:]  # after scheme://host/
    start = next((i for i, s in enumerate(segments) if s in _DL_KEYS), None)
    if start is None or (len(segments) - start) % 2:
        return None  # a web URI, not a Digital Link (a bizTransaction URL, say)
    pairs = {segments[i]: unquote(segments[i + 1]) for i in range(start, len(segments), 2)}
    key = segments[start]
    try:
        if key == "00":
            return Key(KeyKind.SSCC, Sscc.parse(pairs["00"]).value)
        if key == "417":
            return Key(KeyKind.PGLN, Gln.parse(pairs["417"]).value)
        if key == "414":
            extension = pairs.get("254")
            return Key(KeyKind.SGLN, Gln.parse(pairs["414"]).value, extension=extension)
        gtin = Gtin.parse(pairs["01"]).value
    except ParseError as error:
        raise ValueError(f"{error} ({uri!r})") from None
    if "21" in pairs:
        return Key(KeyKind.SGTIN, gtin, serial=pairs["21"], lot=pairs.get("10"))
    if "10" in pairs:
        return Key(KeyKind.LGTIN, gtin, lot=pairs["10"])
    return Key(KeyKind.GTIN, gtin)


def event_uuid(event_id: str) -> uuid.UUID:
    """Our event_id for an EPCIS eventID: the UUID of ``urn:uuid:``, else a uuid5 of it."""
    if event_id.lower().startswith("urn:uuid:"):
        try:
            return uuid.UUID(event_id[9:])
        except ValueError:
            pass
    return uuid.uuid5(EVENT_ID_NAMESPACE, event_id)


def declaration_event_id(declared: uuid.UUID, at: datetime, own: str | None) -> uuid.UUID:
    """The id of an error declaration of ``declared`` made at ``at``: the one it names
    (``udit:declarationEventID``), else derived from both, so a declaration sent again is the
    same event whether it is applied or only recorded."""
    if own:
        return event_uuid(own)
    return uuid.uuid5(DECLARATION_NAMESPACE, f"{declared}|{at.astimezone(UTC).isoformat()}")


def event_uri(event_id: uuid.UUID | str) -> str:
    """The EPCIS eventID of one of our events."""
    return f"urn:uuid:{event_id}"


def own_urn(kind: str, value: uuid.UUID | str) -> str:
    """``urn:udi-trace:<kind>:<uuid>`` for an organisation, warehouse or location."""
    return f"{OWN_URN}{kind}:{value}"


def parse_own_urn(uri: str) -> tuple[str, uuid.UUID] | None:
    """``(kind, id)`` of one of our URNs, or None."""
    if not uri.startswith(OWN_URN):
        return None
    kind, _, value = uri[len(OWN_URN) :].partition(":")
    try:
        return kind, uuid.UUID(value)
    except ValueError:
        return None


def vocabulary(value: str, kind: str) -> str:
    """The CBV short name of a vocabulary value given as a short name, URN or Web URI."""
    for prefix in _VOCABULARY[kind]:
        if value.startswith(prefix):
            return value[len(prefix) :]
    if kind == "bizstep" and value.startswith(CUSTOM_STEP_URN):
        return value[len(CUSTOM_STEP_URN) :]
    return value


def step_value(step: BizStep) -> str:
    """How a step is written: the CBV short name, or our URN for steps CBV lacks."""
    return step.value if step.value in CBV_STEPS else CUSTOM_STEP_URN + step.value


def document_uri(document_id: str) -> str:
    """A business document number as the URI EPCIS wants (URIs pass unchanged)."""
    if _URI_SCHEME.match(document_id):
        return document_id
    return DOCUMENT_URN + quote(document_id, safe="")


def document_id(uri: str) -> str:
    """The document number behind :func:`document_uri`."""
    return unquote(uri[len(DOCUMENT_URN) :]) if uri.startswith(DOCUMENT_URN) else uri


# --- Capture: EPCIS → our event -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ref:
    """A party or place named by identifier, resolved by the service."""

    uri: str
    """Canonical spelling (see :func:`canonical`)."""

    given: str
    """As the document wrote it."""

    pointer: str
    """JSON pointer of the value in the document."""


@dataclass(frozen=True, slots=True)
class CapturedEvent:
    """An EPCIS event read into our vocabulary; parties and places still as :class:`Ref`."""

    event_id: uuid.UUID
    epcis_event_id: str
    """The eventID as sent (or the uuid5 URN made up for an event without one)."""

    event_type: EventType
    biz_step: BizStep
    event_time: datetime
    action: Action
    disposition: Disposition | None = None
    items: tuple[NewItem, ...] = ()
    parent_sscc: str | None = None
    read_point: Ref | None = None
    location: Ref | None = None
    acting_party: Ref | None = None
    owner: Ref | None = None
    possessor: Ref | None = None
    source_party: Ref | None = None
    destination_party: Ref | None = None
    destination_warehouse: Ref | None = None
    documents: tuple[tuple[str, str], ...] = ()
    shipment_id: uuid.UUID | None = None
    staff_id: str | None = None
    scanner_device_id: str | None = None
    patient_ref: str | None = None
    encounter_ref: str | None = None
    declares_event_id: uuid.UUID | None = None
    error_reason: str | None = None
    corrective_event_ids: tuple[uuid.UUID, ...] = ()


def event_list(document: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The JSON pointer of a document's eventList and the list (EPCIS or query document)."""
    body = document.get("epcisBody") or {}
    if document.get("type") == "EPCISQueryDocument":
        results = (body.get("queryResults") or {}).get("resultsBody") or {}
        return "/epcisBody/queryResults/resultsBody/eventList", list(results.get("eventList", []))
    return "/epcisBody/eventList", list(body.get("eventList", []))


def parse_event(raw: Mapping[str, Any], pointer: str) -> CapturedEvent:
    """Read one schema-valid EPCIS event.

    Raises:
        MappingRefused: The event is outside our model, with the offending field's pointer.
    """
    return _Reader(raw, pointer).event()


class _Reader:
    def __init__(self, raw: Mapping[str, Any], pointer: str) -> None:
        self.raw = raw
        self.at = pointer

    def refuse(self, code: str, message: str, *path: str | int) -> MappingRefused:
        return MappingRefused(code, message, self.at + "".join(f"/{p}" for p in path))

    def event(self) -> CapturedEvent:
        raw = self.raw
        kind = EVENT_TYPES.get(raw.get("type", ""))
        if kind is None:
            raise self.refuse(
                "epcis.unsupported_event",
                f"Expected an ObjectEvent or AggregationEvent, got {raw.get('type')}.",
                "type",
            )
        for name, why in UNSUPPORTED_FIELDS.items():
            if name in raw:
                raise self.refuse(
                    "epcis.unsupported_field", f"Expected no {name}, got one: {why}.", name
                )
        unknown = sorted(k for k in raw if k not in _KNOWN_FIELDS and ":" not in k)
        if unknown:
            raise self.refuse(
                "epcis.unsupported_field", f"Expected EPCIS fields, got {unknown[0]!r}.", unknown[0]
            )
        if "bizStep" not in raw:
            raise self.refuse("epcis.vocabulary", "Expected a bizStep, got none.", "bizStep")
        offset = _tz(raw["eventTimeZoneOffset"])
        epcis_id = raw.get("eventID") or _content_id(raw)
        event_time = self.time(raw["eventTime"], "eventTime").astimezone(offset)
        fields: dict[str, Any] = {
            "event_id": event_uuid(epcis_id),
            "epcis_event_id": epcis_id,
            "event_type": kind,
            "biz_step": self.step(raw["bizStep"]),
            "event_time": event_time,
            "action": Action(raw["action"]),
            "disposition": self.disposition(raw.get("disposition")),
            "items": self.items(kind),
            "parent_sscc": self.parent(kind),
            "read_point": self.place("readPoint"),
            "location": self.place("bizLocation"),
            "documents": self.documents(),
        }
        fields.update(self.parties())
        fields.update(self.extensions())
        declaration = raw.get("errorDeclaration")
        if declaration is not None:
            fields.update(self.declaration(declaration, fields["event_id"], offset))
        return CapturedEvent(**fields)

    # -- vocabulary --

    def step(self, value: str) -> BizStep:
        name = vocabulary(value, "bizstep")
        try:
            return BizStep(name)
        except ValueError:
            known = ", ".join(s.value for s in BizStep)
            raise self.refuse(
                "epcis.vocabulary",
                f"Expected a bizStep we record ({known}), got {value}.",
                "bizStep",
            ) from None

    def disposition(self, value: str | None) -> Disposition | None:
        if value is None:
            return None
        try:
            return Disposition(vocabulary(value, "disp"))
        except ValueError:
            raise self.refuse(
                "epcis.vocabulary", f"Expected a disposition we record, got {value}.", "disposition"
            ) from None

    # -- what --

    def items(self, kind: EventType) -> tuple[NewItem, ...]:
        epc_field, quantity_field = (
            ("epcList", "quantityList")
            if kind is EventType.OBJECT
            else ("childEPCs", "childQuantityList")
        )
        items: list[tuple[str, NewItem]] = []
        for index, uri in enumerate(self.raw.get(epc_field, [])):
            items.append((canonical(uri), self.instance(uri, epc_field, index)))
        for index, element in enumerate(self.raw.get(quantity_field, [])):
            items.append(
                (canonical(element["epcClass"]), self.quantity(element, quantity_field, index))
            )
        return tuple(self.with_lot_data(items))

    def key(self, uri: str, *path: str | int) -> Key:
        try:
            key = parse_key(uri)
        except ValueError as error:
            raise self.refuse("epcis.identifier", str(error), *path) from None
        if key is None:
            raise self.refuse(
                "epcis.identifier",
                f"Expected a GS1 EPC URN or Digital Link URI, got {uri!r}.",
                *path,
            )
        return key

    def instance(self, uri: str, name: str, index: int) -> NewItem:
        key = self.key(uri, name, index)
        if key.kind is KeyKind.SSCC:
            return NewItem(sscc=key.value)
        if key.kind is KeyKind.SGTIN:
            return NewItem(di=key.value, serial=key.serial, lot=key.lot)
        raise self.refuse(
            "epcis.identifier",
            f"Expected a unit (SGTIN) or container (SSCC) in {name}, got a {key.kind} {uri!r}.",
            name,
            index,
        )

    def quantity(self, element: Mapping[str, Any], name: str, index: int) -> NewItem:
        key = self.key(element["epcClass"], name, index, "epcClass")
        if key.kind not in (KeyKind.LGTIN, KeyKind.GTIN):
            raise self.refuse(
                "epcis.identifier",
                f"Expected a product class (LGTIN or GTIN) in {name}, got a {key.kind}.",
                name,
                index,
                "epcClass",
            )
        uom = element.get("uom")
        if uom is not None and uom not in PIECE_UOMS:
            raise self.refuse(
                "epcis.quantity",
                f"Expected a quantity in pieces (no uom, or EA), got uom {uom}.",
                name,
                index,
                "uom",
            )
        amount = element.get("quantity")
        if not isinstance(amount, int | float) or amount != int(amount) or amount < 1:
            raise self.refuse(
                "epcis.quantity",
                f"Expected a whole quantity of at least 1, got {amount!r}.",
                name,
                index,
                "quantity",
            )
        return NewItem(di=key.value, lot=key.lot, quantity=int(amount))

    def with_lot_data(self, items: list[tuple[str, NewItem]]) -> Iterable[NewItem]:
        """Apply ilmd (to every trade item) and per-item ``udit:itemData`` to the items."""
        shared = self.lot_data(self.raw.get("ilmd") or {}, "ilmd")
        per_item = {}
        for index, entry in enumerate(self.raw.get(f"{PREFIX}:itemData") or []):
            target = entry.get("epc") or entry.get("epcClass") or ""
            per_item[canonical(target)] = self.lot_data(entry, f"{PREFIX}:itemData", index)
        for uri, item in items:
            if item.di is None:
                yield item
                continue
            data = {**shared, **per_item.get(uri, {})}
            lot = data.get("lot")
            if lot is not None and item.lot is not None and lot != item.lot:
                raise self.refuse(
                    "epcis.identifier",
                    f"Expected lotNumber {item.lot} as in the identifier, got {lot}.",
                    "ilmd",
                )
            yield NewItem(
                di=item.di,
                serial=item.serial,
                lot=item.lot or lot,
                quantity=item.quantity,
                expiry=data.get("expiry"),
                production_date=data.get("production_date"),
            )

    def lot_data(self, source: Mapping[str, Any], *path: str | int) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for names, field, parse in (
            (_ILMD_LOT, "lot", self.text),
            (_ILMD_EXPIRY, "expiry", self.day),
            (_ILMD_PRODUCTION, "production_date", self.day),
        ):
            for name in (*names, names[0].split(":", 1)[1]):
                if name in source:
                    found[field] = parse(source[name], *path, name)
        return found

    @staticmethod
    def text(value: Any, *path: str | int) -> str:
        return str(value)

    def time(self, value: str, *path: str | int) -> datetime:
        """A schema-valid date-time, refused unless it lies in :data:`TIME_YEARS` in UTC.

        ``0001-01-01T00:00:00+14:00`` is valid RFC 3339, yet it has no UTC equivalent a
        ``datetime`` can hold; inside these years every offset (±14:00) of it can be held.
        """
        first, last = TIME_YEARS
        try:
            moment = _time(value)
        except ValueError:  # a leap second, say: the schema's format allows more than Python
            message = f"Expected a time Python can read, got {value}."
            raise self.refuse("epcis.time", message, *path) from None
        try:
            year = moment.astimezone(UTC).year
        except OverflowError:
            year = None
        if year is None or not first <= year <= last:
            message = f"Expected a time in the years {first} to {last} (UTC), got {value}."
            raise self.refuse("epcis.time", message, *path)
        return moment

    def day(self, value: Any, *path: str | int) -> date:
        try:
            return date.fromisoformat(str(value)[:10])
        except ValueError:
            raise self.refuse(
                "epcis.identifier", f"Expected a date YYYY-MM-DD, got {value!r}.", *path
            ) from None

    def parent(self, kind: EventType) -> str | None:
        name = "parentID" if kind is EventType.AGGREGATION else f"{PREFIX}:parentID"
        uri = self.raw.get(name)
        if uri is None:
            return None
        key = self.key(uri, name)
        if key.kind is not KeyKind.SSCC:
            raise self.refuse(
                "epcis.identifier", f"Expected an SSCC as parentID, got a {key.kind}.", name
            )
        return key.value

    # -- where and who --

    def place(self, name: str) -> Ref | None:
        value = self.raw.get(name)
        if value is None:
            return None
        return self.ref(value["id"], name, "id")

    def ref(self, uri: str, *path: str | int) -> Ref:
        return Ref(canonical(uri), uri, self.at + "".join(f"/{p}" for p in path))

    def parties(self) -> dict[str, Ref]:
        found: dict[str, Ref] = {}
        for list_name, field, roles in (
            (
                "sourceList",
                "source",
                {"possessing_party": "source_party", "owning_party": "source_party"},
            ),
            (
                "destinationList",
                "destination",
                {
                    "possessing_party": "destination_party",
                    "owning_party": "owner",
                    "location": "destination_warehouse",
                },
            ),
        ):
            for index, entry in enumerate(self.raw.get(list_name) or []):
                kind = vocabulary(entry["type"], "sdt")
                target = roles.get(kind)
                if target is None:
                    raise self.refuse(
                        "epcis.unsupported_field",
                        f"Expected a {field} of type {' or '.join(sorted(roles))}, got {kind}: "
                        f"a {field} {kind} is not recorded.",
                        list_name,
                        index,
                    )
                ref = self.ref(entry[field], list_name, index, field)
                earlier = found.get(target)
                if earlier is not None and earlier.uri != ref.uri:
                    raise self.refuse(
                        "epcis.unsupported_field",
                        f"Expected one {field} party, got {earlier.given} and {ref.given}.",
                        list_name,
                        index,
                    )
                found[target] = ref
        return found

    def extensions(self) -> dict[str, Any]:
        raw, found = self.raw, {}
        for name, field in (
            ("actingParty", "acting_party"),
            ("possessor", "possessor"),
        ):
            if f"{PREFIX}:{name}" in raw:
                found[field] = self.ref(raw[f"{PREFIX}:{name}"], f"{PREFIX}:{name}")
        for name, field, longest in (
            ("staffID", "staff_id", 100),
            ("scannerDeviceID", "scanner_device_id", 100),
            ("patientRef", "patient_ref", 64),
            ("encounterRef", "encounter_ref", 64),
        ):
            value = raw.get(f"{PREFIX}:{name}")
            if value is None:
                continue
            if len(str(value)) > longest:  # the column's length, as POST /api/v1/events checks
                raise self.refuse(
                    "epcis.unsupported_field",
                    f"Expected {PREFIX}:{name} of at most {longest} characters, "
                    f"got {len(str(value))}.",
                    f"{PREFIX}:{name}",
                )
            found[field] = str(value)
        shipment = raw.get(f"{PREFIX}:shipmentID")
        if shipment is not None:
            found["shipment_id"] = event_uuid(str(shipment))
        return found

    def documents(self) -> tuple[tuple[str, str], ...]:
        documents = []
        for index, entry in enumerate(self.raw.get("bizTransactionList") or []):
            if "type" not in entry:
                raise self.refuse(
                    "epcis.vocabulary",
                    "Expected a bizTransaction type (po, desadv, inv…), got none.",
                    "bizTransactionList",
                    index,
                )
            kind = vocabulary(entry["type"], "btt")
            if kind not in DOCUMENT_TYPES:
                raise self.refuse(
                    "epcis.vocabulary",
                    f"Expected a CBV bizTransaction type, got {entry['type']}.",
                    "bizTransactionList",
                    index,
                    "type",
                )
            documents.append((kind, document_id(entry["bizTransaction"])))
        return tuple(documents)

    def declaration(
        self, raw: Mapping[str, Any], declared: uuid.UUID, offset: timezone
    ) -> dict[str, Any]:
        """An EPCIS error declaration repeats the erroneous event's eventID: we record it as
        a declaration event of its own that names the declared one."""
        at = self.time(raw["declarationTime"], "errorDeclaration", "declarationTime")
        at = at.astimezone(offset)
        event_id = declaration_event_id(declared, at, raw.get(f"{PREFIX}:declarationEventID"))
        reason = raw.get("reason")
        # The rest of the event is the declared event's content, not the declaration's.
        return dict.fromkeys(_DECLARED_CONTENT) | {
            "documents": (),
            "event_id": event_id,
            "event_time": at,
            "items": (),
            "declares_event_id": declared,
            "error_reason": vocabulary(reason, "er") if reason else None,
            "corrective_event_ids": tuple(
                event_uuid(i) for i in raw.get("correctiveEventIDs") or ()
            ),
        }


_DECLARED_CONTENT = (
    "disposition",
    "parent_sscc",
    "read_point",
    "location",
    "owner",
    "possessor",
    "source_party",
    "destination_party",
    "destination_warehouse",
    "shipment_id",
    "staff_id",
    "scanner_device_id",
    "patient_ref",
    "encounter_ref",
)


def _content_id(raw: Mapping[str, Any]) -> str:
    """A stable eventID for an event sent without one: the same content, the same id."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"urn:uuid:{uuid.uuid5(EVENT_ID_NAMESPACE, text)}"


TIME_YEARS = (1970, 9998)
"""Years (UTC) of the event and declaration times we record."""


def _time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tz(offset: str) -> timezone:
    match = _OFFSET.match(offset)
    assert match is not None  # the schema's pattern
    sign = -1 if match[1] == "-" else 1
    return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))


# --- Recorded as sent: what our movement model cannot apply ---------------------------------------

NOT_APPLIED_CODES = {
    "epcis.not_applied.event_type": (
        "A TransformationEvent, TransactionEvent or AssociationEvent: our movements have no "
        "transformations, business-transaction links or associations."
    ),
    "epcis.not_applied.aggregation": (
        "An aggregation other than packing or unpacking a container, such as one observed at "
        "receiving."
    ),
    "epcis.not_applied.biz_step": "A CBV business step our movements do not record.",
    "epcis.not_applied.uom": "A quantity in a unit of measure other than pieces (KGM, say).",
    "epcis.not_applied.source_location": "A source location: we record no place goods came from.",
    "epcis.not_applied.shipping_destination": (
        "A shipping without a destination possessing party: our shipments hand custody to a "
        "named party."
    ),
}
"""Why a captured event was recorded as sent instead of applied to stock and custody."""

NOT_APPLIED_DETAIL = "Recorded as sent, not applied: stock and custody are unchanged."

OTHER_EVENT_TYPES = frozenset({"TransformationEvent", "TransactionEvent", "AssociationEvent"})
"""Standard EPCIS event types that have no movement of ours."""

_AGGREGATION_STEPS = frozenset({BizStep.PACKING.value, BizStep.UNPACKING.value})
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")


@dataclass(frozen=True, slots=True)
class NotApplied:
    """Why an event is outside what our movement model can represent (never a rule refusal)."""

    code: str
    """One of :data:`NOT_APPLIED_CODES`."""

    message: str
    pointer: str
    """JSON pointer of the field that decided it."""


def not_applied(raw: Mapping[str, Any], pointer: str) -> NotApplied | None:
    """Whether a schema-valid event is one our movements cannot represent, and why.

    Conservative and explicit: only the cases below are recorded as sent. Anything else goes
    through :func:`parse_event` and the movement rules, so a rule (custody, state, recall
    hold…) still refuses an event that maps; this never decides around one. The checks run
    in the order of :data:`NOT_APPLIED_CODES`; the first that applies is the reason.
    """

    def found(code: str, message: str, *path: str | int) -> NotApplied:
        return NotApplied(code, message, pointer + "".join(f"/{p}" for p in path))

    kind = raw.get("type")
    if kind in OTHER_EVENT_TYPES:
        return found(
            "epcis.not_applied.event_type",
            f"Expected an ObjectEvent or AggregationEvent to apply, got a {kind}.",
            "type",
        )
    step = vocabulary(str(raw.get("bizStep", "")), "bizstep") if "bizStep" in raw else None
    if kind == "AggregationEvent" and step not in _AGGREGATION_STEPS:
        # Packing and unpacking go to the movement rules, which also check their action.
        return found(
            "epcis.not_applied.aggregation",
            "Expected an aggregation with bizStep packing or unpacking, got "
            f"{raw.get('action')} {step or 'without bizStep'}.",
            "bizStep",
        )
    if kind == "ObjectEvent" and step in CBV_STEPS and step not in _OUR_STEPS:
        return found(
            "epcis.not_applied.biz_step",
            f"Expected a business step our movements record, got {step}.",
            "bizStep",
        )
    for name in _QUANTITY_LISTS:
        for index, element in enumerate(raw.get(name) or []):
            uom = element.get("uom")
            if uom is not None and uom not in PIECE_UOMS:
                return found(
                    "epcis.not_applied.uom",
                    f"Expected a quantity in pieces (no uom, or EA, H87, C62), got {uom}.",
                    name,
                    index,
                    "uom",
                )
    for index, entry in enumerate(raw.get("sourceList") or []):
        if vocabulary(str(entry.get("type", "")), "sdt") == "location":
            return found(
                "epcis.not_applied.source_location",
                f"Expected a source party, got the source location {entry.get('source')}.",
                "sourceList",
                index,
            )
    if kind == "ObjectEvent" and step == BizStep.SHIPPING.value:
        parties = [
            entry
            for entry in raw.get("destinationList") or []
            if vocabulary(str(entry.get("type", "")), "sdt") == "possessing_party"
        ]
        if not parties:
            return found(
                "epcis.not_applied.shipping_destination",
                "Expected a destinationList possessing_party for shipping, got none.",
                "destinationList",
            )
    return None


_OUR_STEPS = frozenset(step.value for step in BizStep)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event kept as sent: the body verbatim, plus what we index it by."""

    event_id: uuid.UUID
    """Our id of it: :func:`event_uuid` of the eventID, or the declaration's own id."""

    epcis_event_id: str
    """The eventID as sent (the uuid5 URN made up for an event without one)."""

    event_type: str
    """The EPCIS type name (``TransformationEvent``…)."""

    event_time: datetime
    """eventTime (declarationTime for an error declaration), at the event's offset."""

    event_time_offset: str
    biz_step: str | None
    """CBV short name, or the bizStep URI as sent."""

    disposition: str | None
    read_point: Ref | None
    location: Ref | None
    declares_event_id: uuid.UUID | None
    keys: tuple[Key, ...]
    """The trade items and containers it names (indexed for the DI, lot, serial, SSCC filters)."""

    body: Mapping[str, Any]
    content_hash: str
    """SHA-256 of the event's canonical JSON without ``recordTime`` and ``@context``: same
    eventID, same hash → the same event sent again."""

    reason: NotApplied
    pointer: str
    """JSON pointer of the event in its document."""


def read_recorded(raw: Mapping[str, Any], pointer: str, reason: NotApplied) -> RecordedEvent:
    """Read what we index of an event we keep as sent.

    Raises:
        MappingRefused: ``epcis.time`` for a time outside :data:`TIME_YEARS`,
            ``epcis.identifier`` for a GS1 key with wrong digits or structure.
    """
    reader = _Reader(raw, pointer)
    offset_text = raw["eventTimeZoneOffset"]
    offset = _tz(offset_text)
    epcis_id = raw.get("eventID") or _content_id(raw)
    event_id = event_uuid(epcis_id)
    at = reader.time(raw["eventTime"], "eventTime").astimezone(offset)
    declared = None
    declaration = raw.get("errorDeclaration")
    if declaration is not None:
        declared = event_id
        at = reader.time(declaration["declarationTime"], "errorDeclaration", "declarationTime")
        at = at.astimezone(offset)
        event_id = declaration_event_id(
            declared, at, declaration.get(f"{PREFIX}:declarationEventID")
        )
    return RecordedEvent(
        event_id=event_id,
        epcis_event_id=epcis_id,
        event_type=str(raw["type"]),
        event_time=at,
        event_time_offset=offset_text,
        biz_step=vocabulary(raw["bizStep"], "bizstep") if "bizStep" in raw else None,
        disposition=vocabulary(raw["disposition"], "disp") if "disposition" in raw else None,
        read_point=reader.place("readPoint"),
        location=reader.place("bizLocation"),
        declares_event_id=declared,
        keys=tuple(_recorded_keys(reader)),
        body=raw,
        content_hash=content_hash(raw),
        reason=reason,
        pointer=pointer,
    )


def content_hash(raw: Mapping[str, Any]) -> str:
    """SHA-256 of an event's canonical JSON, without ``recordTime`` (the sender's clock) and
    ``@context`` (our export puts the document's context on the event)."""
    content = {k: v for k, v in raw.items() if k not in _NOT_CONTENT}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_NOT_CONTENT = frozenset({"recordTime", "@context"})

_ITEM_KINDS = frozenset({KeyKind.SGTIN, KeyKind.LGTIN, KeyKind.GTIN, KeyKind.SSCC})


def _recorded_keys(reader: _Reader) -> Iterable[Key]:
    """Every trade item and container a recorded event names. Identifiers that are not GS1
    keys (EPCIS allows any URI) are kept in the body but not indexed; a GS1 key with wrong
    digits refuses the event, as for the events we apply."""
    raw, seen = reader.raw, set()
    found: list[tuple[Any, tuple[str | int, ...]]] = []
    if "parentID" in raw:
        found.append((raw["parentID"], ("parentID",)))
    for name in _EPC_LISTS:
        found += [(uri, (name, i)) for i, uri in enumerate(raw.get(name) or [])]
    for name in _QUANTITY_LISTS:
        found += [
            (e.get("epcClass"), (name, i, "epcClass")) for i, e in enumerate(raw.get(name) or [])
        ]
    for uri, path in found:
        try:
            key = parse_key(str(uri))
        except ValueError as error:
            raise reader.refuse("epcis.identifier", str(error), *path) from None
        if key is not None and key.kind in _ITEM_KINDS and key not in seen:
            seen.add(key)
            yield key


# --- Export: our event → EPCIS --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Namer:
    """How our records are named in documents (aliases such as SGLNs, or our URNs)."""

    party: Callable[[uuid.UUID], str]
    location: Callable[[uuid.UUID], str]
    warehouse: Callable[[uuid.UUID], str]


def item_uri(item: Mapping[str, Any]) -> tuple[str, str]:
    """``("epc" | "epcClass", Digital Link)`` of a stored event item."""
    if item.get("sscc"):
        return "epc", Key(KeyKind.SSCC, item["sscc"]).uri()
    if item.get("serial"):
        return "epc", Key(KeyKind.SGTIN, item["di"], serial=item["serial"]).uri()
    if item.get("lot"):
        return "epcClass", Key(KeyKind.LGTIN, item["di"], lot=item["lot"]).uri()
    return "epcClass", Key(KeyKind.GTIN, item["di"]).uri()


def _lot_data(item: Mapping[str, Any], serialised: bool) -> dict[str, str]:
    data = {}
    if item.get("lot") and serialised:  # an LGTIN carries its lot in the identifier
        data["cbvmda:lotNumber"] = item["lot"]
    if item.get("expiry"):
        data["cbvmda:itemExpirationDate"] = _iso(item["expiry"])
    if item.get("production_date"):
        data[f"{PREFIX}:productionDate"] = _iso(item["production_date"])
    return data


def _iso(value: date | str) -> str:
    return value if isinstance(value, str) else value.isoformat()


def export_event(
    row: Mapping[str, Any],
    names: Namer,
    *,
    declaration: Mapping[str, Any] | None = None,
    corrective: Sequence[uuid.UUID] = (),
) -> dict[str, Any]:
    """One stored event (a row of ``events`` with its ``items``) as an EPCIS 2.0 event.

    For an error declaration, ``row`` is the declared (erroneous) event and ``declaration``
    the declaration's row: EPCIS repeats the erroneous event with an ``errorDeclaration``.
    """
    kind = EventType(row["event_type"])
    offset = row["event_time_offset"]
    event: dict[str, Any] = {
        "type": _TYPE_NAMES[kind],
        "eventID": event_uri(row["event_id"]),
        "eventTime": _local(row["event_time"], offset),
        "eventTimeZoneOffset": offset,
        "recordTime": _utc(row["recorded_at"]).isoformat(),
        "action": row["action"],
        "bizStep": step_value(BizStep(row["biz_step"])),
        "disposition": row["disposition"],
    }
    _what(event, kind, row)
    for field, column, name in (
        ("readPoint", "read_point_id", names.location),
        ("bizLocation", "location_id", names.location),
    ):
        if row[column] is not None:
            event[field] = {"id": name(row[column])}
    if row["documents"]:
        event["bizTransactionList"] = [
            {"type": d["type"], "bizTransaction": document_uri(d["id"])} for d in row["documents"]
        ]
    _parties(event, row, names)
    _extensions(event, row, names)
    if declaration is not None:
        event["errorDeclaration"] = _declaration(declaration, corrective)
    return event


def _what(event: dict[str, Any], kind: EventType, row: Mapping[str, Any]) -> None:
    epcs, quantities, data = [], [], []
    for item in row["items"]:
        field, uri = item_uri(item)
        if field == "epc":
            epcs.append(uri)
        else:
            quantities.append({"epcClass": uri, "quantity": item["quantity"]})
        if item.get("di"):
            data.append((field, uri, _lot_data(item, field == "epc")))
    if kind is EventType.AGGREGATION:
        if row["parent_sscc"]:
            event["parentID"] = Key(KeyKind.SSCC, row["parent_sscc"]).uri()
        names = ("childEPCs", "childQuantityList")
    else:
        if row["parent_sscc"]:
            event[f"{PREFIX}:parentID"] = Key(KeyKind.SSCC, row["parent_sscc"]).uri()
        names = ("epcList", "quantityList")
    if epcs or (kind is EventType.OBJECT and not quantities):
        event[names[0]] = epcs
    if quantities:
        event[names[1]] = quantities
    distinct = {json.dumps(d, sort_keys=True) for _, _, d in data}
    if len(distinct) == 1 and data[0][2] and row["action"] == "ADD" and kind is EventType.OBJECT:
        # The same lot data for every item of an ADD ObjectEvent: standard ILMD (EPCIS allows
        # ilmd there only; other events carry it per item in our extension).
        event["ilmd"] = data[0][2]
    elif data and any(d for _, _, d in data):
        event[f"{PREFIX}:itemData"] = [{field: uri, **d} for field, uri, d in data if d]


def _parties(event: dict[str, Any], row: Mapping[str, Any], names: Namer) -> None:
    if row["source_party_id"] is not None:
        event["sourceList"] = [
            {"type": "possessing_party", "source": names.party(row["source_party_id"])}
        ]
    destinations = []
    if row["destination_party_id"] is not None:
        destinations.append(
            {"type": "possessing_party", "destination": names.party(row["destination_party_id"])}
        )
    if row["owner_id"] is not None:
        destinations.append({"type": "owning_party", "destination": names.party(row["owner_id"])})
    if row["destination_warehouse_id"] is not None:
        destinations.append(
            {"type": "location", "destination": names.warehouse(row["destination_warehouse_id"])}
        )
    if destinations:
        event["destinationList"] = destinations


def _extensions(event: dict[str, Any], row: Mapping[str, Any], names: Namer) -> None:
    event[f"{PREFIX}:actingParty"] = names.party(row["acting_org_id"])
    if row["possessor_id"] is not None:
        event[f"{PREFIX}:possessor"] = names.party(row["possessor_id"])
    if row["warehouse_id"] is not None:
        event[f"{PREFIX}:warehouse"] = names.warehouse(row["warehouse_id"])
    if row["shipment_id"] is not None:
        event[f"{PREFIX}:shipmentID"] = event_uri(row["shipment_id"])
    for column, name in (
        ("staff_id", "staffID"),
        ("scanner_device_id", "scannerDeviceID"),
        ("patient_ref", "patientRef"),
        ("encounter_ref", "encounterRef"),
    ):
        if row.get(column) is not None:
            event[f"{PREFIX}:{name}"] = row[column]
    event[f"{PREFIX}:eventHash"] = row["event_hash"]


def _declaration(row: Mapping[str, Any], corrective: Sequence[uuid.UUID]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "declarationTime": _local(row["event_time"], row["event_time_offset"]),
        f"{PREFIX}:declarationEventID": event_uri(row["event_id"]),
    }
    if row["error_reason"]:
        body["reason"] = row["error_reason"]
    if corrective:
        body["correctiveEventIDs"] = [event_uri(i) for i in corrective]
    return body


def _utc(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without their zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _local(moment: datetime, offset: str) -> str:
    return _utc(moment).astimezone(_tz(offset)).isoformat()


def document(
    events: Sequence[Mapping[str, Any]],
    created: datetime,
    *,
    query: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An EPCISQueryDocument (``query``) or EPCISDocument around ``events``."""
    body: dict[str, Any] = {
        "@context": list(CONTEXT),
        "type": "EPCISQueryDocument" if query else "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _utc(created).isoformat(),
    }
    if query:
        results = {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": list(events)}}
        body["epcisBody"] = {"queryResults": results}
    else:
        body["epcisBody"] = {"eventList": list(events)}
    body.update(extra or {})
    return body
