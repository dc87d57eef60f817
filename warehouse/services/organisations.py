"""Organisations: create (admins only), supersede, read (as of a date) and list; public.

The credit code never changes: name, roles and jurisdiction change by superseding, which
keeps every earlier version readable (:mod:`warehouse.services.versions`).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from warehouse.domain.codes import DivisionCode, UnifiedSocialCreditCode
from warehouse.domain.organisations import Organisation, OrgRole
from warehouse.domain.roles import Principal
from warehouse.ids import new_id
from warehouse.repository import organisations as rows
from warehouse.repository.pages import Page, PageRequest
from warehouse.services import read_transaction, today, write_transaction
from warehouse.services import versions as versioning
from warehouse.services.access import is_admin, require_writer
from warehouse.services.errors import Conflict, NotFound, PermissionDenied
from warehouse.services.validation import Checker, build
from warehouse.services.versions import Versioned

ENTITY = "organisation"
CHANGEABLE = frozenset({"name", "roles", "jurisdiction"})
"""Fields a new version may change; the credit code never changes."""


@dataclass(frozen=True, slots=True)
class NewOrganisation:
    """What a caller sends to register an organisation."""

    name: str
    credit_code: str
    jurisdiction: str
    roles: tuple[OrgRole, ...] = ()
    effective_from: date | None = None
    """First day of the first version; default today (China)."""


def validate(new: NewOrganisation) -> Organisation:
    """Return the organisation to store, or raise ValidationFailed naming each bad field."""
    check = Checker("organisation")
    code = check.parse("credit_code", UnifiedSocialCreditCode.parse, new.credit_code)
    division = check.parse("jurisdiction", DivisionCode.parse, new.jurisdiction)
    check.done()
    assert code is not None  # done() raised otherwise
    assert division is not None
    return build(
        "organisation",
        lambda: Organisation(str(new_id()), code, new.name.strip(), division, frozenset(new.roles)),
    )


def create(session: Session, principal: Principal, new: NewOrganisation) -> Organisation:
    """Register an organisation; its credit code must be new.

    Raises:
        PermissionDenied: Unless the caller is an admin.
        ValidationFailed: On an invalid credit code, jurisdiction or name.
        Conflict: If the credit code is already registered.
    """
    with write_transaction(session):
        if not is_admin(principal):
            raise PermissionDenied("Expected an admin to register organisations, got another.")
        organisation = validate(new)
        insert_unique(
            session,
            organisation,
            effective_from=new.effective_from or today(),
            recorded_by=principal.token_id,
        )
    return organisation


def insert_unique(
    session: Session,
    organisation: Organisation,
    *,
    effective_from: date,
    recorded_by: uuid.UUID | None = None,
) -> None:
    """Insert inside the caller's transaction, refusing a credit code already registered."""
    existing = rows.find_by_credit_code(session, organisation.credit_code.value)
    if existing is not None:
        raise Conflict(
            "organisation.duplicate_credit_code",
            f"Expected a new credit code, got {organisation.credit_code} of {existing.id}.",
            {"existing_id": existing.id},
        )
    rows.insert(session, organisation, effective_from=effective_from, recorded_by=recorded_by)


def supersede(
    session: Session,
    principal: Principal,
    org_id: uuid.UUID,
    effective_from: date,
    changes: Mapping[str, Any],
    supersedes: uuid.UUID | None = None,
) -> Versioned[Organisation]:
    """Add a version (new name, roles or jurisdiction) in effect from ``effective_from``.

    Args:
        changes: New values of :data:`CHANGEABLE` fields; others are copied.
        supersedes: The version the caller means to replace, if it names one.

    Raises:
        NotFound: If the organisation does not exist.
        PermissionDenied: Unless the caller is an admin or the organisation's org_manager.
        Conflict: ``version.not_latest`` if ``supersedes`` is not the latest version.
        ValidationFailed: An invalid jurisdiction or name, or ``effective_from`` not after
            the latest version's.
    """
    with write_transaction(session):
        organisation = rows.get(session, org_id)
        if organisation is None:
            raise NotFound("organisation", org_id)
        require_writer(principal, org_id, "organisation")
        return versioning.supersede(
            session,
            principal,
            ENTITY,
            org_id,
            organisation,
            effective_from=effective_from,
            supersedes=supersedes,
            changes=changes,
            allowed=CHANGEABLE,
            apply=lambda values: _changed(organisation, values),
            snapshot=rows.values,
            update=rows.update,
        )


def _changed(organisation: Organisation, values: dict[str, Any]) -> Organisation:
    if "jurisdiction" in values:
        check = Checker("organisation")
        values["jurisdiction"] = check.parse(
            "jurisdiction", DivisionCode.parse, values["jurisdiction"]
        )
        check.done()
    if "roles" in values:
        values["roles"] = frozenset(values["roles"])
    if "name" in values:
        values["name"] = values["name"].strip()
    return build("organisation", lambda: dataclasses.replace(organisation, **values))


def get_versioned(session: Session, org_id: uuid.UUID) -> Versioned[Organisation]:
    """The organisation as it stands (its latest version), with that version.

    Raises:
        NotFound: If there is none with ``org_id``.
    """
    with read_transaction(session):
        return versioning.current(session, ENTITY, _get(session, org_id), org_id)


def as_of(session: Session, org_id: uuid.UUID, on: date) -> Versioned[Organisation]:
    """The version of an organisation in effect on ``on``.

    Raises:
        NotFound: If the organisation does not exist or had no version yet on ``on``.
    """
    with read_transaction(session):
        _get(session, org_id)
        return versioning.as_of(session, ENTITY, org_id, on, rows.from_version)


def history(session: Session, org_id: uuid.UUID) -> list[Versioned[Organisation]]:
    """Every version of an organisation, oldest first.

    Raises:
        NotFound: If the organisation does not exist.
    """
    with read_transaction(session):
        current = _get(session, org_id)
        return versioning.history(session, ENTITY, org_id, current, rows.from_version)


def version(session: Session, org_id: uuid.UUID, version_id: uuid.UUID) -> Versioned[Organisation]:
    """One version of an organisation.

    Raises:
        NotFound: If there is no such version of that organisation.
    """
    with read_transaction(session):
        return versioning.one(session, ENTITY, org_id, version_id, rows.from_version)


def _get(session: Session, org_id: uuid.UUID) -> Organisation:
    organisation = rows.get(session, org_id)
    if organisation is None:
        raise NotFound("organisation", org_id)
    return organisation


def get(session: Session, org_id: uuid.UUID) -> Organisation:
    """Return an organisation (public register data).

    Raises:
        NotFound: If there is none with ``org_id``.
    """
    with read_transaction(session):
        organisation = rows.get(session, org_id)
    if organisation is None:
        raise NotFound("organisation", org_id)
    return organisation


def list_page(
    session: Session,
    page: PageRequest,
    *,
    jurisdiction_prefix: str | None = None,
    role: OrgRole | None = None,
    credit_code: str | None = None,
) -> Page[Organisation]:
    """One page of organisations; ``jurisdiction_prefix`` is 2, 4 or 6 digits."""
    prefix = _prefix(jurisdiction_prefix)
    with read_transaction(session):
        return rows.list_page(
            session, page, jurisdiction_prefix=prefix, role=role, credit_code=credit_code
        )


def _prefix(value: str | None) -> str | None:
    if value is None:
        return None
    check = Checker("list")
    prefix = check.parse("jurisdiction_prefix", DivisionCode.parse_prefix, value)
    check.done()
    return prefix
