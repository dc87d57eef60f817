"""The exceptions review queue: scans that parsed fine but a stock-state rule refused.

An exception is opened by ingestion (:mod:`scanning.ingest`) and closed by a person: *resolve*
re-submits the scan's movement (after stock was fixed, e.g. the missing receipt arrived) or
accepts the exception with a reason (nothing is recorded); *reject* closes it with a reason.
Nothing is deleted: the scan keeps its first answer, the exception row its lifecycle.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scanning import devices
from scanning import tables as scan_tables
from scanning.ingest import ScanIn, build_event, event_problem
from warehouse.domain.roles import Principal
from warehouse.repository.pages import Page, PageRequest, paginate
from warehouse.services import movements, read_transaction, write_transaction
from warehouse.services.access import is_admin
from warehouse.services.errors import Conflict, FieldError, NotFound, ValidationFailed

EXC = scan_tables.scan_exceptions
SCANS = scan_tables.scans
STATUSES = ("open", "resolved", "rejected")


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a person closes an exception."""

    action: str
    """``resubmit`` (record the movement now) or ``accept`` (close it, record nothing)."""

    reason: str | None = None
    """Required to accept or reject; kept with the exception."""


def _query() -> Any:
    columns = [
        SCANS.c.scan_id,
        SCANS.c.device_id,
        SCANS.c.raw,
        SCANS.c.operation,
        SCANS.c.location_id,
        SCANS.c.device_time,
        SCANS.c.received_at,
        SCANS.c.payload,
        SCANS.c.di,
        SCANS.c.lot,
        SCANS.c.serial,
        SCANS.c.sscc,
        SCANS.c.expiry,
        SCANS.c.production_date,
        SCANS.c.quantity,
    ]
    return select(EXC, *columns).join(SCANS, SCANS.c.id == EXC.c.scan_row_id)


def list_page(
    session: Session, principal: Principal, page: PageRequest, *, status: str | None = None
) -> Page[dict[str, Any]]:
    """Exceptions of the caller's organisation (admins: all), oldest first."""
    query = _query()
    if not is_admin(principal):
        query = query.where(EXC.c.organisation_id == principal.organisation_id)
    if status is not None:
        query = query.where(EXC.c.status == status)
    with read_transaction(session):
        return paginate(session, query, EXC.c.id, page, _build)


def get(session: Session, principal: Principal, exception_id: uuid.UUID) -> dict[str, Any]:
    """One exception. Raises NotFound for an unknown one or another organisation's."""
    with read_transaction(session):
        return _load(session, principal, exception_id)


def resolve(
    session: Session, principal: Principal, exception_id: uuid.UUID, resolution: Resolution
) -> dict[str, Any]:
    """Re-submit the scan's movement, or accept the exception with a reason.

    Raises:
        NotFound: Unknown, or another organisation's.
        Conflict: ``scan_exception.closed`` when it was resolved or rejected already.
        ValidationFailed: Accepting without a reason.
        EventRefused: The re-submitted movement was refused again (the exception stays open,
            its ``attempts`` and ``last_problem`` updated).
    """
    if resolution.action == "accept":
        _require_reason(resolution.reason)
        return _close(session, principal, exception_id, "resolved", "accepted", resolution.reason)
    if resolution.action != "resubmit":
        raise ValidationFailed(
            "resolution",
            [
                FieldError(
                    "action",
                    "field.invalid",
                    f"Expected resubmit or accept, got {resolution.action!r}.",
                )
            ],
        )
    with read_transaction(session):
        found = _load(session, principal, exception_id)
        _require_open(found)
        device = devices.load_many(session, [found["device_id"]])[found["device_id"]]
    scan = ScanIn.from_payload(found["scan_id"], found["raw"], found["payload"])
    item = movements.NewItem(
        di=found["di"],
        serial=found["serial"],
        lot=found["lot"],
        quantity=found["quantity"] or 1,
        expiry=found["expiry"],
        production_date=found["production_date"],
        sscc=found["sscc"],
    )
    event = build_event(device, scan, item)
    outcome = movements.record(session, principal, [event]).results[0]
    if outcome.problem is not None:
        with write_transaction(session):
            session.execute(
                update(EXC)
                .where(EXC.c.id == exception_id)
                .values(attempts=EXC.c.attempts + 1, last_problem=event_problem(outcome.problem))
            )
        raise outcome.problem
    assert outcome.id is not None
    return _close(
        session,
        principal,
        exception_id,
        "resolved",
        "resubmitted",
        resolution.reason,
        event_id=uuid.UUID(outcome.id),
    )


def reject(
    session: Session, principal: Principal, exception_id: uuid.UUID, reason: str | None
) -> dict[str, Any]:
    """Close the exception as rejected (the scan stays unrecorded), with a reason."""
    _require_reason(reason)
    return _close(session, principal, exception_id, "rejected", "rejected", reason)


def _close(
    session: Session,
    principal: Principal,
    exception_id: uuid.UUID,
    status: str,
    resolution: str,
    reason: str | None,
    *,
    event_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    with write_transaction(session):
        found = _load(session, principal, exception_id)
        if event_id is not None and found["status"] == "resolved" and found["event_id"]:
            return found  # a concurrent re-submission closed it with the same event
        _require_open(found)
        changed = session.execute(
            update(EXC)
            .where(EXC.c.id == exception_id, EXC.c.status == "open")
            .values(
                status=status,
                resolution=resolution,
                reason=reason,
                resolved_at=datetime.now(UTC),
                resolved_by=principal.token_id,
                event_id=event_id,
                attempts=EXC.c.attempts + (1 if event_id else 0),
            )
        )
        if changed.rowcount != 1:
            raise _closed(exception_id, "closed")
        return _load(session, principal, exception_id)


def _require_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise ValidationFailed(
            "resolution",
            [FieldError("reason", "field.required", "Expected a reason, got none.")],
        )


def _require_open(found: Mapping[str, Any]) -> None:
    if found["status"] != "open":
        raise _closed(found["id"], found["status"])


def _closed(exception_id: object, status: str) -> Conflict:
    return Conflict(
        "scan_exception.closed",
        f"Expected an open exception, got exception {exception_id} {status}.",
    )


def _load(session: Session, principal: Principal, exception_id: uuid.UUID) -> dict[str, Any]:
    row = session.execute(_query().where(EXC.c.id == exception_id)).mappings().first()
    own = row is not None and row["organisation_id"] == principal.organisation_id
    if row is None or not (own or is_admin(principal)):
        raise NotFound("scan exception", exception_id)
    return dict(row)


def _build(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(row) for row in rows]
