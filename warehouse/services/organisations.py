"""Organisations: create (admins only), read and list; the register is public."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from warehouse.domain.codes import DivisionCode, UnifiedSocialCreditCode
from warehouse.domain.organisations import Organisation, OrgRole
from warehouse.domain.roles import Principal
from warehouse.ids import new_id
from warehouse.repository import organisations as rows
from warehouse.repository.pages import Page, PageRequest
from warehouse.services import read_transaction, write_transaction
from warehouse.services.access import is_admin
from warehouse.services.errors import Conflict, NotFound, PermissionDenied
from warehouse.services.validation import Checker, build


@dataclass(frozen=True, slots=True)
class NewOrganisation:
    """What a caller sends to register an organisation."""

    name: str
    credit_code: str
    jurisdiction: str
    roles: tuple[OrgRole, ...] = ()


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
        insert_unique(session, organisation)
    return organisation


def insert_unique(session: Session, organisation: Organisation) -> None:
    """Insert inside the caller's transaction, refusing a credit code already registered."""
    existing = rows.find_by_credit_code(session, organisation.credit_code.value)
    if existing is not None:
        raise Conflict(
            "organisation.duplicate_credit_code",
            f"Expected a new credit code, got {organisation.credit_code} of {existing.id}.",
            {"existing_id": existing.id},
        )
    rows.insert(session, organisation)


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
