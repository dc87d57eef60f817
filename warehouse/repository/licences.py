"""Licence versions: rows <-> :class:`~warehouse.domain.licences.Licence`.

Every version is its own row; ``licence_id`` names the chain (the first version's id) and
``supersedes`` the version it replaces, unique so that a chain can never fork.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.licences import DeviceClass, Licence, LicenceKind, ScopeEntry
from warehouse.repository.pages import Page, PageRequest, paginate

LIC = tables.licences
LIC_WH = tables.licence_warehouses


@dataclass(frozen=True, slots=True)
class StoredLicence:
    """A licence version with the id of the chain it belongs to."""

    licence_id: str
    version: Licence


def insert(session: Session, licence_id: uuid.UUID, version: Licence) -> None:
    """Insert one version and its registered warehouses."""
    version_id = uuid.UUID(version.id)
    session.execute(
        LIC.insert().values(
            id=version_id,
            licence_id=licence_id,
            supersedes=uuid.UUID(version.supersedes) if version.supersedes else None,
            holder_id=uuid.UUID(version.holder_id),
            kind=version.kind.value,
            number=version.number,
            scope=[_scope_json(entry) for entry in sorted(version.scope, key=str)],
            valid_from=version.valid_from,
            valid_to=version.valid_to,
            effective_from=version.effective_since,
            created_at=datetime.now(UTC),
        )
    )
    if version.warehouse_ids:
        session.execute(
            LIC_WH.insert(),
            [
                {"licence_version_id": version_id, "warehouse_id": uuid.UUID(w)}
                for w in sorted(version.warehouse_ids)
            ],
        )


def get_version(session: Session, version_id: uuid.UUID) -> StoredLicence | None:
    """Return one version by its id, or None."""
    found = _load(session, select(LIC).where(LIC.c.id == version_id))
    return found[0] if found else None


def chain(session: Session, licence_id: uuid.UUID) -> list[StoredLicence]:
    """Return every version of a licence, oldest first (empty if unknown)."""
    query = select(LIC).where(LIC.c.licence_id == licence_id).order_by(LIC.c.effective_from)
    return _load(session, query)


def chains_naming(session: Session, warehouse_id: uuid.UUID) -> list[StoredLicence]:
    """Return every version of every licence that names the warehouse in any version.

    Whole chains, because the version in effect on a date may be one that no longer (or not
    yet) lists the warehouse.
    """
    naming = (
        select(LIC.c.licence_id)
        .join(LIC_WH, LIC_WH.c.licence_version_id == LIC.c.id)
        .where(LIC_WH.c.warehouse_id == warehouse_id)
    )
    return _load(session, select(LIC).where(LIC.c.licence_id.in_(naming)))


def held_by(session: Session, holder_ids: Iterable[uuid.UUID]) -> list[Licence]:
    """Return every version of every licence of these holders (the rules pick dates)."""
    query = select(LIC).where(LIC.c.holder_id.in_(set(holder_ids)))
    return [stored.version for stored in _load(session, query)]


def latest_page(
    session: Session,
    page: PageRequest,
    *,
    holder_id: uuid.UUID | None = None,
    kind: LicenceKind | None = None,
) -> Page[StoredLicence]:
    """One page of licences, each as its latest version, ordered by chain id."""
    successor = LIC.alias("successor")
    query = select(LIC).where(~exists().where(successor.c.supersedes == LIC.c.id))
    if holder_id is not None:
        query = query.where(LIC.c.holder_id == holder_id)
    if kind is not None:
        query = query.where(LIC.c.kind == kind.value)
    return paginate(session, query, LIC.c.licence_id, page, lambda rows: _build(session, rows))


def _load(session: Session, query: Any) -> list[StoredLicence]:
    return _build(session, session.execute(query).mappings().all())


def _build(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[StoredLicence]:
    warehouses = _warehouses_of(session, [row["id"] for row in rows])
    return [
        StoredLicence(str(row["licence_id"]), _to_licence(row, warehouses[row["id"]]))
        for row in rows
    ]


def _warehouses_of(
    session: Session, version_ids: list[uuid.UUID]
) -> defaultdict[uuid.UUID, set[str]]:
    found: defaultdict[uuid.UUID, set[str]] = defaultdict(set)
    if version_ids:
        query = select(LIC_WH).where(LIC_WH.c.licence_version_id.in_(version_ids))
        for row in session.execute(query).mappings():
            found[row["licence_version_id"]].add(str(row["warehouse_id"]))
    return found


def _to_licence(row: Mapping[str, Any], warehouse_ids: set[str]) -> Licence:
    return Licence(
        id=str(row["id"]),
        holder_id=str(row["holder_id"]),
        kind=LicenceKind(row["kind"]),
        number=row["number"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        scope=frozenset(
            ScopeEntry(DeviceClass(entry["device_class"]), entry.get("category"))
            for entry in row["scope"]
        ),
        warehouse_ids=frozenset(warehouse_ids),
        effective_from=row["effective_from"],
        supersedes=str(row["supersedes"]) if row["supersedes"] else None,
    )


def _scope_json(entry: ScopeEntry) -> dict[str, str | None]:
    return {"device_class": entry.device_class.value, "category": entry.category}
