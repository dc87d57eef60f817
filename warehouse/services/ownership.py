"""Ownership links: create, end or change by superseding, read, and "does P hold X?" queries.

Every write re-checks the part of the graph it can disturb: links into the same child (one
link per pair at a time, shares at most 100%) and every path down from the child (a cycle
would need one). Only those links are loaded, never the whole graph.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from warehouse.domain.organisations import Organisation
from warehouse.domain.ownership import Chain, OwnershipGraph, OwnershipLink
from warehouse.domain.roles import Principal
from warehouse.errors import OwnershipConflictError, OwnershipCycleError
from warehouse.ids import new_id
from warehouse.repository import organisations as org_rows
from warehouse.repository import ownership as rows
from warehouse.repository.ownership import StoredLink
from warehouse.repository.pages import Page, PageRequest
from warehouse.services import read_transaction, today, write_transaction
from warehouse.services.access import is_admin, links_visible, regulator_prefix, require_writer
from warehouse.services.errors import Conflict, FieldError, NotFound, ValidationFailed
from warehouse.services.validation import build

CHANGEABLE = frozenset({"share", "declared_control", "valid_from", "valid_to"})
"""Fields a new version may change; parent and child never change."""


class ControlQuery(StrEnum):
    """The two questions the control endpoint answers."""

    WHOLLY_OWNED = "wholly_owned"
    CONTROLLED = "controlled"


@dataclass(frozen=True, slots=True)
class NewLink:
    """A parent's direct holding in a child."""

    parent_id: uuid.UUID
    child_id: uuid.UUID
    share: Decimal
    valid_from: date
    valid_to: date | None = None
    declared_control: bool = False


@dataclass(frozen=True, slots=True)
class ControlAnswer:
    """Whether ``parent`` holds ``child`` as asked on ``on``, and the chain proving it."""

    child: Organisation
    parent: Organisation
    on: date
    kind: ControlQuery
    chain: Chain | None
    names: Mapping[str, str]

    @property
    def holds(self) -> bool:
        """Whether a proving chain was found."""
        return self.chain is not None


def create(session: Session, principal: Principal, new: NewLink) -> StoredLink:
    """Record a holding.

    Raises:
        ValidationFailed: Unknown parent or child, or an invalid share or period.
        PermissionDenied: Unless the caller is an admin or the parent's org_manager.
        Conflict: ``ownership.cycle`` or ``ownership.conflict``.
    """
    with write_transaction(session):
        _serialise_graph_writes(session)
        _require_organisations(session, new.parent_id, new.child_id)
        require_writer(principal, new.parent_id, "ownership link")
        link = build(
            "ownership link",
            lambda: OwnershipLink(
                parent_id=str(new.parent_id),
                child_id=str(new.child_id),
                share=new.share,
                valid_from=new.valid_from,
                valid_to=new.valid_to,
                declared_control=new.declared_control,
            ),
        )
        _check_graph(session, link, replacing=None)
        link_id = str(new_id())
        stored = StoredLink(id=link_id, link_id=link_id, supersedes=None, link=link)
        rows.insert(session, stored)
    return stored


def supersede(
    session: Session, principal: Principal, link_id: uuid.UUID, changes: Mapping[str, Any]
) -> StoredLink:
    """Add a version to a link: end it (``valid_to``) or correct its share or dates.

    Raises:
        NotFound: If the link does not exist or the caller may not see it.
        PermissionDenied: Unless the caller is an admin or the parent's org_manager.
        ValidationFailed, Conflict: As for :func:`create`.
    """
    with write_transaction(session):
        _serialise_graph_writes(session)
        versions = rows.chain(session, link_id, links_visible(principal))
        if not versions:
            raise NotFound("ownership link", link_id)
        latest = versions[-1]
        require_writer(principal, latest.link.parent_id, "ownership link")
        values = {k: v for k, v in changes.items() if k in CHANGEABLE}
        link = build("ownership link", lambda: dataclasses.replace(latest.link, **values))
        _check_graph(session, link, replacing=latest.id)
        stored = StoredLink(str(new_id()), latest.link_id, latest.id, link)
        rows.insert(session, stored)
    return stored


def history(session: Session, principal: Principal, link_id: uuid.UUID) -> list[StoredLink]:
    """Return every version of a link the caller may see, oldest first.

    Raises:
        NotFound: If there is none, or the caller may not see it.
    """
    with read_transaction(session):
        versions = rows.chain(session, link_id, links_visible(principal))
    if not versions:
        raise NotFound("ownership link", link_id)
    return versions


def list_page(
    session: Session,
    principal: Principal,
    page: PageRequest,
    *,
    parent_id: uuid.UUID | None = None,
    child_id: uuid.UUID | None = None,
) -> Page[StoredLink]:
    """One page of the links the caller may see, each as its latest version."""
    with read_transaction(session):
        return rows.latest_page(
            session,
            page,
            visible=links_visible(principal),
            parent_id=parent_id,
            child_id=child_id,
        )


def control(
    session: Session,
    principal: Principal,
    child_id: uuid.UUID,
    parent_id: uuid.UUID,
    on: date | None,
    kind: ControlQuery,
) -> ControlAnswer:
    """Answer whether ``parent_id`` wholly owns or controls ``child_id`` on ``on``.

    Raises:
        NotFound: If either organisation is unknown, or the caller is neither of them, an
            admin, nor a regulator of either (group structures are private).
    """
    day = on or today()
    with read_transaction(session):
        orgs = org_rows.get_many(session, [child_id, parent_id])
        if len(orgs) < 2 or not _may_ask(principal, orgs.values()):
            raise NotFound("organisation pair", f"{parent_id} -> {child_id}")
        graph = OwnershipGraph.of(s.link for s in rows.upward(session, [child_id]))
        if kind is ControlQuery.WHOLLY_OWNED:
            chain = graph.wholly_owned_chain(str(child_id), str(parent_id), day)
        else:
            chain = graph.control_chain(str(child_id), str(parent_id), day)
        names = _names(session, chain or ())
    return ControlAnswer(orgs[str(child_id)], orgs[str(parent_id)], day, kind, chain, names)


def _may_ask(principal: Principal, orgs: Any) -> bool:
    if is_admin(principal):
        return True
    prefix = regulator_prefix(principal)
    own = str(principal.organisation_id)
    return any(o.id == own or (prefix is not None and o.within(prefix)) for o in orgs)


def _names(session: Session, chain: Chain) -> dict[str, str]:
    ids = {link.parent_id for link in chain} | {link.child_id for link in chain}
    return {org_id: org.name for org_id, org in org_rows.get_many(session, ids).items()}


def _serialise_graph_writes(session: Session) -> None:
    # Two concurrent writes could each pass the cycle check and together close a cycle.
    # SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL needs a lock.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('ownership_links'))"))


def _require_organisations(session: Session, parent_id: uuid.UUID, child_id: uuid.UUID) -> None:
    found = org_rows.get_many(session, [parent_id, child_id])
    errors = [
        FieldError(field, "reference.unknown", f"Expected an existing organisation, got {key}.")
        for field, key in (("parent_id", parent_id), ("child_id", child_id))
        if str(key) not in found
    ]
    if errors:
        raise ValidationFailed("ownership link", errors)


def _check_graph(session: Session, link: OwnershipLink, replacing: str | None) -> None:
    child = uuid.UUID(link.child_id)
    nearby = {s.id: s.link for s in [*rows.into(session, child), *rows.downward(session, [child])]}
    nearby.pop(replacing or "", None)
    try:
        OwnershipGraph.of(nearby.values()).with_link(link)
    except OwnershipCycleError as error:
        raise _cycle_conflict(session, error) from None
    except OwnershipConflictError as error:
        raise Conflict(error.code, error.detail) from None


def _cycle_conflict(session: Session, error: OwnershipCycleError) -> Conflict:
    names = _names(session, error.cycle)
    path = [error.cycle[0].parent_id, *(step.child_id for step in error.cycle)]
    described = " -> ".join(names.get(org_id, org_id) for org_id in path)
    return Conflict(
        error.code,
        f"Expected no ownership cycle, got {described} on {error.since.isoformat()}.",
        {"cycle": [{"id": org_id, "name": names.get(org_id)} for org_id in path]},
    )
