"""Organisations: rows <-> :class:`~warehouse.domain.organisations.Organisation`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.codes import DivisionCode, UnifiedSocialCreditCode
from warehouse.domain.organisations import Organisation, OrgRole
from warehouse.repository import versions
from warehouse.repository.pages import Page, PageRequest, paginate

ORG = tables.organisations
_KNOWN_ROLES = frozenset(role.value for role in OrgRole)


def to_organisation(row: Mapping[str, Any]) -> Organisation:
    """Build the domain value from a row (roles the domain does not know are left out)."""
    return Organisation(
        id=str(row["id"]),
        credit_code=UnifiedSocialCreditCode(row["credit_code"]),
        name=row["name"],
        jurisdiction=DivisionCode(row["jurisdiction"]),
        roles=frozenset(OrgRole(r) for r in row["roles"] if r in _KNOWN_ROLES),
    )


def values(organisation: Organisation) -> dict[str, Any]:
    """Column values of an organisation (its versioned snapshot), id excluded."""
    return {
        "name": organisation.name,
        "credit_code": organisation.credit_code.value,
        "roles": sorted(role.value for role in organisation.roles),
        "jurisdiction": organisation.jurisdiction.value,
    }


def insert(
    session: Session,
    organisation: Organisation,
    *,
    effective_from: date,
    recorded_by: uuid.UUID | None = None,
) -> None:
    """Insert a new organisation and its first version."""
    versions.insert_first(
        session,
        ORG,
        "organisation",
        organisation.id,
        values(organisation),
        effective_from=effective_from,
        recorded_by=recorded_by,
    )


def update(session: Session, organisation: Organisation) -> None:
    """Make ``organisation`` the current state of its row (the latest version)."""
    query = ORG.update().where(ORG.c.id == uuid.UUID(organisation.id))
    session.execute(query.values(**values(organisation)))


def from_version(version: versions.Version) -> Organisation:
    """The organisation as one of its versions recorded it."""
    return to_organisation({**version.data, "id": version.entity_id})


def get(session: Session, org_id: uuid.UUID) -> Organisation | None:
    """Return the organisation with ``org_id``, or None."""
    row = session.execute(select(ORG).where(ORG.c.id == org_id)).mappings().first()
    return to_organisation(row) if row is not None else None


_GET_MANY = select(ORG).where(ORG.c.id.in_(bindparam("ids", expanding=True)))
"""Built once: every movement batch runs it, and building it cost more than running it."""


def get_many(session: Session, org_ids: Iterable[uuid.UUID | str]) -> dict[str, Organisation]:
    """Return the organisations among ``org_ids`` by string id, in one query."""
    wanted = sorted({uuid.UUID(str(org_id)) for org_id in org_ids})
    if not wanted:
        return {}
    rows = session.execute(_GET_MANY, {"ids": wanted}).mappings()
    return {str(row["id"]): to_organisation(row) for row in rows}


def find_by_credit_code(session: Session, credit_code: str) -> Organisation | None:
    """Return the organisation with this credit code, or None."""
    query = select(ORG).where(ORG.c.credit_code == credit_code.upper())
    row = session.execute(query).mappings().first()
    return to_organisation(row) if row is not None else None


def ids_within(prefix: str) -> ColumnElement[bool]:
    """Condition on ``organisations``: the organisation lies in the jurisdiction ``prefix``."""
    return ORG.c.jurisdiction.startswith(prefix, autoescape=True)


def list_page(
    session: Session,
    page: PageRequest,
    *,
    jurisdiction_prefix: str | None = None,
    role: OrgRole | None = None,
    credit_code: str | None = None,
) -> Page[Organisation]:
    """One page of organisations, filtered."""
    query = select(ORG)
    if jurisdiction_prefix:
        query = query.where(ids_within(jurisdiction_prefix))
    if credit_code:
        query = query.where(ORG.c.credit_code == credit_code.upper())
    if role is not None:
        # JSON arrays are matched as text: portable across SQLite and PostgreSQL, and exact
        # because role names are quoted in the stored JSON.
        query = query.where(ORG.c.roles.cast(String).contains(f'"{role.value}"'))
    return paginate(session, query, ORG.c.id, page, _build)


def _build(rows: Sequence[Mapping[str, Any]]) -> list[Organisation]:
    return [to_organisation(row) for row in rows]
