"""Who may read and write which master data (docs/api-master-data.md, "Authorisation").

Public register data (organisations, licences, the device catalogue) is readable by every
token. Warehouses, agreements and ownership links are private: the helpers here turn a
:class:`~warehouse.domain.roles.Principal` into SQL conditions, so lists filter in the database
and single reads of an invisible record look exactly like a missing one (404).

Writes: ``admin`` writes anything; ``org_manager`` writes only its own organisation's records.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.roles import Principal, Role
from warehouse.repository import agreements as agreement_rows
from warehouse.repository import ownership as link_rows
from warehouse.repository import warehouses as warehouse_rows
from warehouse.repository.organisations import ids_within
from warehouse.services.errors import PermissionDenied

SYSTEM = Principal(
    token_id=uuid.UUID(int=0),
    organisation_id=uuid.UUID(int=0),
    roles=frozenset({Role.ADMIN}),
    jurisdiction=None,
)
"""The caller of command-line tools and demo loading: trusted like an admin."""

WRITER_ROLES = (Role.ADMIN, Role.ORG_MANAGER)


def is_admin(principal: Principal) -> bool:
    """Return whether the caller reads and writes everything."""
    return Role.ADMIN in principal.roles


def regulator_prefix(principal: Principal) -> str | None:
    """Return the division-code prefix a regulator token reads within, or None."""
    if Role.REGULATOR in principal.roles and principal.jurisdiction:
        return principal.jurisdiction
    return None


def require_writer(principal: Principal, owner_id: uuid.UUID | str, record: str) -> None:
    """Refuse unless the caller is an admin or the org_manager of ``owner_id``.

    Raises:
        PermissionDenied: For anyone else (the HTTP edge already refused roles that never
            write with ``auth.role_required``).
    """
    if is_admin(principal):
        return
    own = str(principal.organisation_id) == str(owner_id)
    if Role.ORG_MANAGER in principal.roles and own:
        return
    raise PermissionDenied(
        f"Expected a {record} of your own organisation {principal.organisation_id}, "
        f"got one of organisation {owner_id}."
    )


def group_of(session: Session, org_id: uuid.UUID, on: date) -> set[uuid.UUID]:
    """Return ``org_id`` and every organisation it holds through links valid on ``on``."""
    links = [s.link for s in link_rows.downward(session, [org_id]) if s.link.is_valid_on(on)]
    group = frontier = {str(org_id)}
    while frontier:
        frontier = {link.child_id for link in links if link.parent_id in frontier} - group
        group = group | frontier
    return {uuid.UUID(member) for member in group}


def warehouses_visible(
    session: Session, principal: Principal, on: date
) -> ColumnElement[bool] | None:
    """Condition on ``warehouses``: the caller may see the warehouse (None: sees all).

    Seen by the operator and the companies holding it on ``on``, parties to an agreement
    valid on ``on`` naming the warehouse, and regulators of its jurisdiction.
    """
    if is_admin(principal):
        return None
    wh = tables.warehouses
    org_id = principal.organisation_id
    conditions = [
        wh.c.operator_id.in_(group_of(session, org_id, on)),
        wh.c.id.in_(agreement_rows.warehouses_named_for(org_id, on)),
    ]
    prefix = regulator_prefix(principal)
    if prefix:
        conditions.append(wh.c.jurisdiction.startswith(prefix, autoescape=True))
    return or_(*conditions)


def agreements_visible(principal: Principal) -> ColumnElement[bool] | None:
    """Condition on ``entrustment_agreements``: a party, or a regulator of either party."""
    if is_admin(principal):
        return None
    agr = tables.entrustment_agreements
    org_id = principal.organisation_id
    conditions = [agr.c.client_id == org_id, agr.c.provider_id == org_id]
    prefix = regulator_prefix(principal)
    if prefix:
        regulated = select(tables.organisations.c.id).where(ids_within(prefix))
        conditions += [agr.c.client_id.in_(regulated), agr.c.provider_id.in_(regulated)]
    return or_(*conditions)


def links_visible(principal: Principal) -> ColumnElement[bool] | None:
    """Condition on ``ownership_links``: parent, child, or a regulator of either."""
    if is_admin(principal):
        return None
    link = tables.ownership_links
    org_id = principal.organisation_id
    conditions = [link.c.parent_id == org_id, link.c.child_id == org_id]
    prefix = regulator_prefix(principal)
    if prefix:
        regulated = select(tables.organisations.c.id).where(ids_within(prefix))
        conditions += [link.c.parent_id.in_(regulated), link.c.child_id.in_(regulated)]
    return or_(*conditions)


def unknown_warehouses(
    session: Session, principal: Principal, warehouse_ids: Iterable[uuid.UUID], on: date
) -> list[uuid.UUID]:
    """Return the ids among ``warehouse_ids`` that do not exist or the caller may not see.

    Licences and agreements may name warehouses of other organisations (a bay rented in a
    subsidiary's warehouse), but only ones the caller may see: naming an invisible one is
    answered exactly like naming a missing one.
    """
    wanted = list(warehouse_ids)
    found = warehouse_rows.get_many(session, wanted, warehouses_visible(session, principal, on))
    return [w for w in wanted if str(w) not in found]
