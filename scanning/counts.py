"""Stock count sessions (盘点): scan what is at a location, compare it with the projection.

A session is opened for one location; scans with operation ``stock_count`` and its
``count_id`` are added through the scan API (they record no movement). The report compares
what was scanned with the stock projection of the organisation at that location:

* **missing** — serialised units on hand but not scanned, lots on hand but not counted;
* **unexpected** — units scanned but not on hand there, lots counted but not on hand;
* **mismatched** — lots counted in another quantity than on hand, units scanned with a lot
  other than the one recorded for their serial.

Confirming records the adjustments through :func:`warehouse.services.movements.record`, in one
call: a missing unit or shortfall is written off (``destroying``, 盘亏), a unit found that the
organisation holds elsewhere is put away here (``storing``), a unit or surplus never received
is received here (``receiving``, so it waits for acceptance like any receipt). A unit another
organisation holds is listed as "not in your stock" (its state is not disclosed), also under
row-level security, where the counter cannot otherwise see it; a used one as used; neither is
adjusted. Event ids derive from the session, so confirming again after a crash records
nothing twice.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from scanning import tables as scan_tables
from warehouse import tables
from warehouse.db import seeing_every_row
from warehouse.domain.movements import IN_STOCK, BizStep
from warehouse.domain.roles import Principal
from warehouse.ids import new_id
from warehouse.services import movements, read_transaction, today, write_transaction
from warehouse.services.access import is_admin, unknown_warehouses
from warehouse.services.errors import Conflict, FieldError, NotFound, ValidationFailed

COUNTS = scan_tables.stock_counts
SCANS = scan_tables.scans
UNITS = tables.units
STOCK = tables.stock
_IN_STOCK = sorted(s.value for s in IN_STOCK)

COUNT_NAMESPACE = uuid.UUID("2f8a1c55-0d3e-5b7a-9c41-6e0b8d2f4a19")
"""uuid5 namespace of adjustment event ids (fixed; never change it)."""


@dataclass(frozen=True, slots=True)
class Line:
    """One difference between the count and the projection."""

    kind: str
    """``missing``, ``unexpected`` or ``mismatched``."""

    di: str
    lot: str | None
    serial: str | None
    counted: int
    on_hand: int
    expiry: date | None = None
    note: str | None = None
    """For mismatched units and units that cannot be adjusted: what is recorded instead."""

    def to_json(self) -> dict[str, Any]:
        """The line as the API shows it."""
        return {
            "kind": self.kind,
            "di": self.di,
            "lot": self.lot or None,
            "serial": self.serial,
            "counted": self.counted,
            "on_hand": self.on_hand,
            "difference": self.counted - self.on_hand,
            "expiry": self.expiry.isoformat() if self.expiry else None,
            "note": self.note,
        }


def create(
    session: Session,
    principal: Principal,
    location_id: uuid.UUID,
    organisation_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Open a count session at a location of a warehouse the organisation may see.

    Raises:
        ValidationFailed: Unknown location, or one the organisation cannot see.
    """
    org_id = organisation_id if organisation_id and is_admin(principal) else None
    org_id = org_id or principal.organisation_id
    with write_transaction(session):
        loc = tables.locations
        found = session.execute(
            select(loc.c.warehouse_id).where(loc.c.id == location_id)
        ).scalar_one_or_none()
        member = Principal(uuid.UUID(int=0), org_id, frozenset(), None)
        if found is None or unknown_warehouses(session, member, [found], today()):
            raise ValidationFailed(
                "stock count",
                [
                    FieldError(
                        "location_id",
                        "reference.unknown",
                        f"Expected a location in a warehouse of organisation {org_id}, got "
                        f"{location_id}.",
                    )
                ],
            )
        count_id = new_id()
        session.execute(
            COUNTS.insert().values(
                id=count_id,
                organisation_id=org_id,
                warehouse_id=found,
                location_id=location_id,
                status="open",
                created_at=datetime.now(UTC),
                created_by=principal.token_id,
            )
        )
        return _load(session, principal, count_id)


def report(session: Session, principal: Principal, count_id: uuid.UUID) -> dict[str, Any]:
    """The session with its missing, unexpected and mismatched lines.

    Raises:
        NotFound: Unknown, or another organisation's.
    """
    with read_transaction(session):
        count = _load(session, principal, count_id)
        lines = _compare(session, count)
    return _report_json(count, lines)


def confirm(session: Session, principal: Principal, count_id: uuid.UUID) -> dict[str, Any]:
    """Record the adjustments and close the session.

    The session is first claimed (``open`` -> ``confirming``, a conditional update in its own
    transaction): from then on ingestion refuses its scans, so the lines computed next are the
    lines adjusted, and a scan made during the confirmation is refused instead of lost (its
    unit would otherwise be written off as missing). It ends ``confirmed``, or ``open`` again
    when an adjustment is refused.

    Raises:
        NotFound: Unknown, or another organisation's.
        Conflict: ``stock_count.confirmed`` when it was confirmed already;
            ``stock_count.confirming`` when another confirmation is under way;
            ``stock_count.adjustment_refused`` when a movement rule refused an adjustment (the
            ones accepted stay recorded; confirming again after fixing records the rest).
    """
    _claim(session, principal, count_id)
    try:
        with read_transaction(session):
            count = _load(session, principal, count_id)
            lines = _compare(session, count)
            moment = _count_time(session, count)
        outcomes, batch_id = _adjust(session, principal, count, lines, moment)
    except BaseException:
        _reopen(session, count_id)
        raise
    with write_transaction(session):
        changed = session.execute(
            update(COUNTS)
            .where(COUNTS.c.id == count_id, COUNTS.c.status == CONFIRMING)
            .values(
                status="confirmed",
                confirmed_at=datetime.now(UTC),
                confirmed_by=principal.token_id,
                adjustment_batch_id=batch_id,
            )
        )
        if changed.rowcount != 1:
            raise _not_open(count_id, "confirmed")
        count = _load(session, principal, count_id)
    return {**_report_json(count, lines), "adjustments": outcomes}


CONFIRMING = "confirming"
STALE_CONFIRMATION = timedelta(minutes=10)
"""A confirmation still ``confirming`` after this long died with its process: another may take
it over (its adjustment event ids are the same, so nothing is recorded twice)."""


def _claim(session: Session, principal: Principal, count_id: uuid.UUID) -> None:
    """``open`` (or a stale ``confirming``) -> ``confirming``, committed before anything is
    read, so no count scan is accepted into the session from here on."""
    now = datetime.now(UTC)
    with write_transaction(session):
        count = _load(session, principal, count_id)
        claimable = (COUNTS.c.status == "open") | (
            (COUNTS.c.status == CONFIRMING) & (COUNTS.c.confirmed_at < now - STALE_CONFIRMATION)
        )
        changed = session.execute(
            update(COUNTS)
            .where(COUNTS.c.id == count_id, claimable)
            .values(status=CONFIRMING, confirmed_at=now, confirmed_by=principal.token_id)
        )
        if changed.rowcount != 1:
            raise _not_open(count_id, count["status"])


def _reopen(session: Session, count_id: uuid.UUID) -> None:
    """Back to ``open`` after a refused (or failed) confirmation, so it can be fixed and
    confirmed again."""
    if session.in_transaction():
        session.rollback()
    with write_transaction(session):
        session.execute(
            update(COUNTS)
            .where(COUNTS.c.id == count_id, COUNTS.c.status == CONFIRMING)
            .values(status="open", confirmed_at=None, confirmed_by=None)
        )


def _adjust(
    session: Session,
    principal: Principal,
    count: Mapping[str, Any],
    lines: list[Line],
    moment: datetime,
) -> tuple[list[dict[str, Any]], uuid.UUID | None]:
    """Record the adjustments in one call; raise when a movement rule refused one."""
    planned = [(line, event) for line in lines if (event := _adjustment(count, line, moment))]
    outcomes: list[dict[str, Any]] = []
    batch_id = None
    if planned:
        result = movements.record(session, principal, [event for _, event in planned])
        batch_id = uuid.UUID(result.batch_id)
        for (line, event), outcome in zip(planned, result.results, strict=True):
            outcomes.append(
                {
                    **line.to_json(),
                    "biz_step": event.biz_step.value,
                    "status": outcome.status,
                    "event_id": outcome.id,
                    "problem": _problem(outcome.problem) if outcome.problem else None,
                }
            )
    refused = [o for o in outcomes if o["status"] == "rejected"]
    if refused:
        raise Conflict(
            "stock_count.adjustment_refused",
            f"Expected every adjustment to be recorded, got {len(refused)} refused; fix them "
            "and confirm again.",
            {"adjustments": outcomes},
        )
    return outcomes, batch_id


def _not_open(count_id: uuid.UUID, status: str) -> Conflict:
    if status == CONFIRMING:
        return Conflict(
            "stock_count.confirming",
            f"Expected an open count session, got count {count_id} being confirmed.",
        )
    return Conflict(
        "stock_count.confirmed",
        f"Expected an open count session, got count {count_id} confirmed.",
    )


def _problem(refusal: movements.EventRefused) -> dict[str, Any]:
    return {"status": refusal.status, "code": refusal.code, "detail": refusal.detail}


# --- Comparing ------------------------------------------------------------------------------------


def _compare(session: Session, count: Mapping[str, Any]) -> list[Line]:
    org, location = count["organisation_id"], count["location_id"]
    scanned = session.execute(
        select(SCANS.c.di, SCANS.c.lot, SCANS.c.serial, SCANS.c.expiry, SCANS.c.quantity).where(
            SCANS.c.count_id == count["id"], SCANS.c.status == "accepted"
        )
    ).all()
    serials: dict[tuple[str, str], tuple[str, date | None]] = {}
    counted: dict[tuple[str, str], int] = defaultdict(int)
    expiries: dict[tuple[str, str], date | None] = {}
    for row in scanned:
        if row.serial:
            serials[(row.di, row.serial)] = (row.lot or "", row.expiry)
        else:
            counted[(row.di, row.lot or "")] += row.quantity or 0
            expiries.setdefault((row.di, row.lot or ""), row.expiry)
    here = session.execute(
        select(UNITS).where(
            UNITS.c.location_id == location,
            UNITS.c.possessor_id == org,
            UNITS.c.status.in_(_IN_STOCK),
        )
    ).mappings()
    units = {(u["di"], u["serial"]): u for u in here}
    elsewhere = _units(session, [key for key in serials if key not in units])
    lines: list[Line] = []
    for (di, serial), unit in sorted(units.items()):
        if (di, serial) not in serials:
            lines.append(Line("missing", di, unit["lot"], serial, 0, 1, unit["expiry"]))
        elif serials[(di, serial)][0] not in ("", unit["lot"]):
            note = f"recorded lot {unit['lot']!r}, label says {serials[(di, serial)][0]!r}"
            lines.append(Line("mismatched", di, unit["lot"], serial, 1, 1, unit["expiry"], note))
    for (di, serial), (lot, expiry) in sorted(serials.items()):
        if (di, serial) not in units:
            note = _whereabouts(elsewhere.get((di, serial)), org)
            lines.append(Line("unexpected", di, lot, serial, 1, 0, expiry, note))
    on_hand = _lots_on_hand(session, org, location, units.values())
    for key in sorted(set(on_hand) | set(counted)):
        di, lot = key
        have, seen = on_hand.get(key, (0, None)), counted.get(key, 0)
        if have[0] == seen:
            continue
        kind = "missing" if seen == 0 else "unexpected" if have[0] == 0 else "mismatched"
        lines.append(Line(kind, di, lot, None, seen, have[0], have[1] or expiries.get(key)))
    return lines


def _units(
    session: Session, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The recorded units of the scanned serials not on hand here: one query per chunk."""
    found: dict[tuple[str, str], Mapping[str, Any]] = {}
    by_di: dict[str, list[str]] = defaultdict(list)
    for di, serial in keys:
        by_di[di].append(serial)
    if not keys:
        return found
    # Under RLS another organisation's unit is invisible, and a stray it holds would read as
    # "never received" (its confirmation would try to receive a unit that exists). Only
    # NOT_YOURS leaves the service for those (see _whereabouts), exactly as without RLS.
    with seeing_every_row(session):
        for di, serials in sorted(by_di.items()):
            for start in range(0, len(serials), _CHUNK):
                chunk = serials[start : start + _CHUNK]
                query = select(
                    UNITS.c.di,
                    UNITS.c.serial,
                    UNITS.c.possessor_id,
                    UNITS.c.status,
                    UNITS.c.location_id,
                ).where(UNITS.c.di == di, UNITS.c.serial.in_(chunk))
                for unit in session.execute(query).mappings():
                    found[(unit["di"], unit["serial"])] = unit
    return found


_CHUNK = 500
"""Serials per IN list (well under SQLite's and PostgreSQL's parameter limits)."""

NOT_YOURS = "not in your stock"
"""The note of a unit another organisation holds: its state is theirs, not the counter's."""


def _whereabouts(unit: Mapping[str, Any] | None, org: uuid.UUID) -> str:
    if unit is None:
        return "never received"
    if unit["possessor_id"] != org:
        return NOT_YOURS
    if unit["status"] not in _IN_STOCK:
        return f"recorded as {unit['status']}"
    return f"recorded at location {unit['location_id']}"


def _lots_on_hand(
    session: Session, org: uuid.UUID, location: uuid.UUID, units: Any
) -> dict[tuple[str, str], tuple[int, date | None]]:
    """Lot quantities at the location, serialised units taken out (they are counted apart)."""
    rows = session.execute(
        select(STOCK.c.di, STOCK.c.lot, func.sum(STOCK.c.quantity), func.min(STOCK.c.expiry))
        .where(STOCK.c.location_id == location, STOCK.c.possessor_id == org)
        .group_by(STOCK.c.di, STOCK.c.lot)
    ).all()
    serialised: dict[tuple[str, str], int] = defaultdict(int)
    for unit in units:
        serialised[(unit["di"], unit["lot"])] += 1
    found = {}
    for di, lot, quantity, expiry in rows:
        left = int(quantity) - serialised.get((di, lot), 0)
        if left > 0:
            found[(di, lot)] = (left, expiry)
    return found


# --- Adjusting ------------------------------------------------------------------------------------


def _adjustment(
    count: Mapping[str, Any], line: Line, moment: datetime
) -> movements.NewEvent | None:
    """The event that makes the projection agree with the count (None: not adjustable)."""
    location = count["location_id"]
    key = f"{line.kind}/{line.di}/{line.serial or ''}/{line.lot or ''}"
    base = {
        "event_id": uuid.uuid5(COUNT_NAMESPACE, f"{count['id']}/{key}"),
        "event_time": moment,
        "acting_org_id": count["organisation_id"],
        "documents": (movements.Document("stock_count", str(count["id"])),),
    }
    difference = line.counted - line.on_hand
    item = movements.NewItem(
        di=line.di,
        serial=line.serial,
        lot=line.lot or None,
        quantity=abs(difference) or 1,
        expiry=line.expiry,
    )
    if line.serial is not None and line.kind == "mismatched":
        return None
    if difference < 0:
        return movements.NewEvent(
            biz_step=BizStep.DESTROYING, items=(item,), read_point_id=location, **base
        )
    if line.serial is not None and line.note and line.note.startswith("recorded at location"):
        return movements.NewEvent(
            biz_step=BizStep.STORING, items=(item,), location_id=location, **base
        )
    if line.serial is not None and line.note != "never received":
        return None
    return movements.NewEvent(
        biz_step=BizStep.RECEIVING, items=(item,), location_id=location, **base
    )


def _count_time(session: Session, count: Mapping[str, Any]) -> datetime:
    """The adjustments' event time: the last count scan's (stable, so a re-confirm repeats
    the same events), or the session's opening when nothing was scanned."""
    last = session.execute(
        select(func.max(SCANS.c.device_time)).where(SCANS.c.count_id == count["id"])
    ).scalar_one_or_none()
    return _aware(last or count["created_at"])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- Reading --------------------------------------------------------------------------------------


def _load(session: Session, principal: Principal, count_id: uuid.UUID) -> dict[str, Any]:
    row = session.execute(select(COUNTS).where(COUNTS.c.id == count_id)).mappings().first()
    own = row is not None and row["organisation_id"] == principal.organisation_id
    if row is None or not (own or is_admin(principal)):
        raise NotFound("stock count", count_id)
    scanned = session.execute(
        select(func.count()).where(SCANS.c.count_id == count_id, SCANS.c.status == "accepted")
    ).scalar_one()
    return {**row, "scans": int(scanned)}


def _report_json(count: Mapping[str, Any], lines: list[Line]) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return _aware(value).isoformat() if value else None

    grouped: dict[str, list[dict[str, Any]]] = {"missing": [], "unexpected": [], "mismatched": []}
    for line in lines:
        grouped[line.kind].append(line.to_json())
    return {
        "id": str(count["id"]),
        "organisation_id": str(count["organisation_id"]),
        "warehouse_id": str(count["warehouse_id"]),
        "location_id": str(count["location_id"]),
        "status": count["status"],
        "created_at": when(count["created_at"]),
        # while confirming, confirmed_at holds when the confirmation started (see _claim)
        "confirmed_at": when(count["confirmed_at"]) if count["status"] == "confirmed" else None,
        "scans": count["scans"],
        **grouped,
    }
