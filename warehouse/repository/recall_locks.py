"""Receipts and recall holds of one DI exclude each other (PostgreSQL advisory locks).

A receipt reads the recalls of the DIs it receives once, at the start of its transaction, and
writes its stock at the end; a recall reads and holds the stock in its own transaction. A recall
committing in between would hold only what was there before and miss the receipt's goods, which
would land available (or pending acceptance) although recalled. So a receipt takes a *shared*
lock per received DI before reading the recalls, and ordering or sweeping a recall takes the
*exclusive* lock of its DI before reading the stock: receipts still overlap each other, a recall
waits for the receipts in flight (then holds their goods too), and receipts arriving meanwhile
wait for the recall (then see it and put their goods straight on hold).

Transaction-scoped, so a commit or rollback releases them. SQLite needs none: its writers run
one at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

_SHARED = text(
    "SELECT pg_advisory_xact_lock_shared(key) FROM unnest(CAST(:keys AS bigint[])) AS key"
)
_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(:key)")


def recall_key(di: str) -> int:
    """The advisory-lock key of a DI's recalls: 64 bits of a hash, namespaced."""
    digest = hashlib.sha256(f"udi-trace/recall/{di}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_for_receipt(session: Session, dis: Iterable[str]) -> None:
    """Take the shared lock of each DI (no-op on SQLite)."""
    keys = sorted({recall_key(di) for di in dis})
    if keys and session.get_bind().dialect.name == "postgresql":
        session.execute(_SHARED, {"keys": keys}).all()


def lock_for_recall(session: Session, di: str) -> None:
    """Take the exclusive lock of the DI (no-op on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_EXCLUSIVE, {"key": recall_key(di)}).all()
