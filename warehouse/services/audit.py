"""Seal event batches into the audit chain, verify the chain, prove an event's inclusion.

One global chain (docs/audit-and-records.md, "Why one chain"): every batch of accepted events
gets the next sequence number, under the head row locked ``FOR UPDATE`` on PostgreSQL (on
SQLite ``BEGIN IMMEDIATE`` already serialises writers). The lock is taken at the very end of
the movement transaction, so it is held only for the seal and the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from warehouse.db import see_every_row
from warehouse.domain import audit
from warehouse.domain.audit import Break, SealedBatch
from warehouse.domain.roles import Principal, Role
from warehouse.repository import audit as rows
from warehouse.repository.pages import PageRequest
from warehouse.services import read_transaction, write_transaction
from warehouse.services.errors import FieldError, NotFound, ValidationFailed

VERIFY_ROLES = (Role.ADMIN, Role.AUDITOR, Role.REGULATOR)
"""Who may verify the whole chain (the answer names ids only, never event content)."""

DEFAULT_VERIFY_BATCHES = 10_000
MAX_VERIFY_BATCHES = 100_000
REGULATOR_MAX_VERIFY_BATCHES = 1_000
"""A regulator's ceiling per request: an outside party's one request reads at most this much
(every event of every batch), while the organisation's own auditors may read more."""

MAX_SEQUENCE = 2**31 - 1
"""Largest ``from_sequence``: the sequence column is a 32-bit INTEGER on PostgreSQL (SQLite's
integers overflow at 2**63); a larger one made the query fail (a 500)."""
_READ_BATCHES = 200
"""Batches loaded (with their events) per round trip while verifying."""


# --- Sealing ---------------------------------------------------------------------------------


def seal_batch(
    session: Session,
    batch_id: uuid.UUID,
    events: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
) -> SealedBatch | None:
    """Append the batch's accepted events to the chain, inside the caller's transaction.

    ``events`` and ``items`` are the rows just inserted (as dicts with the columns' values),
    so nothing is read back. Nothing is sealed for a batch with no accepted event.
    """
    if not events:
        return None
    leaves = audit.leaves_of(events, items)
    sequence, prev_hash = rows.lock_head(session)
    link, batch_hash = audit.seal(sequence + 1, batch_id, leaves, prev_hash, datetime.now(UTC))
    rows.append(session, link, batch_hash, audit.pack_entries(leaves))
    return SealedBatch(link, batch_hash, tuple(leaves))


def seal_backlog(session: Session, limit: int = 1000) -> int:
    """Seal batches recorded before the chain existed (oldest first); return how many.

    Events stored before migration 0008 have no sealed batch. Their leaves are computed from
    the rows as they are now, so this vouches for them only from now on.
    """
    with write_transaction(session):
        # Sealing and verifying read every organisation's events: a row hidden from the caller
        # would look deleted. Only ids and hashes leave the service, never event content.
        see_every_row(session)
        # The head lock first: a concurrent call then waits here and, once the first commits,
        # reads the backlog afresh (READ COMMITTED) instead of sealing the same batches twice.
        rows.lock_head(session)
        batch_ids = rows.unsealed_batches(session, limit)
        for batch_id in batch_ids:
            events, items = rows.events_of(session, [batch_id])
            seal_batch(session, batch_id, events, items)
    return len(batch_ids)


def head(session: Session) -> tuple[int, str]:
    """The chain head ``(sequence, batch_hash)``: anchor it by storing it elsewhere."""
    with read_transaction(session):
        return rows.head(session)


# --- Verifying ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of checking a range of the chain."""

    ok: bool
    first_sequence: int
    batches: int
    events: int
    head: tuple[int, str]
    next_sequence: int | None
    """Where to continue (``?from_sequence=``) when the range stopped before the head."""

    broken: Break | None


def most_batches(principal: Principal) -> int:
    """The most batches one verification request of ``principal`` may check."""
    if principal.has_any(Role.ADMIN, Role.AUDITOR):
        return MAX_VERIFY_BATCHES
    return REGULATOR_MAX_VERIFY_BATCHES


def verify(
    session: Session,
    first: int = 1,
    limit: int = DEFAULT_VERIFY_BATCHES,
    *,
    most: int = MAX_VERIFY_BATCHES,
) -> Verification:
    """Recompute every event leaf from its stored rows, each Merkle root and the chain links,
    from sequence ``first`` for at most ``limit`` batches; stop at the first break.

    Starting past 1 trusts the stored hash of batch ``first - 1`` (checked by the earlier
    range). Reaching the head also checks the head row and that no event is left unsealed.
    Row-level security is lifted for the read: the answer names ids and hashes only.

    Raises:
        ValidationFailed: For a ``first`` outside 1 to :data:`MAX_SEQUENCE` or a ``limit``
            outside 1 to ``most`` (the caller's :func:`most_batches`).
    """
    _check_range(first, limit, min(most, MAX_VERIFY_BATCHES))
    with read_transaction(session):
        see_every_row(session)
        head = rows.head(session)
        prev_hash = rows.batch_hash_at(session, first - 1)
        if prev_hash is None:
            broken = Break(
                "audit.chain_broken",
                f"Expected a sealed batch {first - 1} to start after, got none.",
                sequence=first - 1,
            )
            return Verification(False, first, 0, 0, head, None, broken)
        prev = (first - 1, prev_hash)
        checked = events = 0
        while checked < limit:
            chunk = rows.batches(session, prev[0] + 1, min(_READ_BATCHES, limit - checked))
            if not chunk:
                break
            broken, passed = _check_chunk(session, chunk, prev)
            checked += len(passed)
            events += sum(b.link.event_count for b in passed)
            if broken is not None:
                return Verification(False, first, checked, events, head, None, broken)
            prev = (chunk[-1].link.sequence, chunk[-1].batch_hash)
        if prev[0] < head[0] and checked >= limit:
            return Verification(True, first, checked, events, head, prev[0] + 1, None)
        broken = _check_end(session, prev, head)
        return Verification(broken is None, first, checked, events, head, None, broken)


def _check_range(first: int, limit: int, most: int) -> None:
    errors = []
    if not 1 <= first <= MAX_SEQUENCE:
        message = f"Expected 1 to {MAX_SEQUENCE}, got {first}."
        errors.append(FieldError("from_sequence", "field.invalid", message))
    if not 1 <= limit <= most:
        message = f"Expected 1 to {most:,} batches for your role, got {limit}."
        errors.append(FieldError("max_batches", "field.invalid", message))
    if errors:
        raise ValidationFailed("verification", errors)


def _check_chunk(
    session: Session, chunk: Sequence[SealedBatch], prev: tuple[int, str]
) -> tuple[Break | None, Sequence[SealedBatch]]:
    """The first break in ``chunk`` (or None) and the batches that passed before it."""
    events, items = rows.events_of(session, [b.link.batch_id for b in chunk])
    by_batch: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in events:
        by_batch.setdefault(row["batch_id"], []).append(row)
    by_event: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for item in items:
        by_event.setdefault(item["event_id"], []).append(item)
    for index, batch in enumerate(chunk):
        rows_of_batch = by_batch.get(batch.link.batch_id, [])
        items_of_batch = [i for row in rows_of_batch for i in by_event.get(row["id"], ())]
        found = audit.leaves_of(rows_of_batch, items_of_batch)
        broken = audit.check_batch(batch, found, prev)
        if broken is not None:
            return broken, chunk[:index]
        prev = (batch.link.sequence, batch.batch_hash)
    return None, chunk


def _check_end(session: Session, last: tuple[int, str], head: tuple[int, str]) -> Break | None:
    if last != head:
        return Break(
            "audit.head_mismatch",
            f"Expected the chain head at batch {head[0]} ({head[1]}), got the last stored batch "
            f"{last[0]} ({last[1]}).",
            sequence=last[0],
        )
    unsealed = rows.first_unsealed(session)
    if unsealed is not None:
        return Break(
            "audit.unsealed_event",
            f"Expected every event in a sealed batch, got event {unsealed[0]} of unsealed batch "
            f"{unsealed[1]}.",
            batch_id=unsealed[1],
            event_id=unsealed[0],
        )
    return None


# --- Inclusion proofs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proof:
    """Everything needed to check one event against the chain without trusting the server."""

    event_id: uuid.UUID
    client_event_id: uuid.UUID
    canonical: str
    """The canonical JSON of the stored event that is hashed into its leaf."""

    leaf: str
    index: int
    path: tuple[str, ...]
    batch: SealedBatch
    head: tuple[int, str]
    consistent: bool
    """Whether the leaf recomputed now equals the sealed one and the path reaches the root."""


def proof(session: Session, principal: Principal, event_ref: uuid.UUID) -> Proof:
    """The inclusion proof of one event the caller may see (server id or client event_id).

    Raises:
        NotFound: If the caller may not see such an event, or it is not sealed (yet).
    """
    event = _visible_event(session, principal, event_ref)
    with read_transaction(session):
        found = proofs_of(session, [event])
    if event["id"] not in found:
        raise NotFound("sealed event", event_ref)
    return found[event["id"]]


def proofs_of(session: Session, events: Sequence[Mapping[str, Any]]) -> dict[uuid.UUID, Proof]:
    """Inclusion proofs of stored events the caller was allowed to read, by server id.

    ``events`` are event rows with their ``items`` (as ``GET /events`` and the trace read
    them); it runs inside the caller's read transaction, with one query for all their
    batches. Events not sealed (yet) are left out.
    """
    batches = rows.batches_by_id(session, {row["batch_id"] for row in events})
    head = rows.head(session)
    answer = {}
    for event in events:
        batch = batches.get(event["batch_id"])
        if batch is not None:
            found = _proof(event, batch, head)
            if found is not None:
                answer[event["id"]] = found
    return answer


def _proof(event: Mapping[str, Any], batch: SealedBatch, head: tuple[int, str]) -> Proof | None:
    hashes = [leaf.hash for leaf in batch.entries]
    index = next((i for i, e in enumerate(batch.entries) if e.event_id == event["id"]), None)
    if index is None:
        return None
    canonical = audit.canonical_json(audit.stored_event(event, event["items"]))
    path = audit.inclusion_path(hashes, index)
    root = audit.root_from_path(hashes[index], index, len(hashes), path)
    consistent = (
        audit.leaf_hash(canonical) == hashes[index]
        and root is not None
        and root.hex() == batch.link.merkle_root
    )
    return Proof(
        event_id=event["id"],
        client_event_id=event["event_id"],
        canonical=canonical.decode("utf-8"),
        leaf=hashes[index].hex(),
        index=index,
        path=tuple(p.hex() for p in path),
        batch=batch,
        head=head,
        consistent=consistent,
    )


def _visible_event(session: Session, principal: Principal, ref: uuid.UUID) -> dict[str, Any]:
    # Imported here: the movement service imports this module to seal its batches.
    from warehouse.services import movements

    try:
        return movements.get_event(session, principal, str(ref))
    except NotFound:
        where = movements.EventFilter(event_id=ref)
        page = movements.list_events(session, principal, PageRequest(limit=1), where)
        if not page.items:
            raise
        return dict(page.items[0])
