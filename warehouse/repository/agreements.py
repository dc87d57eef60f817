"""Entrustment agreements: rows <-> :class:`~warehouse.domain.entrustment.EntrustmentAgreement`."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.entrustment import EntrustmentAgreement, LogisticsService
from warehouse.domain.licences import DeviceClass
from warehouse.repository import versions
from warehouse.repository.pages import Page, PageRequest, paginate

AGR = tables.entrustment_agreements
AGR_WH = tables.agreement_warehouses


def values(agreement: EntrustmentAgreement) -> dict[str, Any]:
    """Column values of an agreement, id excluded."""
    return {
        "client_id": uuid.UUID(agreement.client_id),
        "provider_id": uuid.UUID(agreement.provider_id),
        "number": agreement.number,
        "classes": sorted(c.value for c in agreement.classes),
        "services": sorted(s.value for s in agreement.services),
        "valid_from": agreement.valid_from,
        "valid_to": agreement.valid_to,
    }


def snapshot(agreement: EntrustmentAgreement) -> dict[str, Any]:
    """The versioned snapshot: the columns and the warehouses listed."""
    return {**values(agreement), "warehouse_ids": sorted(agreement.warehouse_ids)}


def insert(
    session: Session,
    agreement: EntrustmentAgreement,
    *,
    effective_from: date | None = None,
    recorded_by: uuid.UUID | None = None,
) -> None:
    """Insert a new agreement, the warehouses it lists and its first version.

    The first version is in effect from ``effective_from``, by default the agreement's
    ``valid_from``.
    """
    session.execute(
        AGR.insert().values(
            id=uuid.UUID(agreement.id), created_at=datetime.now(UTC), **values(agreement)
        )
    )
    _insert_warehouses(session, agreement)
    versions.append(
        session,
        "entrustment_agreement",
        agreement.id,
        snapshot(agreement),
        effective_from=effective_from or agreement.valid_from,
        recorded_by=recorded_by,
    )


def update(session: Session, agreement: EntrustmentAgreement) -> None:
    """Make ``agreement`` the current state of its row and warehouse list (latest version)."""
    agreement_id = uuid.UUID(agreement.id)
    session.execute(AGR.update().where(AGR.c.id == agreement_id).values(**values(agreement)))
    session.execute(AGR_WH.delete().where(AGR_WH.c.agreement_id == agreement_id))
    _insert_warehouses(session, agreement)


def from_version(version: versions.Version) -> EntrustmentAgreement:
    """The agreement as one of its versions recorded it."""
    data = version.data
    row = {
        **data,
        "id": version.entity_id,
        "valid_from": versions.parse_date(data["valid_from"]),
        "valid_to": versions.parse_date(data["valid_to"]),
    }
    return _to_agreement(row, set(data["warehouse_ids"]))


def _insert_warehouses(session: Session, agreement: EntrustmentAgreement) -> None:
    agreement_id = uuid.UUID(agreement.id)
    if agreement.warehouse_ids:
        session.execute(
            AGR_WH.insert(),
            [
                {"agreement_id": agreement_id, "warehouse_id": uuid.UUID(w)}
                for w in sorted(agreement.warehouse_ids)
            ],
        )


def get(
    session: Session, agreement_id: uuid.UUID, visible: ColumnElement[bool] | None = None
) -> EntrustmentAgreement | None:
    """Return the agreement if it exists and satisfies ``visible``."""
    query = select(AGR).where(AGR.c.id == agreement_id)
    if visible is not None:
        query = query.where(visible)
    found = _build(session, session.execute(query).mappings().all())
    return found[0] if found else None


def between(
    session: Session, client_id: uuid.UUID, provider_id: uuid.UUID
) -> list[EntrustmentAgreement]:
    """Return every agreement by which ``client_id`` entrusts goods to ``provider_id``."""
    query = select(AGR).where(AGR.c.client_id == client_id, AGR.c.provider_id == provider_id)
    return _build(session, session.execute(query).mappings().all())


def warehouses_named_for(org_id: uuid.UUID, on: date) -> Select[Any]:
    """Ids of warehouses named in agreements valid on ``on`` to which ``org_id`` is a party."""
    return (
        select(AGR_WH.c.warehouse_id)
        .join(AGR, AGR.c.id == AGR_WH.c.agreement_id)
        .where(
            or_(AGR.c.client_id == org_id, AGR.c.provider_id == org_id),
            AGR.c.valid_from <= on,
            or_(AGR.c.valid_to.is_(None), AGR.c.valid_to >= on),
        )
    )


def list_page(
    session: Session,
    page: PageRequest,
    *,
    visible: ColumnElement[bool] | None,
    client_id: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
) -> Page[EntrustmentAgreement]:
    """One page of the agreements the caller may see, filtered."""
    conditions = [c for c in (visible,) if c is not None]
    if client_id is not None:
        conditions.append(AGR.c.client_id == client_id)
    if provider_id is not None:
        conditions.append(AGR.c.provider_id == provider_id)
    query = select(AGR).where(and_(True, *conditions))
    return paginate(session, query, AGR.c.id, page, lambda rows: _build(session, rows))


def _build(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[EntrustmentAgreement]:
    warehouses: defaultdict[uuid.UUID, set[str]] = defaultdict(set)
    if rows:
        query = select(AGR_WH).where(AGR_WH.c.agreement_id.in_([row["id"] for row in rows]))
        for link in session.execute(query).mappings():
            warehouses[link["agreement_id"]].add(str(link["warehouse_id"]))
    return [_to_agreement(row, warehouses[row["id"]]) for row in rows]


def _to_agreement(row: Mapping[str, Any], warehouse_ids: set[str]) -> EntrustmentAgreement:
    return EntrustmentAgreement(
        id=str(row["id"]),
        client_id=str(row["client_id"]),
        provider_id=str(row["provider_id"]),
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        classes=frozenset(DeviceClass(c) for c in row["classes"]),
        warehouse_ids=frozenset(warehouse_ids),
        services=frozenset(LogisticsService(s) for s in row["services"]),
        number=row["number"],
    )
