"""Statutory records (进货查验, 验收, 出库复核, 销售) from events and dated master data.

Lines are event items, read page by page in the database (keyset on the item id) and joined
in memory with the master data in effect on each event's date: the device's catalogue
version and registration certificate, organisation names, and licences valid that day.

Whose records: an organisation sees the lines of events where it is the goods' owner or the
acting party (a 3PL keeps the acceptance and outbound records of what it handles for its
client); regulators also see every line in a warehouse of their jurisdiction; admins all.
Events declared erroneous, and the declarations themselves, are left out.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from warehouse import tables
from warehouse.domain.licences import LicenceKind, LicenceRegister
from warehouse.domain.movements import BizStep, Disposition
from warehouse.domain.records import COLUMNS, RecordKind, RecordLine, cells
from warehouse.domain.roles import Principal, Role
from warehouse.repository import devices as device_rows
from warehouse.repository import licences as licence_rows
from warehouse.repository import versions
from warehouse.repository.devices import StoredDevice
from warehouse.repository.pages import MAX_LIMIT, Page, PageRequest, paginate
from warehouse.services import CHINA_STANDARD_TIME, read_transaction
from warehouse.services.access import is_admin, regulator_prefix
from warehouse.services.errors import FieldError, ValidationFailed

EV = tables.events
ITEM = tables.event_items
SHIP = tables.shipments
ORG = tables.organisations
WH = tables.warehouses

READER_ROLES = (
    Role.ADMIN,
    Role.ORG_MANAGER,
    Role.WAREHOUSE_OPERATOR,
    Role.HOSPITAL_USER,
    Role.REGULATOR,
    Role.AUDITOR,
)
"""Who reads records: people keeping or inspecting them, not scanner or sync machines."""

MAX_EXPORT = 50_000
"""Lines per CSV/XLSX export; narrow the dates or the warehouse for more."""

_PRODUCER = (LicenceKind.PRODUCTION_LICENCE,)
_TRADER = (
    LicenceKind.CLASS_III_OPERATION_LICENCE,
    LicenceKind.CLASS_II_OPERATION_FILING,
    LicenceKind.PRODUCTION_LICENCE,
)


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """``?from=&to=`` (China dates, inclusive) and ``?warehouse=``."""

    date_from: date | None = None
    date_to: date | None = None
    warehouse_id: uuid.UUID | None = None


def list_records(
    session: Session, principal: Principal, kind: RecordKind, where: RecordFilter, page: PageRequest
) -> Page[RecordLine]:
    """One page of a record's lines the caller may see, oldest first.

    Raises:
        ValidationFailed: If ``from`` is after ``to``.
    """
    query = _query(principal, kind, where)
    with read_transaction(session):
        return paginate(session, query, ITEM.c.id, page, lambda rows: _lines(session, kind, rows))


def all_records(
    session: Session, principal: Principal, kind: RecordKind, where: RecordFilter
) -> list[RecordLine]:
    """Every line for an export.

    Raises:
        ValidationFailed: If ``from`` is after ``to``, or more than :data:`MAX_EXPORT` lines.
    """
    lines: list[RecordLine] = []
    cursor: str | None = None
    while True:
        page = list_records(session, principal, kind, where, PageRequest(MAX_LIMIT, cursor))
        lines += page.items
        if len(lines) > MAX_EXPORT:
            message = f"Expected at most {MAX_EXPORT:,} lines, got more; narrow from/to."
            raise ValidationFailed("export", [FieldError("to", "records.too_many", message)])
        if page.next_cursor is None:
            return lines
        cursor = page.next_cursor


# --- Exports ---------------------------------------------------------------------------------


def export_csv(kind: RecordKind, lines: Iterable[RecordLine]) -> bytes:
    """The record as CSV with Chinese headers, UTF-8 with a BOM so that Excel reads it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for _, header in COLUMNS[kind]])
    for line in lines:
        writer.writerow(cells(line))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_xlsx(kind: RecordKind, lines: Iterable[RecordLine]) -> bytes:
    """The record as an XLSX workbook: one sheet named after the record, headers in bold.

    Written in openpyxl's write-only mode, which streams rows instead of keeping a cell
    object per value: 50,000 lines stay cheap.
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet(kind.label_zh)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    headers = []
    for _, header in COLUMNS[kind]:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = bold
        headers.append(cell)
    sheet.append(headers)
    for line in lines:
        sheet.append(cells(line))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- The query -------------------------------------------------------------------------------


def _query(principal: Principal, kind: RecordKind, where: RecordFilter) -> Any:
    if where.date_from and where.date_to and where.date_from > where.date_to:
        message = f"Expected from on or before to, got {where.date_from} after {where.date_to}."
        raise ValidationFailed("records", [FieldError("from", "field.invalid", message)])
    declaration = aliased(EV)
    conditions: list[ColumnElement[bool]] = [
        EV.c.biz_step.in_(sorted(step.value for step in kind.steps)),
        EV.c.declared_event_id.is_(None),
        ~exists().where(declaration.c.declared_event_id == EV.c.id),
        *_visible(principal),
    ]
    if kind is RecordKind.SALES:
        conditions += [
            EV.c.destination_party_id.is_not(None),
            or_(EV.c.owner_id.is_(None), EV.c.destination_party_id != EV.c.owner_id),
        ]
    if where.date_from is not None:
        conditions.append(EV.c.event_time >= _start_of(where.date_from))
    if where.date_to is not None:
        conditions.append(EV.c.event_time < _start_of(where.date_to + timedelta(days=1)))
    if where.warehouse_id is not None:
        conditions.append(EV.c.warehouse_id == where.warehouse_id)
    return (
        select(
            ITEM,
            EV.c.event_time,
            EV.c.biz_step,
            EV.c.disposition,
            EV.c.warehouse_id,
            EV.c.owner_id,
            EV.c.source_party_id,
            EV.c.destination_party_id,
            EV.c.shipment_id,
            EV.c.staff_id,
            EV.c.documents,
        )
        .select_from(ITEM.join(EV, ITEM.c.event_id == EV.c.id))
        .where(and_(*conditions))
    )


def _start_of(day: date) -> datetime:
    # Stored times are UTC (SQLite keeps the digits only): compare in UTC.
    return datetime.combine(day, time(), CHINA_STANDARD_TIME).astimezone(UTC)


def _visible(principal: Principal) -> list[ColumnElement[bool]]:
    if is_admin(principal):
        return []
    org = principal.organisation_id
    options = [EV.c.owner_id == org, EV.c.acting_org_id == org]
    prefix = regulator_prefix(principal)
    if prefix:
        within = select(WH.c.id).where(WH.c.jurisdiction.startswith(prefix, autoescape=True))
        options.append(EV.c.warehouse_id.in_(within))
    return [or_(*options)]


# --- Lines with the master data of their date ----------------------------------------------


class _MasterData:
    """Master data for one page of lines, loaded in a handful of queries."""

    def __init__(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        self.devices: dict[str, StoredDevice | None] = {
            di: device_rows.find_by_di(session, di)
            for di in sorted({r["di"] for r in rows if r["di"]})
        }
        found = [d for d in self.devices.values() if d is not None]
        self.device_versions = versions.chains(session, "device", [d.id for d in found])
        shipments = {r["shipment_id"] for r in rows if r["shipment_id"]}
        self.shipped_by: dict[uuid.UUID, uuid.UUID] = {}
        if shipments:
            # The supplier of a receipt is whoever owned the goods when they were shipped
            # (the 3PL that shipped them on the owner's behalf is not a seller).
            seller = func.coalesce(EV.c.owner_id, SHIP.c.from_org_id)
            query = (
                select(SHIP.c.id, seller.label("seller"))
                .select_from(SHIP.join(EV, EV.c.id == SHIP.c.shipping_event_id))
                .where(SHIP.c.id.in_(shipments))
            )
            self.shipped_by = {row.id: row.seller for row in session.execute(query)}
        orgs = {str(d.record.registrant_id) for d in found}
        for row in rows:
            orgs |= {str(o) for o in _parties(row, self.shipped_by) if o is not None}
        orgs |= {
            str(v.data["registrant_id"])
            for chain in self.device_versions.values()
            for v in chain
            if v.data.get("registrant_id")
        }
        self.org_names = _names(session, ORG, orgs)
        self.org_versions = versions.chains(session, "organisation", orgs)
        self.licences = LicenceRegister(
            tuple(licence_rows.held_by(session, [uuid.UUID(o) for o in orgs]))
        )
        places = {str(r["warehouse_id"]) for r in rows if r["warehouse_id"]}
        self.warehouse_names = _names(session, WH, places)
        self.warehouse_versions = versions.chains(session, "warehouse", places)

    def device(self, di: str | None, on: date) -> tuple[dict[str, Any], str | None]:
        """The device's fields in effect on ``on`` and its certificate number then."""
        stored = self.devices.get(di) if di else None
        if stored is None:
            return {}, None
        record = stored.record
        fields = {
            "name": record.name,
            "model_spec": record.model_spec,
            "registrant_id": record.registrant_id,
            "implantable": record.implantable,
        }
        version = _in_effect(self.device_versions.get(stored.id, []), on)
        if version is not None:
            fields.update({k: version.data[k] for k in fields if k in version.data})
        certificate = record.certificate_as_of(on)
        return fields, certificate.number if certificate else None

    def org(self, org_id: Any, on: date) -> str | None:
        """An organisation's name on ``on``."""
        if org_id is None:
            return None
        version = _in_effect(self.org_versions.get(str(org_id), []), on)
        if version is not None and version.data.get("name"):
            return str(version.data["name"])
        return self.org_names.get(str(org_id))

    def licence(self, org_id: Any, on: date, kinds: Sequence[LicenceKind]) -> str | None:
        """The number of the organisation's first licence of ``kinds`` valid on ``on``."""
        if org_id is None:
            return None
        valid = self.licences.valid_on(on, holder_id=str(org_id), kinds=kinds)
        ranked = sorted(valid, key=lambda v: (kinds.index(v.kind), v.number))
        return ranked[0].number if ranked else None

    def warehouse(self, warehouse_id: Any, on: date) -> str | None:
        """A warehouse's name on ``on``."""
        if warehouse_id is None:
            return None
        version = _in_effect(self.warehouse_versions.get(str(warehouse_id), []), on)
        if version is not None and version.data.get("name"):
            return str(version.data["name"])
        return self.warehouse_names.get(str(warehouse_id))


def _in_effect(chain: Sequence[versions.Version], on: date) -> versions.Version | None:
    """The version in effect on ``on``; the first one for a date before any took effect.

    A record's first version takes effect the day it was entered, often after the events
    that were recorded with it: those events were recorded against the first version.
    """
    return versions.in_effect(chain, on) or (chain[0] if chain else None)


def _parties(row: Mapping[str, Any], shipped_by: Mapping[uuid.UUID, uuid.UUID]) -> list[Any]:
    return [
        row["owner_id"],
        row["source_party_id"],
        row["destination_party_id"],
        shipped_by.get(row["shipment_id"]) if row["shipment_id"] else None,
    ]


def _names(session: Session, table: Any, ids: Iterable[str]) -> dict[str, str]:
    wanted = {uuid.UUID(i) for i in ids}
    if not wanted:
        return {}
    query = select(table.c.id, table.c.name).where(table.c.id.in_(wanted))
    return {str(row.id): row.name for row in session.execute(query)}


def _lines(
    session: Session, kind: RecordKind, rows: Sequence[Mapping[str, Any]]
) -> list[RecordLine]:
    rows = _open_containers(session, rows)
    master = _MasterData(session, rows)
    return [_line(kind, row, master) for row in rows]


_AGGREGATION = (BizStep.PACKING.value, BizStep.UNPACKING.value)


def _open_containers(
    session: Session, rows: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Replace each whole-container item (``{sscc}``) by a line per unit it held then.

    What a container held when an event moved it is rebuilt from the packing and unpacking
    events of that SSCC recorded before the event (ids are time-ordered). A container with no
    known content keeps its one line. The unit lines share the container item's page, so a
    page may hold more lines than ``limit``.
    """
    ssccs = {row["sscc"] for row in rows if row["sscc"] and not row["di"]}
    if not ssccs:
        return list(rows)
    history = _aggregations(session, ssccs)
    opened: list[Mapping[str, Any]] = []
    for row in rows:
        units = _held(history.get(row["sscc"], []), row["event_id"]) if row["sscc"] else []
        if row["di"] or not units:
            opened.append(row)
            continue
        for unit in units:
            key = f"{row['id']}/{unit['di']}/{unit['serial']}"
            opened.append(
                {
                    **row,
                    "id": uuid.uuid5(row["id"], key),
                    "di": unit["di"],
                    "serial": unit["serial"],
                    "lot": unit["lot"],
                    "expiry": unit["expiry"],
                    "production_date": unit["production_date"],
                    "quantity": 1,
                }
            )
    return opened


def _aggregations(
    session: Session, ssccs: set[str]
) -> dict[str, list[tuple[uuid.UUID, str, list[dict[str, Any]]]]]:
    """Packing and unpacking events per SSCC, oldest first: (event id, step, unit items)."""
    declaration = aliased(EV)
    query = (
        select(EV.c.id.label("aggregation_id"), EV.c.biz_step, EV.c.parent_sscc, ITEM)
        .select_from(EV.outerjoin(ITEM, ITEM.c.event_id == EV.c.id))
        .where(
            EV.c.parent_sscc.in_(sorted(ssccs)),
            EV.c.biz_step.in_(_AGGREGATION),
            ~exists().where(declaration.c.declared_event_id == EV.c.id),
        )
        .order_by(EV.c.id, ITEM.c.id)
    )
    found: dict[str, list[tuple[uuid.UUID, str, list[dict[str, Any]]]]] = {}
    for row in session.execute(query).mappings():
        events = found.setdefault(row["parent_sscc"], [])
        if not events or events[-1][0] != row["aggregation_id"]:
            events.append((row["aggregation_id"], row["biz_step"], []))
        if row["serial"] is not None:
            events[-1][2].append(dict(row))
    return found


def _held(
    history: Sequence[tuple[uuid.UUID, str, list[dict[str, Any]]]], before: uuid.UUID
) -> list[dict[str, Any]]:
    inside: dict[tuple[str, str], dict[str, Any]] = {}
    for event_id, step, items in history:
        if event_id >= before:
            break
        if step == BizStep.PACKING.value:
            inside.update({(i["di"], i["serial"]): i for i in items})
        elif items:
            for item in items:
                inside.pop((item["di"], item["serial"]), None)
        else:
            inside.clear()  # unpacking without children empties the container
    return list(inside.values())


def _line(kind: RecordKind, row: Mapping[str, Any], master: _MasterData) -> RecordLine:
    moment = row["event_time"]
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    on = moment.astimezone(CHINA_STANDARD_TIME).date()
    device, certificate = master.device(row["di"], on)
    registrant = device.get("registrant_id")
    if kind is RecordKind.PURCHASE_INSPECTION:
        party = row["source_party_id"] or master.shipped_by.get(row["shipment_id"])
    elif kind in (RecordKind.OUTBOUND_REVIEW, RecordKind.SALES):
        party = row["destination_party_id"]
    else:
        party = None
    return RecordLine(
        id=row["id"],
        kind=kind,
        event_id=row["event_id"],
        record_date=on,
        step=BizStep(row["biz_step"]),
        result_zh=Disposition(row["disposition"]).label_zh,
        di=row["di"],
        name=device.get("name"),
        model_spec=device.get("model_spec"),
        registration_number=certificate,
        registrant=master.org(registrant, on),
        registrant_licence=master.licence(registrant, on, _PRODUCER),
        lot=row["lot"],
        serial=row["serial"],
        sscc=row["sscc"],
        production_date=row["production_date"],
        expiry=row["expiry"],
        quantity=row["quantity"],
        party=master.org(party, on),
        party_licence=master.licence(party, on, _TRADER),
        warehouse=master.warehouse(row["warehouse_id"], on),
        staff_id=row["staff_id"],
        documents="; ".join(f"{d['type']}:{d['id']}" for d in row["documents"] or []),
        implantable=bool(device.get("implantable", False)),
    )
