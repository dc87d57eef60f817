"""Versioning shared by organisations, warehouses, locations, agreements and devices.

The record's own table holds its current state (the latest version) under an id that never
changes; ``master_data_versions`` holds every version, the first included. A new version
supersedes the latest one, from an ``effective_from`` strictly after the latest's, and "as of"
reads pick the last version started by the date. Services call these helpers inside their own
transaction, after checking who may read and write the record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from warehouse.domain.roles import Principal
from warehouse.repository import versions as rows
from warehouse.repository.versions import Version
from warehouse.services import read_transaction, today
from warehouse.services.errors import Conflict, FieldError, NotFound, ValidationFailed

T = TypeVar("T")

LABELS: Mapping[str, str] = {
    "organisation": "organisation",
    "warehouse": "warehouse",
    "location": "location",
    "entrustment_agreement": "entrustment agreement",
    "device": "device",
}


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    """A record as one version shows it, with that version's metadata.

    ``version`` is None only for a row written around the services, which has no version yet
    (its first is recorded when it is first superseded).
    """

    value: T
    version: Version | None


def latest(
    session: Session, entity: str, entity_ids: Iterable[uuid.UUID | str]
) -> dict[str, Version]:
    """The latest version of each record (the one its table row shows), by string id."""
    return {key: chain[-1] for key, chain in rows.chains(session, entity, entity_ids).items()}


def current(session: Session, entity: str, value: T, entity_id: uuid.UUID | str) -> Versioned[T]:
    """The current row of a record with its latest version's metadata."""
    chain = rows.chain(session, entity, entity_id)
    return Versioned(value, chain[-1] if chain else None)


def history(
    session: Session,
    entity: str,
    entity_id: uuid.UUID | str,
    current_value: T,
    decode: Callable[[Version], T],
) -> list[Versioned[T]]:
    """Every version of a record, oldest first."""
    chain = rows.chain(session, entity, entity_id)
    if not chain:
        return [Versioned(current_value, None)]
    return [Versioned(decode(v), v) for v in chain]


def as_of(
    session: Session,
    entity: str,
    entity_id: uuid.UUID | str,
    on: date,
    decode: Callable[[Version], T],
) -> Versioned[T]:
    """The version in effect on ``on``.

    Raises:
        NotFound: If no version of the record has started by ``on``.
    """
    found = rows.in_effect(rows.chain(session, entity, entity_id), on)
    if found is None:
        raise NotFound(f"version of {LABELS[entity]} in effect on {on.isoformat()}", entity_id)
    return Versioned(decode(found), found)


def one(
    session: Session,
    entity: str,
    entity_id: uuid.UUID | str,
    version_id: uuid.UUID,
    decode: Callable[[Version], T],
) -> Versioned[T]:
    """One version of a record.

    Raises:
        NotFound: If ``version_id`` is not a version of that record.
    """
    found = rows.get(session, version_id)
    if found is None or found.entity != entity or found.entity_id != str(entity_id):
        raise NotFound(f"{LABELS[entity]} version", version_id)
    return Versioned(decode(found), found)


def latest_for_change(
    session: Session,
    entity: str,
    entity_id: uuid.UUID | str,
    current_data: Mapping[str, Any],
    effective_from: date,
    expected: uuid.UUID | None,
) -> Version:
    """Return the version a change will supersede, refusing a change that cannot follow it.

    Args:
        current_data: The record's current row, recorded as its first version if it has none.
        expected: The version the caller means to supersede, if it named one.

    Raises:
        Conflict: ``version.not_latest`` if ``expected`` is an earlier version.
        ValidationFailed: If ``expected`` is no version of the record, or ``effective_from``
            is not after the latest version's.
    """
    chain = rows.chain(session, entity, entity_id)
    if not chain:
        first_day = rows.created_on(session, entity, entity_id) or today()
        first = rows.append(
            session, entity, entity_id, current_data, effective_from=first_day, recorded_by=None
        )
        chain = [first]
    last = chain[-1]
    label = LABELS[entity]
    if expected is not None and str(expected) != last.id:
        if str(expected) not in {v.id for v in chain}:
            raise ValidationFailed(
                label,
                [
                    FieldError(
                        "supersedes",
                        "reference.unknown",
                        f"Expected a version of {label} {entity_id}, got {expected}.",
                    )
                ],
            )
        raise Conflict(
            "version.not_latest",
            f"Expected to supersede the latest version {last.id} (version {last.number}) of "
            f"{label} {entity_id}, got {expected}.",
            {"latest_version_id": last.id, "latest_version": last.number},
        )
    if effective_from <= last.effective_from:
        raise ValidationFailed(
            label,
            [
                FieldError(
                    "effective_from",
                    "version.chain",
                    f"Expected effective_from after {last.effective_from.isoformat()}, "
                    f"got {effective_from.isoformat()}.",
                )
            ],
        )
    return last


def append_next(
    session: Session,
    principal: Principal,
    previous: Version,
    data: Mapping[str, Any],
    effective_from: date,
) -> Version:
    """Append the version after ``previous``, recorded by the caller's token."""
    return rows.append(
        session,
        previous.entity,
        previous.entity_id,
        data,
        effective_from=effective_from,
        recorded_by=principal.token_id,
        previous=previous,
    )


def supersede(
    session: Session,
    principal: Principal,
    entity: str,
    entity_id: uuid.UUID | str,
    current_value: T,
    *,
    effective_from: date,
    supersedes: uuid.UUID | None,
    changes: Mapping[str, Any],
    allowed: Iterable[str],
    apply: Callable[[dict[str, Any]], T],
    snapshot: Callable[[T], Mapping[str, Any]],
    update: Callable[[Session, T], None],
) -> Versioned[T]:
    """Add the version after the latest one and make it the record's current row.

    Call inside the service's write transaction, after its access checks. In order: refuse a
    change that cannot follow the latest version (:func:`latest_for_change`), build the
    changed record with ``apply`` from the changes to ``allowed`` fields (it validates and
    raises as the resource needs), append its ``snapshot`` as the next version, and write it
    with ``update``.
    """
    previous = latest_for_change(
        session, entity, entity_id, snapshot(current_value), effective_from, supersedes
    )
    new_value = apply(changed(changes, allowed))
    version = append_next(session, principal, previous, snapshot(new_value), effective_from)
    update(session, new_value)
    return Versioned(new_value, version)


def changed(changes: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """The changes to fields a new version may change; others are ignored by the schemas."""
    keep = set(allowed)
    return {key: value for key, value in changes.items() if key in keep}


def latest_of(
    session: Session, entity: str, entity_ids: Iterable[uuid.UUID | str]
) -> dict[str, Version]:
    """:func:`latest` in its own read transaction, for list pages."""
    with read_transaction(session):
        return latest(session, entity, entity_ids)
