"""Unit and lot traces: who held a device or a lot, where, when and what was done with it.

Both traces are read from the append-only events through indexed queries
(:mod:`warehouse.repository.trace`), then assembled in memory. Only the rows of the trace are
read, so a trace costs the same on a small database and on one with millions of events.

Who sees what (docs/trace.md, "Visibility"):

* admins, and regulators for a unit or lot that was ever at a warehouse within their
  jurisdiction, see every hop in full;
* an organisation that was ever a party to one of the trace's events (acting, owner,
  possessor, source or destination), or to a shipment or a balance of the lot, sees the whole
  trace, but hops where it was no party are *redacted*: party names, step, time and the
  warehouse's division code stay; warehouse and location names, staff, documents and client
  event ids go;
* anyone else gets 404, exactly as for a unit that does not exist.

Patient references on ``dispensing`` events are shown only to the hospital that recorded the
use and to regulators of the place of use — not to admins, not to other parties.
"""

from __future__ import annotations

import functools
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session

from warehouse.db import see_every_row
from warehouse.domain.movements import (
    TRANSITIONS,
    BizStep,
    Disposition,
    Placement,
    UnitStatus,
    is_expired,
    status_after,
)
from warehouse.domain.roles import Principal
from warehouse.repository import trace as rows
from warehouse.services import read_transaction, today
from warehouse.services.access import is_admin, regulator_prefix
from warehouse.services.errors import NotFound

RECEIPT_STEPS = frozenset({BizStep.RECEIVING.value, BizStep.ARRIVING.value})
ACCEPTANCE_STEPS = frozenset({BizStep.INSPECTING.value, BizStep.ACCEPTING.value})
_PARTY_COLUMNS = (
    "acting_org_id",
    "owner_id",
    "possessor_id",
    "source_party_id",
    "destination_party_id",
)


# --- Who may see what ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Viewer:
    """The caller's standing towards one trace."""

    org_id: uuid.UUID | str
    """A UUID in a unit trace, its text in a lot trace (whose ids stay text throughout)."""

    full: bool
    """Admin, or a regulator of a place on the trace: every hop in full."""

    regulator_warehouses: frozenset[uuid.UUID]
    """Warehouses of the trace within the caller's jurisdiction (regulators only)."""

    def sees_hop(self, parties: Iterable[uuid.UUID | str | None]) -> bool:
        return self.full or self.org_id in set(parties)

    def sees_patient(self, hospital: uuid.UUID, place: uuid.UUID | None) -> bool:
        return hospital == self.org_id or place in self.regulator_warehouses


def _viewer(
    session: Session,
    principal: Principal,
    parties: set[uuid.UUID] | set[str],
    warehouse_ids: set[uuid.UUID] | set[str],
    kind: str,
    key: str,
    *,
    text_ids: bool = False,
) -> _Viewer:
    """The caller's standing, or NotFound when the trace is none of its business.

    ``text_ids``: ``parties`` are ids as text (a lot trace), and so is the viewer's.
    """
    org: uuid.UUID | str = str(principal.organisation_id) if text_ids else principal.organisation_id
    prefix = regulator_prefix(principal)
    within: set[uuid.UUID] = set()
    if prefix:
        within = rows.warehouse_ids_within(session, sorted(warehouse_ids, key=str), prefix)
    full = is_admin(principal) or bool(within)
    if not full and org not in parties:
        raise NotFound(kind, key)
    return _Viewer(org, full, frozenset(within))


# --- Formatting ---------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def local_time(value: datetime, offset: str) -> str:
    """The stored UTC time shown in the offset it was recorded with (``+08:00``)."""
    return _utc(value).astimezone(_zone(offset)).isoformat()


@functools.cache
def _zone(offset: str) -> timezone:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else _utc(value).isoformat()


def _id(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


class _Names:
    """Names of the organisations, warehouses and locations a trace mentions (one query)."""

    def __init__(
        self,
        session: Session,
        orgs: Iterable[uuid.UUID | str | None],
        warehouses: Iterable[uuid.UUID | str | None],
        locations: Iterable[uuid.UUID | str | None],
    ) -> None:
        found = rows.names(session, orgs, warehouses, locations)
        # Keyed by text: a unit trace asks with UUIDs, a lot trace with their text.
        self.locations, self.warehouses = found.locations, found.warehouses
        self.orgs = found.organisations
        self._parties: dict[uuid.UUID | str, dict[str, Any]] = {}
        self._warehouses: dict[tuple[uuid.UUID | str, bool], dict[str, Any]] = {}

    def party(self, org_id: uuid.UUID | str | None) -> dict[str, Any] | None:
        if org_id is None:
            return None
        shown = self._parties.get(org_id)
        if shown is None:  # a lot names the same few parties thousands of times
            found = self.orgs.get(str(org_id))
            shown = {"id": str(org_id), "name": found["name"] if found else None}
            self._parties[org_id] = shown
        return shown  # shared, never changed: the response is serialised as it is

    def warehouse(self, warehouse_id: uuid.UUID | str | None, detailed: bool) -> dict | None:
        if warehouse_id is None:
            return None
        key = (warehouse_id, detailed)
        shown = self._warehouses.get(key)
        if shown is None:
            shown = self._warehouse(warehouse_id, detailed)
            self._warehouses[key] = shown
        return shown

    def _warehouse(self, warehouse_id: uuid.UUID | str, detailed: bool) -> dict[str, Any]:
        found = self.warehouses.get(str(warehouse_id))
        if found is None:
            return {"id": str(warehouse_id)}
        if not detailed:
            return {"jurisdiction": found["jurisdiction"]}
        return {
            "id": str(warehouse_id),
            "name": found["name"],
            "jurisdiction": found["jurisdiction"],
        }

    def location(self, location_id: uuid.UUID | None, detailed: bool) -> dict | None:
        if location_id is None or not detailed:
            return None
        found = self.locations.get(str(location_id))
        if found is None:
            return {"id": str(location_id)}
        return {
            "id": str(location_id),
            "code": found["code"],
            "purpose": found["purpose"],
            "department": found["department"],
        }


# --- Unit trace ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hop:
    """One event of a unit's life, and how it concerned the unit."""

    event: Mapping[str, Any]
    container: str | None
    """The SSCC the unit travelled in when the event moved or (un)packed a whole container."""


def unit_trace(
    session: Session,
    principal: Principal,
    di: str,
    serial: str,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The ordered lifecycle of one serialised unit, as of now or ``as_of``.

    Raises:
        NotFound: For a unit never recorded, or one the caller never held nor regulates.
    """
    key = f"{di} serial {serial}"
    with read_transaction(session):
        # A trace reads other organisations' events on purpose: this module decides who sees
        # it and redacts what is not the caller's (module docstring).
        see_every_row(session)
        unit, device = rows.unit_and_device(session, di, serial)
        direct = rows.events_of_serial(session, di, serial)
        if unit is None and not direct:
            raise NotFound("unit", key)
        hops, boxes = _hops(session, direct)
        marks = rows.error_marks(session, [h.event["id"] for h in hops])
        parties = {h.event[c] for h in hops for c in _PARTY_COLUMNS if h.event[c]}
        places = {h.event["warehouse_id"] for h in hops if h.event["warehouse_id"]}
        places |= {h.event["destination_warehouse_id"] for h in hops}
        if unit is not None:
            parties |= {unit["owner_id"], unit["possessor_id"]}
            places.add(unit["warehouse_id"])
        places.discard(None)
        viewer = _viewer(session, principal, parties, places, "unit", key)
        names = _Names(
            session,
            parties | ({device["registrant_id"]} if device else set()),
            places,
            {h.event["location_id"] for h in hops} | {unit["location_id"] if unit else None},
        )
    if as_of is not None:
        hops = [h for h in hops if _utc(h.event["event_time"]) <= as_of]
        boxes = [
            _Box(b.sscc, b.packed, _until(b.unpacked, as_of))
            for b in boxes
            if _until(b.packed, as_of)
        ]
    timeline, state, used_at = [], _State(), {}
    for hop in hops:
        # Use on a patient leaves every location: the department is where the unit was.
        where = hop.event["location_id"] or hop.event["read_point_id"] or state.location
        used_at[str(hop.event["id"])] = names.location(
            where, viewer.sees_hop([hop.event["acting_org_id"]])
        )
        place = hop.event["warehouse_id"] or state.warehouse
        state = state.after(hop)
        entry = _hop_json(hop, state, viewer, names, place)
        timeline.append(entry | _error_json(marks.get(hop.event["id"]), entry["redacted"]))
    current = _current(unit, state, viewer, names, as_of)
    return {
        "di": di,
        "serial": serial,
        "lot": unit["lot"] if unit else _first(h.event.get("item_lot") for h in hops),
        "expiry": unit["expiry"].isoformat() if unit and unit["expiry"] else None,
        "as_of": _iso(as_of),
        "device": _device_json(device, names),
        "current": current,
        "timeline": timeline,
        "containers": [_box_json(box, names) for box in boxes],
        "acceptance": [
            {
                "event_id": entry["event_id"],
                "event_time": entry["event_time"],
                "party": entry["acting_party"],
                "disposition": entry["disposition"],
                "accepted": entry["disposition"] != Disposition.NON_CONFORMANT.value,
            }
            for entry in timeline
            if entry["biz_step"] in ACCEPTANCE_STEPS
        ],
        "patient_use": [
            {
                "event_id": entry["event_id"],
                "event_time": entry["event_time"],
                "hospital": entry["acting_party"],
                "department": (used_at[entry["event_id"]] or {}).get("department"),
                "patient_ref": entry["patient_ref"],
                "encounter_ref": entry["encounter_ref"],
                "patient_ref_hidden": entry["patient_ref_hidden"],
            }
            for entry in timeline
            if entry["biz_step"] == BizStep.DISPENSING.value
        ],
        "visibility": "full" if viewer.full else "party",
    }


def _until(event: Mapping[str, Any] | None, as_of: datetime) -> Mapping[str, Any] | None:
    """The event if it had happened by ``as_of``."""
    return event if event is not None and _utc(event["event_time"]) <= as_of else None


def _first(values: Iterable[Any]) -> Any:
    return next((v for v in values if v), None)


@dataclass(frozen=True, slots=True)
class _Box:
    sscc: str
    packed: Mapping[str, Any]
    unpacked: Mapping[str, Any] | None


def _hops(session: Session, direct: list[dict[str, Any]]) -> tuple[list[_Hop], list[_Box]]:
    """The unit's own events plus those that moved it inside a container, in time order.

    A unit is inside container X from the packing event that put it there until the first of:
    an unpacking of X that lists it or lists nothing (the whole box), or an event of its own
    that moves it (placement other than "stays"), or a packing into another container.
    Events of X in between (shipping, receiving, storing the box) are hops of the unit.
    """
    direct.sort(key=lambda e: e["id"])
    hops = [_Hop(e, e["parent_sscc"] if e["event_type"] == "aggregation" else None) for e in direct]
    packs = [
        e for e in direct if e["biz_step"] == BizStep.PACKING.value and e["parent_sscc"] is not None
    ]
    boxes: list[_Box] = []
    if packs:
        seen = {e["id"] for e in direct}
        candidates = rows.events_of_containers(session, {e["parent_sscc"] for e in packs})
        candidates.sort(key=lambda e: e["id"])
        unpacks = [
            e["id"]
            for e in candidates
            if e["biz_step"] == BizStep.UNPACKING.value and e["id"] not in seen
        ]
        listed = rows.items_of(session, unpacks)
        for pack in packs:
            sscc = pack["parent_sscc"]
            end = _leaves_box(direct, pack)
            unpacked = (
                end if end is not None and end["biz_step"] == BizStep.UNPACKING.value else None
            )
            for event in candidates:
                if event["id"] <= pack["id"] or (end is not None and event["id"] >= end["id"]):
                    continue
                if event["id"] in seen:
                    continue
                # Partial (un)packing of other units leaves this one where it was.
                whole_unpack = (
                    event["parent_sscc"] == sscc
                    and event["biz_step"] == BizStep.UNPACKING.value
                    and not listed.get(event["id"])
                )
                if event["item_sscc"] != sscc and not whole_unpack:
                    continue
                seen.add(event["id"])
                hops.append(_Hop(event, sscc))
                if whole_unpack:
                    unpacked = event
                    break
            boxes.append(_Box(sscc, pack, unpacked))
    hops.sort(key=lambda h: (_utc(h.event["event_time"]), h.event["id"]))
    return hops, boxes


def _leaves_box(direct: Sequence[Mapping[str, Any]], pack: Mapping[str, Any]) -> Any:
    """The unit's own first event after ``pack`` that takes it out of the container."""
    for event in direct:
        if event["id"] <= pack["id"]:
            continue
        step = BizStep(event["biz_step"])
        if step in (BizStep.UNPACKING, BizStep.PACKING):
            return event
        if TRANSITIONS[step].placement is not Placement.STAYS:
            return event
    return None


@dataclass(frozen=True, slots=True)
class _State:
    """The unit's state replayed from its events (for ``as_of`` and each hop's outcome)."""

    status: UnitStatus | None = None
    owner: uuid.UUID | None = None
    possessor: uuid.UUID | None = None
    warehouse: uuid.UUID | None = None
    location: uuid.UUID | None = None
    container: str | None = None
    destination: uuid.UUID | None = None

    def after(self, hop: _Hop) -> _State:
        event = hop.event
        step = BizStep(event["biz_step"])
        transition = TRANSITIONS[step]
        status = status_after(step, Disposition(event["disposition"]), self.status) or self.status
        owner, possessor = self.owner, self.possessor
        if transition.takes_possession:
            owner = event["owner_id"] or event["acting_org_id"]
            possessor = event["possessor_id"] or event["acting_org_id"]
        warehouse, location, container = self.warehouse, self.location, self.container
        if transition.placement is Placement.TO_LOCATION:
            warehouse, location = event["warehouse_id"], event["location_id"]
        elif transition.placement is Placement.LEAVES:
            warehouse = location = None
        if step is BizStep.PACKING:
            container = event["parent_sscc"]
        elif step is BizStep.UNPACKING or (
            hop.container is None and transition.placement is not Placement.STAYS
        ):
            container = None
        destination = event["destination_party_id"] if step is BizStep.SHIPPING else None
        return _State(status, owner, possessor, warehouse, location, container, destination)


def _hop_json(
    hop: _Hop, state: _State, viewer: _Viewer, names: _Names, place: uuid.UUID | None
) -> dict[str, Any]:
    """One hop as the API shows it; ``place`` is the warehouse the event happened at."""
    event = hop.event
    detailed = viewer.sees_hop(event[c] for c in _PARTY_COLUMNS)
    step = BizStep(event["biz_step"])
    disposition = Disposition(event["disposition"])
    patient = step is BizStep.DISPENSING and event["patient_ref"] is not None
    sees_patient = patient and viewer.sees_patient(event["acting_org_id"], place)
    return {
        "event_id": str(event["id"]),
        "client_event_id": str(event["event_id"]) if detailed else None,
        "event_time": local_time(event["event_time"], event["event_time_offset"]),
        "recorded_at": _iso(event["recorded_at"]),
        "type": event["event_type"],
        "action": event["action"],
        "biz_step": step.value,
        "biz_step_label_zh": step.label_zh,
        "disposition": disposition.value,
        "disposition_label_zh": disposition.label_zh,
        "acting_party": names.party(event["acting_org_id"]),
        "owner": names.party(event["owner_id"]),
        "possessor": names.party(event["possessor_id"]),
        "source_party": names.party(event["source_party_id"]),
        "destination_party": names.party(event["destination_party_id"]),
        "warehouse": names.warehouse(event["warehouse_id"], detailed),
        "location": names.location(event["location_id"], detailed),
        "destination_warehouse": names.warehouse(event["destination_warehouse_id"], detailed),
        "container": hop.container,
        "via_container": hop.container is not None and step not in _AGGREGATION,
        "shipment_id": _id(event["shipment_id"]) if detailed else None,
        "documents": list(event["documents"] or []) if detailed else [],
        "staff_id": event["staff_id"] if detailed else None,
        "patient_ref": event["patient_ref"] if sees_patient else None,
        "encounter_ref": event["encounter_ref"] if sees_patient else None,
        "patient_ref_hidden": patient and not sees_patient,
        "redacted": not detailed,
        "after": {
            "status": state.status.value if state.status else None,
            "status_label_zh": state.status.label_zh if state.status else None,
            "owner": names.party(state.owner),
            "possessor": names.party(state.possessor),
        },
    }


_AGGREGATION = frozenset({BizStep.PACKING, BizStep.UNPACKING})


def _error_json(mark: Mapping[str, Any] | None, redacted: bool) -> dict[str, Any]:
    """Whether a hop was declared erroneous (EPCIS error declaration) and what corrected it;
    the declaring and correcting events' ids only where the hop itself is not redacted."""
    if mark is None:
        return {"declared_erroneous": False, "error_reason": None, "correction": None}
    return {
        "declared_erroneous": mark["declared_by"] is not None,
        "error_reason": mark["error_reason"],
        "correction": None
        if redacted
        else {
            "declared_by": _id(mark["declared_by"]),
            "corrected_by": [str(event_id) for event_id in mark["corrected_by"]],
        },
    }


def _current(
    unit: Mapping[str, Any] | None,
    state: _State,
    viewer: _Viewer,
    names: _Names,
    as_of: datetime | None,
) -> dict[str, Any] | None:
    """Status and holder now (the ``units`` projection) or as of a time (the replay)."""
    if as_of is None and unit is not None:
        on = today()
        status = UnitStatus(unit["status"])
        if status is UnitStatus.AVAILABLE and is_expired(unit["expiry"], on):
            status = UnitStatus.EXPIRED
        owner, possessor = unit["owner_id"], unit["possessor_id"]
        warehouse, location = unit["warehouse_id"], unit["location_id"]
        container, destination = unit["container_sscc"], state.destination
    else:
        if state.status is None:
            return None
        status, owner, possessor = state.status, state.owner, state.possessor
        warehouse, location = state.warehouse, state.location
        container, destination = state.container, state.destination
    detailed = viewer.sees_hop([owner, possessor])
    return {
        "status": status.value,
        "status_label_zh": status.label_zh,
        "owner": names.party(owner),
        "possessor": names.party(possessor),
        "holder": names.party(possessor),
        "warehouse": names.warehouse(warehouse, detailed),
        "location": names.location(location, detailed),
        "container_sscc": container if detailed else None,
        "in_transit_to": (names.party(destination) if status is UnitStatus.IN_TRANSIT else None),
    }


def _device_json(device: Mapping[str, Any] | None, names: _Names) -> dict[str, Any] | None:
    if device is None:
        return None
    return {
        "di": device["di"],
        "name": device["name"],
        "model_spec": device["model_spec"],
        "device_class": device["device_class"],
        "implantable": device["implantable"],
        "registrant": names.party(device["registrant_id"]),
    }


def _box_json(box: _Box, names: _Names) -> dict[str, Any]:
    packed, unpacked = box.packed, box.unpacked
    return {
        "sscc": box.sscc,
        "packed_at": local_time(packed["event_time"], packed["event_time_offset"]),
        "packed_by": names.party(packed["acting_org_id"]),
        "unpacked_at": (
            local_time(unpacked["event_time"], unpacked["event_time_offset"]) if unpacked else None
        ),
    }


# --- Lot trace ----------------------------------------------------------------------------------
#
# A lot trace handles thousands of rows (1,300 shipments in the benchmark): ids stay the text
# the database gives (rows.text_id) from the queries to the response, and rows stay the plain
# dicts the queries return.

_USE_STEPS = {BizStep.DISPENSING.value: "used", BizStep.DESTROYING.value: "destroyed"}
"""Steps after which units are gone for good, and the account column they count in."""


@dataclass(slots=True)
class _Party:
    """One holder's account of the lot."""

    received: int = 0
    returned_from_use: int = 0
    shipped: int = 0
    used: int = 0
    destroyed: int = 0
    on_hand: int = 0
    in_transit_in: int = 0

    @property
    def expected_on_hand(self) -> int:
        return self.received + self.returned_from_use - self.shipped - self.used - self.destroyed


def lot_trace(session: Session, principal: Principal, di: str, lot: str) -> dict[str, Any]:
    """Where a lot came from and went: a graph of holders and shipments, a table, a balance.

    Quantities are summed in the database per step and party; only shipments (one row each)
    and containers the lot travelled in are read row by row.

    Raises:
        NotFound: For a lot never recorded, or one the caller never held nor regulates.
    """
    key = f"{di} lot {lot}"
    with read_transaction(session):
        see_every_row(session)
        flows = rows.lot_flows(session, di, lot)
        stock = rows.stock_of_lot(session, di, lot)
        if not flows and not stock:
            raise NotFound("lot", key)
        parents = sorted({f["packed_into"] for f in flows if f["packed_into"]})
        boxes = rows.events_moving_containers(session, parents) if parents else []
        box_shipments = {b["shipment_id"] for b in boxes if b["shipment_id"]}
        shipments = {s["id"]: s for s in rows.lot_shipments(session, di, lot, box_shipments)}
        receipts = {
            b["id"]: b
            for b in boxes
            if b["biz_step"] in RECEIPT_STEPS and b["shipment_id"] in shipments
        }
        boxed = _boxed_receipts(session, di, lot, receipts, shipments)
        gone = _boxed_uses(session, di, lot, boxes)
        returns: list[dict[str, Any]] = []
        if any(f["biz_step"] == BizStep.RETURNING.value for f in flows):
            steps = (BizStep.DISPENSING.value, BizStep.RETURNING.value)
            returns = rows.lot_serial_steps(session, di, lot, steps)
        parties = {f[c] for f in flows for c in ("acting_org_id", "owner_id", "possessor_id")}
        parties |= {b[c] for b in boxes for c in rows.LOT_EVENT_PARTIES}
        for shipment in shipments.values():
            parties.add(shipment["from_org_id"])
            parties.add(shipment["destination_party_id"])
        parties |= {b[c] for b in stock for c in ("owner_id", "possessor_id")}
        parties.discard(None)
        places = {f["warehouse_id"] for f in flows} | {b["warehouse_id"] for b in boxes}
        for shipment in shipments.values():
            places.add(shipment["from_warehouse_id"])
            places.add(shipment["destination_warehouse_id"])
        places |= {b["warehouse_id"] for b in stock}
        places.discard(None)
        viewer = _viewer(session, principal, parties, places, "lot", key, text_ids=True)
        device = rows.device(session, di)
        if device is not None:
            parties.add(str(device["registrant_id"]))
        names = _Names(session, parties, places, ())
    accounts = _accounts(flows, shipments, boxed, gone, returns, stock)
    graph = _graph(accounts, shipments, stock, viewer, names)
    imbalances = [
        {
            "party": names.party(party),
            "expected_on_hand": account.expected_on_hand,
            "on_hand": account.on_hand,
            "difference": account.on_hand - account.expected_on_hand,
        }
        for party, account in sorted(accounts.items(), key=lambda kv: kv[0])
        if account.on_hand != account.expected_on_hand
    ]
    upstream, downstream = _directions(viewer, shipments)
    return {
        "di": di,
        "lot": lot,
        "device": _device_json(device, names),
        "graph": graph,
        "shipments": _shipment_table(shipments, viewer, names),
        "totals": _totals(accounts, shipments),
        "balance": {"balanced": not imbalances, "imbalances": imbalances},
        "backward": sorted(upstream) if upstream is not None else None,
        "forward": sorted(downstream) if downstream is not None else None,
        "visibility": "full" if viewer.full else "party",
    }


def _boxed_receipts(
    session: Session,
    di: str,
    lot: str,
    receipts: Mapping[str, Mapping[str, Any]],
    shipments: Mapping[str, Mapping[str, Any]],
) -> Counter[str]:
    """Units of the lot received inside containers, per receiving party: the shipment's serial
    lines that the receipt did not list one by one and that were not reported short."""
    received: Counter[str] = Counter()
    if not receipts:
        return received
    ids = {r["shipment_id"] for r in receipts.values()}
    lines = rows.shipment_lines(session, ids, di, lot)
    short = {
        (d["shipment_id"], d["serial"])
        for d in rows.discrepancies(session, ids, di, lot)
        if d["kind"] == "short"
    }
    listed = {
        (i["event_id"], i["serial"]) for i in rows.items_of_lot_in(session, receipts, di, lot)
    }
    for receipt_id, receipt in receipts.items():
        shipment = receipt["shipment_id"]
        count = sum(
            1
            for line in lines
            if line["shipment_id"] == shipment
            and line["serial"]
            and (receipt_id, line["serial"]) not in listed
            and (shipment, line["serial"]) not in short
        )
        received[receipt["possessor_id"] or receipt["acting_org_id"]] += count
    return received


def _boxed_uses(
    session: Session, di: str, lot: str, boxes: Sequence[Mapping[str, Any]]
) -> Counter[tuple[str, str]]:
    """Units of the lot used or destroyed inside a whole container, per (holder, column).

    Such an event stores the container's SSCC as its one item, not the units in it, so the
    lot's summed items miss them; the units' projection rows name the event as their last.
    """
    ends = {b["id"]: b for b in boxes if b["biz_step"] in _USE_STEPS}  # one row per box item
    gone: Counter[tuple[str, str]] = Counter()
    if not ends:
        return gone
    for event_id, count in rows.lot_units_left_with(session, di, lot, ends).items():
        end = ends[event_id]
        gone[(end["acting_org_id"], _USE_STEPS[end["biz_step"]])] += count
    return gone


def _accounts(
    flows: list[dict[str, Any]],
    shipments: Mapping[str, Mapping[str, Any]],
    boxed: Counter[str],
    gone: Counter[tuple[str, str]],
    returns: list[dict[str, Any]],
    stock: list[dict[str, Any]],
) -> dict[str, _Party]:
    """Received, shipped, used, destroyed and on hand per holder."""
    accounts: dict[str, _Party] = defaultdict(_Party)
    for flow in flows:
        step, quantity, holder = flow["biz_step"], int(flow["quantity"]), flow["acting_org_id"]
        if step in RECEIPT_STEPS:
            accounts[flow["possessor_id"] or holder].received += quantity
        elif step == BizStep.DISPENSING.value:
            accounts[holder].used += quantity
        elif step == BizStep.DESTROYING.value:
            accounts[holder].destroyed += quantity
    for party, count in boxed.items():
        accounts[party].received += count
    for (party, column), count in gone.items():
        account = accounts[party]
        setattr(account, column, getattr(account, column) + count)
    last_step: dict[str, str] = {}
    for row in returns:  # only a used unit's return puts stock back
        if row["biz_step"] == BizStep.RETURNING.value and last_step.get(row["serial"]) == (
            BizStep.DISPENSING.value
        ):
            accounts[row["acting_org_id"]].returned_from_use += row["quantity"]
        last_step[row["serial"]] = row["biz_step"]
    for shipment in shipments.values():
        accounts[shipment["from_org_id"]].shipped += shipment["quantity"]
        if shipment["status"] == "in_transit":
            accounts[shipment["destination_party_id"]].in_transit_in += shipment["quantity"]
    for balance in stock:
        accounts[balance["possessor_id"]].on_hand += balance["quantity"]
    return dict(accounts)


def _shipment_table(
    shipments: Mapping[str, Mapping[str, Any]], viewer: _Viewer, names: _Names
) -> list[dict[str, Any]]:
    party, warehouse, sees = names.party, names.warehouse, viewer.sees_hop
    table = []
    for shipment in shipments.values():  # in shipping order (rows.lot_shipments)
        sender, receiver = shipment["from_org_id"], shipment["destination_party_id"]
        detailed = sees((sender, receiver))
        received = shipment["received_time"]
        table.append(
            {
                "shipment_id": shipment["id"],
                "shipped_at": _iso(shipment["shipped_at"]),
                "from": party(sender),
                "from_warehouse": warehouse(shipment["from_warehouse_id"], detailed),
                "to": party(receiver),
                "to_warehouse": warehouse(shipment["destination_warehouse_id"], detailed),
                "quantity": int(shipment["quantity"]),
                "status": shipment["status"],
                "received_at": (
                    local_time(received, shipment["received_offset"]) if received else None
                ),
                "despatch_ref": shipment["despatch_ref"] if detailed else None,
            }
        )
    return table


def _graph(
    accounts: Mapping[str, _Party],
    shipments: Mapping[str, Mapping[str, Any]],
    stock: list[dict[str, Any]],
    viewer: _Viewer,
    names: _Names,
) -> dict[str, Any]:
    """Nodes: holders (with their warehouses when visible); edges: shipments per pair."""
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for shipment in shipments.values():
        pair = (shipment["from_org_id"], shipment["destination_party_id"])
        edge = edges.get(pair)
        if edge is None:
            edge = {"from": pair[0], "to": pair[1], "shipments": 0, "quantity": 0}
            edge["in_transit"] = 0
            edges[pair] = edge
        quantity = int(shipment["quantity"])
        edge["shipments"] += 1
        edge["quantity"] += quantity
        if shipment["status"] == "in_transit":
            edge["in_transit"] += quantity
    depth = _depths(accounts, edges)
    held: dict[str, Counter[str]] = defaultdict(Counter)
    for balance in stock:
        held[balance["possessor_id"]][balance["warehouse_id"]] += balance["quantity"]
    nodes = []
    for party in sorted(accounts, key=lambda p: (depth[p], p)):
        account = accounts[party]
        detailed = viewer.sees_hop((party,))
        nodes.append(
            {
                "id": party,
                "party": names.party(party),
                "depth": depth[party],
                "received": account.received,
                "shipped": account.shipped,
                "used": account.used,
                "destroyed": account.destroyed,
                "returned_from_use": account.returned_from_use,
                "on_hand": account.on_hand,
                "in_transit_in": account.in_transit_in,
                "balanced": account.on_hand == account.expected_on_hand,
                "warehouses": [
                    {**(names.warehouse(w, True) or {}), "on_hand": n}
                    for w, n in sorted(held[party].items())
                ]
                if detailed and party in held
                else [],
            }
        )
    return {
        "nodes": nodes,
        "edges": [edges[pair] for pair in sorted(edges)],
    }


def _depths(parties: Iterable[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Column of each holder in the drawn graph: hops from the nearest origin (no inflow).

    One breadth-first walk from every origin at once: each holder and each edge is visited
    once. Holders on a cycle with no origin upstream (or a graph of cycles only, whose first
    holder then stands for the origin) are drawn in the first column.
    """
    holders = list(parties)
    downstream: dict[str, list[str]] = defaultdict(list)
    inflow: set[str] = set()
    for a, b in edges:
        downstream[a].append(b)
        inflow.add(b)
    frontier = [p for p in holders if p not in inflow] or holders[:1]
    depth = dict.fromkeys(frontier, 0)
    level = 0
    while frontier:
        level += 1
        reached = []
        for a in frontier:
            for b in downstream.get(a, ()):
                if b not in depth:
                    depth[b] = level
                    reached.append(b)
        frontier = reached
    return {p: depth.get(p, 0) for p in holders}


def _directions(
    viewer: _Viewer, shipments: Mapping[str, Mapping[str, Any]]
) -> tuple[set[str] | None, set[str] | None]:
    """Holders upstream (backward) and downstream (forward) of the caller's organisation."""
    pairs = {(s["from_org_id"], s["destination_party_id"]) for s in shipments.values()}
    involved = {p for pair in pairs for p in pair}
    org = str(viewer.org_id)
    if org not in involved:
        return None, None
    return _reach(org, {(b, a) for a, b in pairs}), _reach(org, pairs)


def _reach(start: str, pairs: set[tuple[str, str]]) -> set[str]:
    onward: dict[str, list[str]] = defaultdict(list)
    for a, b in pairs:
        onward[a].append(b)
    found: set[str] = set()
    frontier = [start]
    while frontier:
        frontier = [b for a in frontier for b in onward.get(a, ()) if b not in found and b != start]
        found.update(frontier)
    return found


def _totals(
    accounts: Mapping[str, _Party], shipments: Mapping[str, Mapping[str, Any]]
) -> dict[str, int]:
    values = list(accounts.values())
    return {
        "shipments": len(shipments),
        "shipped": sum(a.shipped for a in values),
        "in_transit": sum(a.in_transit_in for a in values),
        "received": sum(a.received for a in values),
        "on_hand": sum(a.on_hand for a in values),
        "used": sum(a.used for a in values),
        "destroyed": sum(a.destroyed for a in values),
        "returned_from_use": sum(a.returned_from_use for a in values),
    }
