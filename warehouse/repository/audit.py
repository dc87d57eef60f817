"""Rows of the audit chain: the locked head, sealed batches, and the events they cover."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.audit import GENESIS, Link, SealedBatch, unpack_entries

BATCH = tables.audit_batches
HEAD = tables.audit_head
EV = tables.events
ITEM = tables.event_items
CHAIN = "events"

_CHUNK = 400
"""IN lists are split into chunks of this size (SQLite's variables limit)."""


def lock_head(session: Session) -> tuple[int, str]:
    """The head ``(sequence, batch_hash)``, locked until commit on PostgreSQL.

    SQLite needs no lock: ``BEGIN IMMEDIATE`` already serialises writers. The row is created
    by migration 0008; if it is missing it is created here (a concurrent creator makes this
    transaction fail with a unique violation, which the movement service retries).
    """
    query = select(HEAD.c.sequence, HEAD.c.batch_hash).where(HEAD.c.chain == CHAIN)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None:
        session.execute(
            HEAD.insert().values(
                chain=CHAIN, sequence=0, batch_hash=GENESIS, updated_at=datetime.now(UTC)
            )
        )
        return 0, GENESIS
    return row.sequence, row.batch_hash


def head(session: Session) -> tuple[int, str]:
    """The head ``(sequence, batch_hash)`` without a lock (``(0, GENESIS)`` if none)."""
    query = select(HEAD.c.sequence, HEAD.c.batch_hash).where(HEAD.c.chain == CHAIN)
    row = session.execute(query).first()
    return (row.sequence, row.batch_hash) if row is not None else (0, GENESIS)


def append(session: Session, link: Link, batch_hash: str, entries: bytes) -> None:
    """Insert a sealed batch and move the head to it."""
    session.execute(
        BATCH.insert().values(
            sequence=link.sequence,
            batch_id=link.batch_id,
            event_count=link.event_count,
            merkle_root=link.merkle_root,
            prev_hash=link.prev_hash,
            batch_hash=batch_hash,
            entries=entries,
            created_at=link.created_at,
        )
    )
    session.execute(
        update(HEAD)
        .where(HEAD.c.chain == CHAIN)
        .values(sequence=link.sequence, batch_hash=batch_hash, updated_at=link.created_at)
    )


def batches(session: Session, first: int, limit: int) -> list[SealedBatch]:
    """Sealed batches from sequence ``first`` on, in chain order."""
    query = select(BATCH).where(BATCH.c.sequence >= first).order_by(BATCH.c.sequence).limit(limit)
    return [_sealed(row) for row in session.execute(query).mappings()]


def batches_by_id(session: Session, batch_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, SealedBatch]:
    """The sealed batches among ``batch_ids``, by batch id."""
    found: dict[uuid.UUID, SealedBatch] = {}
    for chunk in _chunks(sorted(set(batch_ids))):
        query = select(BATCH).where(BATCH.c.batch_id.in_(chunk))
        for row in session.execute(query).mappings():
            sealed = _sealed(row)
            found[sealed.link.batch_id] = sealed
    return found


def batch_hash_at(session: Session, sequence: int) -> str | None:
    """The stored batch hash of one sequence number (GENESIS for 0), or None."""
    if sequence == 0:
        return GENESIS
    query = select(BATCH.c.batch_hash).where(BATCH.c.sequence == sequence)
    return session.execute(query).scalar_one_or_none()


def _sealed(row: Mapping[str, Any]) -> SealedBatch:
    link = Link(
        sequence=row["sequence"],
        batch_id=row["batch_id"],
        event_count=row["event_count"],
        merkle_root=row["merkle_root"],
        prev_hash=row["prev_hash"],
        created_at=row["created_at"],
    )
    return SealedBatch(link, row["batch_hash"], tuple(unpack_entries(bytes(row["entries"]))))


def events_of(
    session: Session, batch_ids: Sequence[uuid.UUID]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every stored event row carrying one of ``batch_ids``, and their item rows."""
    events: list[dict[str, Any]] = []
    for chunk in _chunks(list(batch_ids)):
        events += _dicts(session, select(EV).where(EV.c.batch_id.in_(chunk)))
    items: list[dict[str, Any]] = []
    for chunk in _chunks([row["id"] for row in events]):
        items += _dicts(session, select(ITEM).where(ITEM.c.event_id.in_(chunk)))
    return events, items


def first_unsealed(session: Session) -> tuple[uuid.UUID, uuid.UUID] | None:
    """``(event id, batch id)`` of the first event whose batch is not sealed, or None."""
    query = (
        select(EV.c.id, EV.c.batch_id)
        .outerjoin(BATCH, BATCH.c.batch_id == EV.c.batch_id)
        .where(BATCH.c.sequence.is_(None))
        .order_by(EV.c.id)
        .limit(1)
    )
    row = session.execute(query).first()
    return (row.id, row.batch_id) if row is not None else None


def unsealed_batches(session: Session, limit: int) -> list[uuid.UUID]:
    """Batch ids with events but no sealed batch, oldest first."""
    first = func.min(EV.c.recorded_at)  # PostgreSQL has no min(uuid)
    query = (
        select(EV.c.batch_id, first.label("first"))
        .outerjoin(BATCH, BATCH.c.batch_id == EV.c.batch_id)
        .where(and_(BATCH.c.sequence.is_(None)))
        .group_by(EV.c.batch_id)
        .order_by(first, EV.c.batch_id)
        .limit(limit)
    )
    return [row.batch_id for row in session.execute(query)]


def _dicts(session: Session, query: Any) -> list[dict[str, Any]]:
    result = session.execute(query)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[start : start + _CHUNK] for start in range(0, len(values), _CHUNK)]
