"""Licences and filings: create, supersede (a new version), read as of a date, history, list.

Versions are never updated: a change adds a version that takes effect from its
``effective_from``, and the earlier versions keep answering for earlier dates.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from warehouse.domain.licences import Licence, LicenceKind, LicenceRegister, ScopeEntry
from warehouse.domain.roles import Principal
from warehouse.errors import VersionChainError
from warehouse.ids import new_id
from warehouse.repository import licences as rows
from warehouse.repository import organisations as org_rows
from warehouse.repository.licences import StoredLicence
from warehouse.repository.pages import Page, PageRequest
from warehouse.services import read_transaction, today, write_transaction
from warehouse.services.access import require_writer, unknown_warehouses
from warehouse.services.errors import FieldError, NotFound, ValidationFailed
from warehouse.services.validation import build

CHANGEABLE = frozenset({"number", "scope", "warehouse_ids", "valid_from", "valid_to"})
"""Fields a new version may change; the holder and kind never change."""


@dataclass(frozen=True, slots=True)
class NewLicence:
    """The first version of a licence or filing."""

    holder_id: uuid.UUID
    kind: LicenceKind
    number: str
    valid_from: date
    valid_to: date | None = None
    scope: tuple[ScopeEntry, ...] = ()
    warehouse_ids: tuple[uuid.UUID, ...] = ()
    effective_from: date | None = None


def create(session: Session, principal: Principal, new: NewLicence) -> StoredLicence:
    """Store the first version of a licence held by ``new.holder_id``.

    Raises:
        ValidationFailed: Unknown holder, a warehouse the holder does not operate, or an
            invalid period.
        PermissionDenied: If the caller may not write the holder's records.
    """
    with write_transaction(session):
        if org_rows.get(session, new.holder_id) is None:
            raise ValidationFailed(
                "licence", [_unknown("holder_id", "organisation", new.holder_id)]
            )
        require_writer(principal, new.holder_id, "licence")
        _check_warehouses(session, principal, new.warehouse_ids)
        version_id = new_id()
        version = build(
            "licence",
            lambda: Licence(
                id=str(version_id),
                holder_id=str(new.holder_id),
                kind=new.kind,
                number=new.number.strip(),
                valid_from=new.valid_from,
                valid_to=new.valid_to,
                scope=frozenset(new.scope),
                warehouse_ids=frozenset(str(w) for w in new.warehouse_ids),
                effective_from=new.effective_from or new.valid_from,
            ),
        )
        rows.insert(session, version_id, version)
    return StoredLicence(str(version_id), version)


def supersede(
    session: Session,
    principal: Principal,
    licence_id: uuid.UUID,
    effective_from: date,
    changes: Mapping[str, Any],
) -> StoredLicence:
    """Add a version to a licence, in effect from ``effective_from``.

    Args:
        changes: New values of :data:`CHANGEABLE` fields; others are copied.

    Raises:
        NotFound: If the licence does not exist.
        PermissionDenied: If the caller may not write the holder's records.
        ValidationFailed: If ``effective_from`` is not after the latest version's, or a
            change is invalid.
    """
    with write_transaction(session):
        latest = _latest(session, licence_id)
        holder_id = uuid.UUID(latest.holder_id)
        require_writer(principal, holder_id, "licence")
        values = _changes(changes)
        if "warehouse_ids" in changes:
            _check_warehouses(session, principal, changes["warehouse_ids"])
        version_id = new_id()
        version = build(
            "licence",
            lambda: _next_version(latest, str(version_id), effective_from, values),
        )
        rows.insert(session, licence_id, version)
    return StoredLicence(str(licence_id), version)


def as_of(session: Session, licence_id: uuid.UUID, on: date | None = None) -> StoredLicence:
    """Return the version of a licence in effect on ``on`` (default: today in China).

    Raises:
        NotFound: If the licence does not exist or no version is in effect yet on ``on``.
    """
    day = on or today()
    versions = history(session, licence_id)
    register = LicenceRegister.of(stored.version for stored in versions)
    in_effect = register.as_of(day)
    if not in_effect:
        raise NotFound(f"version of licence in effect on {day.isoformat()}", licence_id)
    return StoredLicence(str(licence_id), in_effect[0])


def history(session: Session, licence_id: uuid.UUID) -> list[StoredLicence]:
    """Return every version of a licence, oldest first.

    Raises:
        NotFound: If the licence does not exist.
    """
    with read_transaction(session):
        versions = rows.chain(session, licence_id)
    if not versions:
        raise NotFound("licence", licence_id)
    return versions


def version(session: Session, licence_id: uuid.UUID, version_id: uuid.UUID) -> StoredLicence:
    """Return one version of a licence.

    Raises:
        NotFound: If there is no such version of that licence.
    """
    with read_transaction(session):
        found = rows.get_version(session, version_id)
    if found is None or found.licence_id != str(licence_id):
        raise NotFound("licence version", version_id)
    return found


def list_page(
    session: Session,
    page: PageRequest,
    *,
    holder_id: uuid.UUID | None = None,
    kind: LicenceKind | None = None,
) -> Page[StoredLicence]:
    """One page of licences, each shown as its latest version."""
    with read_transaction(session):
        return rows.latest_page(session, page, holder_id=holder_id, kind=kind)


def _latest(session: Session, licence_id: uuid.UUID) -> Licence:
    versions = [stored.version for stored in rows.chain(session, licence_id)]
    if not versions:
        raise NotFound("licence", licence_id)
    superseded = {v.supersedes for v in versions}
    return next(v for v in versions if v.id not in superseded)


def _changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in changes.items() if k in CHANGEABLE}
    if "scope" in values:
        values["scope"] = frozenset(values["scope"])
    if "warehouse_ids" in values:
        values["warehouse_ids"] = frozenset(str(w) for w in values["warehouse_ids"])
    if "number" in values:
        values["number"] = values["number"].strip()
    return values


def _next_version(
    latest: Licence, version_id: str, effective_from: date, values: Mapping[str, Any]
) -> Licence:
    try:
        return latest.supersede(version_id=version_id, effective_from=effective_from, **values)
    except VersionChainError as error:
        raise ValidationFailed(
            "licence", [FieldError("effective_from", error.code, error.detail)]
        ) from None


def _check_warehouses(
    session: Session, principal: Principal, warehouse_ids: Iterable[uuid.UUID]
) -> None:
    unknown = unknown_warehouses(session, principal, warehouse_ids, today())
    if unknown:
        raise ValidationFailed(
            "licence", [_unknown("warehouse_ids", "warehouse", w) for w in unknown]
        )


def _unknown(field: str, kind: str, key: object) -> FieldError:
    return FieldError(field, "reference.unknown", f"Expected an existing {kind}, got {key}.")
