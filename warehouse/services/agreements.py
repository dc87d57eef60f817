"""Entrustment agreements between an owner of goods (client) and a 3PL (provider).

An agreement changes by superseding (:mod:`warehouse.services.versions`): a renewal, a change
of scope, or an early termination (a version with an earlier ``valid_to``). The parties
never change. The custody check reads the version in effect on its date.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from warehouse.domain.entrustment import EntrustmentAgreement, LogisticsService
from warehouse.domain.licences import DeviceClass
from warehouse.domain.roles import Principal, Role
from warehouse.ids import new_id
from warehouse.repository import agreements as rows
from warehouse.repository import organisations as org_rows
from warehouse.repository.pages import Page, PageRequest
from warehouse.services import read_transaction, today, write_transaction
from warehouse.services import versions as versioning
from warehouse.services.access import agreements_visible, is_admin, unknown_warehouses
from warehouse.services.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from warehouse.services.validation import build
from warehouse.services.versions import Versioned

ENTITY = "entrustment_agreement"
CHANGEABLE = frozenset({"number", "classes", "services", "warehouse_ids", "valid_from", "valid_to"})
"""Fields a new version may change; the client and provider never change."""


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
    effective_from: date | None = None
    """First day of the first version; default ``valid_from``."""


def create(session: Session, principal: Principal, new: NewAgreement) -> EntrustmentAgreement:
    """Record an agreement; an org_manager may record only those its organisation signed.

    Raises:
        ValidationFailed: Unknown party or warehouse, or an invalid period.
        PermissionDenied: If the caller is not an admin or a party's org_manager.
    """
    with write_transaction(session):
        _check_references(session, principal, new)
        _require_party(principal, new.client_id, new.provider_id)
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
        rows.insert(
            session,
            agreement,
            effective_from=new.effective_from,
            recorded_by=principal.token_id,
        )
    return agreement


def supersede(
    session: Session,
    principal: Principal,
    agreement_id: uuid.UUID,
    effective_from: date,
    changes: Mapping[str, Any],
    supersedes: uuid.UUID | None = None,
) -> Versioned[EntrustmentAgreement]:
    """Add a version in effect from ``effective_from``: renewal, new scope, early end.

    Args:
        changes: New values of :data:`CHANGEABLE` fields; others are copied.
        supersedes: The version the caller means to replace, if it names one.

    Raises:
        NotFound: If the caller may not see the agreement.
        PermissionDenied: If the caller sees it but is not an admin or a party's org_manager.
        Conflict: ``version.not_latest`` if ``supersedes`` is not the latest version.
        ValidationFailed: An unknown warehouse, an invalid period, or ``effective_from`` not
            after the latest version's.
    """
    with write_transaction(session):
        agreement = _visible(session, principal, agreement_id)
        _require_party(principal, uuid.UUID(agreement.client_id), uuid.UUID(agreement.provider_id))
        return versioning.supersede(
            session,
            principal,
            ENTITY,
            agreement_id,
            agreement,
            effective_from=effective_from,
            supersedes=supersedes,
            changes=changes,
            allowed=CHANGEABLE,
            apply=lambda values: _changed(session, principal, agreement, values),
            snapshot=rows.snapshot,
            update=rows.update,
        )


def _changed(
    session: Session, principal: Principal, agreement: EntrustmentAgreement, values: dict[str, Any]
) -> EntrustmentAgreement:
    if "warehouse_ids" in values:
        _check_warehouses(session, principal, values["warehouse_ids"])
        values["warehouse_ids"] = frozenset(str(w) for w in values["warehouse_ids"])
    for set_field in ("classes", "services"):
        if set_field in values:
            values[set_field] = frozenset(values[set_field])
    return build("entrustment agreement", lambda: dataclasses.replace(agreement, **values))


def get_versioned(
    session: Session, principal: Principal, agreement_id: uuid.UUID
) -> Versioned[EntrustmentAgreement]:
    """A visible agreement as it stands (its latest version), with that version.

    Raises:
        NotFound: If it does not exist or the caller may not see it.
    """
    with read_transaction(session):
        agreement = _visible(session, principal, agreement_id)
        return versioning.current(session, ENTITY, agreement, agreement_id)


def as_of(
    session: Session, principal: Principal, agreement_id: uuid.UUID, on: date
) -> Versioned[EntrustmentAgreement]:
    """The version of a visible agreement in effect on ``on``.

    Raises:
        NotFound: If the caller may not see it, or no version had started by ``on``.
    """
    with read_transaction(session):
        _visible(session, principal, agreement_id)
        return versioning.as_of(session, ENTITY, agreement_id, on, rows.from_version)


def history(
    session: Session, principal: Principal, agreement_id: uuid.UUID
) -> list[Versioned[EntrustmentAgreement]]:
    """Every version of a visible agreement, oldest first.

    Raises:
        NotFound: If the caller may not see it.
    """
    with read_transaction(session):
        agreement = _visible(session, principal, agreement_id)
        return versioning.history(session, ENTITY, agreement_id, agreement, rows.from_version)


def version(
    session: Session, principal: Principal, agreement_id: uuid.UUID, version_id: uuid.UUID
) -> Versioned[EntrustmentAgreement]:
    """One version of a visible agreement.

    Raises:
        NotFound: If the caller may not see it, or it has no such version.
    """
    with read_transaction(session):
        _visible(session, principal, agreement_id)
        return versioning.one(session, ENTITY, agreement_id, version_id, rows.from_version)


def _visible(
    session: Session, principal: Principal, agreement_id: uuid.UUID
) -> EntrustmentAgreement:
    agreement = rows.get(session, agreement_id, agreements_visible(principal))
    if agreement is None:
        raise NotFound("entrustment agreement", agreement_id)
    return agreement


def get(session: Session, principal: Principal, agreement_id: uuid.UUID) -> EntrustmentAgreement:
    """Return an agreement the caller may see.

    Raises:
        NotFound: If it does not exist or the caller is neither a party, a regulator of
            either party, nor an admin.
    """
    with read_transaction(session):
        return _visible(session, principal, agreement_id)


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


def _require_party(principal: Principal, client_id: uuid.UUID, provider_id: uuid.UUID) -> None:
    if is_admin(principal):
        return
    parties = {client_id, provider_id}
    if Role.ORG_MANAGER in principal.roles and principal.organisation_id in parties:
        return
    raise PermissionDenied(
        f"Expected an agreement to which your organisation {principal.organisation_id} is "
        f"a party, got one between {client_id} and {provider_id}."
    )


def _check_warehouses(
    session: Session, principal: Principal, warehouse_ids: Iterable[uuid.UUID]
) -> None:
    unknown = unknown_warehouses(session, principal, warehouse_ids, today())
    if unknown:
        raise ValidationFailed(
            "entrustment agreement",
            [
                FieldError(
                    "warehouse_ids",
                    "reference.unknown",
                    f"Expected an existing warehouse, got {w}.",
                )
                for w in unknown
            ],
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
