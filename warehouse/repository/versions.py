"""Versions of organisations, warehouses, locations, agreements and devices.

Each record keeps its current state in its own table under a stable id; every version, the
first included, is appended to ``master_data_versions`` as a JSON snapshot of the record's
columns (docs/decisions/0004-master-data-versions.md). Rows are never updated or deleted.
The ``(entity, entity_id, version)`` key is unique, so two concurrent writers cannot both add
version *n*: the second gets an integrity error (409 ``request.conflict``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.ids import new_id

MDV = tables.master_data_versions

TABLES: Mapping[str, Table] = {
    "organisation": tables.organisations,
    "warehouse": tables.warehouses,
    "location": tables.locations,
    "entrustment_agreement": tables.entrustment_agreements,
    "device": tables.devices,
}
"""Entity name -> the table holding its current state."""

_CHINA = timezone(timedelta(hours=8))
_SYSTEM_TOKEN = uuid.UUID(int=0)


@dataclass(frozen=True, slots=True)
class Version:
    """One stored version of a record."""

    id: str
    entity: str
    entity_id: str
    number: int
    supersedes: str | None
    effective_from: date
    recorded_at: datetime
    recorded_by: str | None
    data: Mapping[str, Any]


def snapshot(values: Mapping[str, Any]) -> dict[str, Any]:
    """Column values as JSON: ids and decimals as strings, dates as ``YYYY-MM-DD``."""
    return {key: _json(value) for key, value in values.items()}


def insert_first(
    session: Session,
    table: Table,
    entity: str,
    entity_id: str,
    data: Mapping[str, Any],
    *,
    effective_from: date,
    recorded_by: uuid.UUID | None,
) -> None:
    """Insert a new record's row in ``table`` (created now) and ``data`` as its first version."""
    session.execute(
        table.insert().values(id=uuid.UUID(entity_id), created_at=datetime.now(UTC), **data)
    )
    append(session, entity, entity_id, data, effective_from=effective_from, recorded_by=recorded_by)


def append(
    session: Session,
    entity: str,
    entity_id: uuid.UUID | str,
    data: Mapping[str, Any],
    *,
    effective_from: date,
    recorded_by: uuid.UUID | None,
    previous: Version | None = None,
) -> Version:
    """Append a version: the first when ``previous`` is None, else the one after it."""
    version = Version(
        id=str(new_id()),
        entity=entity,
        entity_id=str(entity_id),
        number=previous.number + 1 if previous else 1,
        supersedes=previous.id if previous else None,
        effective_from=effective_from,
        recorded_at=datetime.now(UTC),
        recorded_by=str(recorded_by) if recorded_by and recorded_by != _SYSTEM_TOKEN else None,
        data=snapshot(data),
    )
    session.execute(
        MDV.insert().values(
            id=uuid.UUID(version.id),
            entity=entity,
            entity_id=uuid.UUID(version.entity_id),
            version=version.number,
            supersedes=uuid.UUID(version.supersedes) if version.supersedes else None,
            effective_from=effective_from,
            data=dict(version.data),
            recorded_at=version.recorded_at,
            recorded_by=uuid.UUID(version.recorded_by) if version.recorded_by else None,
        )
    )
    return version


def chain(session: Session, entity: str, entity_id: uuid.UUID | str) -> list[Version]:
    """Every version of one record, oldest first (empty if it has none)."""
    return chains(session, entity, [entity_id]).get(str(entity_id), [])


def chains(
    session: Session, entity: str, entity_ids: Iterable[uuid.UUID | str]
) -> dict[str, list[Version]]:
    """Every version of each record, oldest first, by string id, in one query."""
    wanted = {uuid.UUID(str(i)) for i in entity_ids}
    found: defaultdict[str, list[Version]] = defaultdict(list)
    if not wanted:
        return {}
    query = (
        select(MDV)
        .where(MDV.c.entity == entity, MDV.c.entity_id.in_(wanted))
        .order_by(MDV.c.entity_id, MDV.c.version)
    )
    for row in session.execute(query).mappings():
        found[str(row["entity_id"])].append(_to_version(row))
    return dict(found)


def get(session: Session, version_id: uuid.UUID) -> Version | None:
    """One version by its id, or None."""
    row = session.execute(select(MDV).where(MDV.c.id == version_id)).mappings().first()
    return _to_version(row) if row is not None else None


def in_effect(versions: Iterable[Version], on: date) -> Version | None:
    """The version in effect on ``on``: the last one started by then (None if none has)."""
    started = [v for v in versions if v.effective_from <= on]
    return max(started, key=lambda v: v.number) if started else None


def as_of_many(
    session: Session, entity: str, entity_ids: Iterable[uuid.UUID | str], on: date
) -> dict[str, Version]:
    """For each record, the version in effect on ``on``, or its first if ``on`` is earlier.

    Records without versions (rows written around the services) are left out: their current
    row is all there is.
    """
    answer = {}
    for entity_id, versions in chains(session, entity, entity_ids).items():
        answer[entity_id] = in_effect(versions, on) or versions[0]
    return answer


_AS_OF_ENTITIES = (
    select(MDV)
    .where(
        MDV.c.entity.in_(bindparam("entities", expanding=True)),
        MDV.c.entity_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(MDV.c.entity_id, MDV.c.version)
)
"""Built once (custody checks run it twice per decision)."""


def as_of_entities(
    session: Session, wanted: Mapping[str, Iterable[uuid.UUID | str]], on: date
) -> dict[tuple[str, str], Version]:
    """:func:`as_of_many` for several kinds of record in one query: (entity, id) -> version."""
    pairs = {(entity, uuid.UUID(str(i))) for entity, ids in wanted.items() for i in ids}
    if not pairs:
        return {}
    params = {
        "entities": sorted({entity for entity, _ in pairs}),
        "ids": sorted({entity_id for _, entity_id in pairs}),
    }
    found: defaultdict[tuple[str, uuid.UUID], list[Version]] = defaultdict(list)
    for row in session.execute(_AS_OF_ENTITIES, params).mappings():
        key = (row["entity"], row["entity_id"])
        if key in pairs:  # the IN lists also match other pairs of these entities and ids
            found[key].append(_to_version(row))
    return {
        (entity, str(entity_id)): in_effect(chain, on) or chain[0]
        for (entity, entity_id), chain in found.items()
    }


def created_on(session: Session, entity: str, entity_id: uuid.UUID | str) -> date | None:
    """The day (China time) the record's row was created, or None if there is no row."""
    table = TABLES[entity]
    query = select(table.c.created_at).where(table.c.id == uuid.UUID(str(entity_id)))
    moment = session.execute(query).scalar_one_or_none()
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_CHINA).date()


def _to_version(row: Mapping[str, Any]) -> Version:
    recorded_at = row["recorded_at"]
    if recorded_at.tzinfo is None:  # SQLite hands back naive UTC
        recorded_at = recorded_at.replace(tzinfo=UTC)
    return Version(
        id=str(row["id"]),
        entity=row["entity"],
        entity_id=str(row["entity_id"]),
        number=row["version"],
        supersedes=str(row["supersedes"]) if row["supersedes"] else None,
        effective_from=row["effective_from"],
        recorded_at=recorded_at,
        recorded_by=str(row["recorded_by"]) if row["recorded_by"] else None,
        data=row["data"],
    )


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    return value


def parse_decimal(value: str | None) -> Decimal | None:
    """A decimal stored as a string in a snapshot."""
    return Decimal(value) if value is not None else None


def parse_date(value: str | None) -> date | None:
    """A date stored as ``YYYY-MM-DD`` in a snapshot."""
    return date.fromisoformat(value) if value is not None else None
