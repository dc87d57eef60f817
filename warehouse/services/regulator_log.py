"""Regulator access: the query log, and serial-level reads within a jurisdiction.

Regulators read across organisations within their jurisdiction; what they looked at is itself
a record the platform keeps (who, which jurisdiction, which path and arguments, when, how many
results). Rows are only ever inserted. Admins read the whole log; an auditor reads the queries
of its own organisation's regulator tokens (a regulator body auditing its own staff), since
what one regulator looked at is nobody else's business.

Events and stock balances are read through ``/events`` and ``/stock``, which already show a
regulator everything located in a warehouse of its jurisdiction; :func:`list_units` adds the
one thing they lack, the current place and status of single serials.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.roles import Principal, Role
from warehouse.ids import new_id
from warehouse.repository.pages import Page, PageRequest, paginate
from warehouse.services import read_transaction, write_transaction
from warehouse.services.access import is_admin, regulator_prefix
from warehouse.services.errors import PermissionDenied

LOG = tables.regulator_queries
UNIT = tables.units
WH = tables.warehouses

READER_ROLES = (Role.ADMIN, Role.AUDITOR)
"""Who may read the log: admins all of it, auditors their own organisation's rows."""

MAX_PATH = 500


def storable(text: str) -> str:
    """``text`` as stored: NUL, which PostgreSQL text and JSON cannot hold, shown as U+2400 (␀).

    A path or argument is logged as the regulator sent it, so it is kept, not refused
    (like scanning.ingest.stored_text; warehouse may not import scanning).
    """
    return text.replace("\x00", "\u2400")


def is_logged(principal: Principal | None) -> bool:
    """Whether requests of ``principal`` are recorded: any token carrying the regulator role."""
    return principal is not None and Role.REGULATOR in principal.roles


@dataclass(frozen=True, slots=True)
class Query:
    """One request of a regulator token, as answered."""

    method: str
    path: str
    args: Mapping[str, Sequence[str]]
    status: int
    result_count: int | None


def record(session: Session, principal: Principal, query: Query) -> None:
    """Append one query to the log in its own transaction."""
    with write_transaction(session):
        session.execute(
            LOG.insert().values(
                id=new_id(),
                token_id=principal.token_id,
                organisation_id=principal.organisation_id,
                jurisdiction=principal.jurisdiction,
                method=query.method,
                path=storable(query.path)[:MAX_PATH],
                query_args={storable(k): [storable(v) for v in vs] for k, vs in query.args.items()},
                status=query.status,
                result_count=query.result_count,
                requested_at=datetime.now(UTC),
            )
        )


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which logged queries to list."""

    token_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    jurisdiction: str | None = None
    path_prefix: str | None = None
    requested_from: datetime | None = None
    requested_to: datetime | None = None


def list_queries(
    session: Session, principal: Principal, page: PageRequest, where: LogFilter
) -> Page[dict[str, Any]]:
    """One page of logged queries the caller may read, oldest first.

    Admins read every row; auditors only the rows of regulator tokens of their own
    organisation (another organisation's regulator queries are filtered out, not refused, like
    any record of another organisation).

    Raises:
        PermissionDenied: The caller is neither an admin nor an auditor.
    """
    query = LOG.select()
    if not is_admin(principal):
        if Role.AUDITOR not in principal.roles:
            roles = ", ".join(sorted(r.value for r in principal.roles))
            raise PermissionDenied(f"Expected an admin or auditor token, got roles {roles}.")
        query = query.where(LOG.c.organisation_id == principal.organisation_id)
    if where.token_id is not None:
        query = query.where(LOG.c.token_id == where.token_id)
    if where.organisation_id is not None:
        query = query.where(LOG.c.organisation_id == where.organisation_id)
    if where.jurisdiction is not None:
        query = query.where(LOG.c.jurisdiction.startswith(where.jurisdiction, autoescape=True))
    if where.path_prefix is not None:
        query = query.where(LOG.c.path.startswith(where.path_prefix, autoescape=True))
    if where.requested_from is not None:
        query = query.where(LOG.c.requested_at >= where.requested_from.astimezone(UTC))
    if where.requested_to is not None:
        query = query.where(LOG.c.requested_at < where.requested_to.astimezone(UTC))
    with read_transaction(session):
        return paginate(session, query, LOG.c.id, page, lambda found: [dict(r) for r in found])


UNIT_READER_ROLES = (Role.ADMIN, Role.REGULATOR)


@dataclass(frozen=True, slots=True)
class UnitFilter:
    """Which serialised units to list."""

    di: str | None = None
    serial: str | None = None
    lot: str | None = None
    owner_id: uuid.UUID | None = None
    possessor_id: uuid.UUID | None = None
    warehouse_id: uuid.UUID | None = None
    status: str | None = None


def list_units(
    session: Session, principal: Principal, page: PageRequest, where: UnitFilter
) -> Page[dict[str, Any]]:
    """One page of units located in a warehouse of the regulator's jurisdiction (admins: all).

    Units not in a warehouse (in transit, used, destroyed) have no place to be regulated by
    and are left out for regulators; the trace of the serial shows where they went.
    """
    query = UNIT.select()
    if not is_admin(principal):
        prefix = regulator_prefix(principal) or "\x00"  # no jurisdiction: nothing matches
        within = select(WH.c.id).where(WH.c.jurisdiction.startswith(prefix, autoescape=True))
        query = query.where(UNIT.c.warehouse_id.in_(within))
    for column, value in (
        (UNIT.c.di, where.di),
        (UNIT.c.serial, where.serial),
        (UNIT.c.lot, where.lot),
        (UNIT.c.owner_id, where.owner_id),
        (UNIT.c.possessor_id, where.possessor_id),
        (UNIT.c.warehouse_id, where.warehouse_id),
        (UNIT.c.status, where.status),
    ):
        if value is not None:
            query = query.where(column == value)
    with read_transaction(session):
        return paginate(session, query, UNIT.c.id, page, lambda found: [dict(r) for r in found])
