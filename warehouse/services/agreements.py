"""Entrustment agreements between an owner of goods (client) and a 3PL (provider)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from warehouse.domain.entrustment import EntrustmentAgreement, LogisticsService
from warehouse.domain.licences import DeviceClass
from warehouse.domain.roles import Principal, Role
from warehouse.ids import new_id
from warehouse.repository import agreements as rows
from warehouse.repository import organisations as org_rows
from warehouse.repository.pages import Page, PageRequest
from warehouse.services import read_transaction, today, write_transaction
from warehouse.services.access import agreements_visible, is_admin, unknown_warehouses
from warehouse.services.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from warehouse.services.validation import build


@dataclass(frozen=True, slots=True)
class NewAgreement:
    """A signed quality agreement to record."""

    client_id: uuid.UUID
    provider_id: uuid.UUID
    valid_from: date
    valid_to: date | None = None
    classes: tuple[DeviceClass, ...] = ()
    services: tuple[LogisticsService, ...] = ()
    warehouse_ids: tuple[uuid.UUID, ...] = ()
    number: str | None = None


def create(session: Session, principal: Principal, new: NewAgreement) -> EntrustmentAgreement:
    """Record an agreement; an org_manager may record only those its organisation signed.

    Raises:
        ValidationFailed: Unknown party or warehouse, or an invalid period.
        PermissionDenied: If the caller is not an admin or a party's org_manager.
    """
    with write_transaction(session):
        _check_references(session, principal, new)
        _require_party(principal, new)
        agreement = build(
            "entrustment agreement",
            lambda: EntrustmentAgreement(
                id=str(new_id()),
                client_id=str(new.client_id),
                provider_id=str(new.provider_id),
                valid_from=new.valid_from,
                valid_to=new.valid_to,
                classes=frozenset(new.classes),
                warehouse_ids=frozenset(str(w) for w in new.warehouse_ids),
                services=frozenset(new.services),
                number=new.number,
            ),
        )
        rows.insert(session, agreement)
    return agreement


def get(session: Session, principal: Principal, agreement_id: uuid.UUID) -> EntrustmentAgreement:
    """Return an agreement the caller may see.

    Raises:
        NotFound: If it does not exist or the caller is neither a party, a regulator of
            either party, nor an admin.
    """
    with read_transaction(session):
        agreement = rows.get(session, agreement_id, agreements_visible(principal))
    if agreement is None:
        raise NotFound("entrustment agreement", agreement_id)
    return agreement


def list_page(
    session: Session,
    principal: Principal,
    page: PageRequest,
    *,
    client_id: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
) -> Page[EntrustmentAgreement]:
    """One page of the agreements the caller may see."""
    with read_transaction(session):
        return rows.list_page(
            session,
            page,
            visible=agreements_visible(principal),
            client_id=client_id,
            provider_id=provider_id,
        )


def _require_party(principal: Principal, new: NewAgreement) -> None:
    if is_admin(principal):
        return
    parties = {new.client_id, new.provider_id}
    if Role.ORG_MANAGER in principal.roles and principal.organisation_id in parties:
        return
    raise PermissionDenied(
        f"Expected an agreement to which your organisation {principal.organisation_id} is "
        f"a party, got one between {new.client_id} and {new.provider_id}."
    )


def _check_references(session: Session, principal: Principal, new: NewAgreement) -> None:
    orgs = org_rows.get_many(session, [new.client_id, new.provider_id])
    errors = [
        FieldError(field, "reference.unknown", f"Expected an existing organisation, got {key}.")
        for field, key in (("client_id", new.client_id), ("provider_id", new.provider_id))
        if str(key) not in orgs
    ]
    errors += [
        FieldError(
            "warehouse_ids", "reference.unknown", f"Expected an existing warehouse, got {w}."
        )
        for w in unknown_warehouses(session, principal, new.warehouse_ids, today())
    ]
    if errors:
        raise ValidationFailed("entrustment agreement", errors)
