"""Tamper evidence: canonical stored events, a Merkle tree per batch, a hash chain of batches.

Pure functions only (docs/audit-and-records.md). What is hashed:

* **Leaf** of one event: ``SHA-256(0x00 || canonical JSON of the stored row)``, where the
  stored row is every column of :data:`EVENT_FIELDS` plus its items (every column of
  :data:`ITEM_FIELDS`, ordered by item id). It is the *stored* row, not the client's
  submission: the server fills in defaults (disposition, action, acting organisation, owner,
  possessor), replaces client event ids by server ids and assigns shipments, so the client's
  canonical form (``event_hash``, the idempotency fingerprint) cannot be rebuilt from rows.
  ``event_hash`` is itself a stored column, so it is covered by the leaf.
* **Merkle root** of a batch: RFC 9162 §2.1.1 (``0x01`` prefix for inner nodes, the tree
  split at the largest power of two below the size), over the leaves ordered by event id.
* **Batch hash**: ``SHA-256`` of ``udi-audit-v1|prev_hash|merkle_root|count|sequence|
  batch_id|created_at``; the first batch's ``prev_hash`` is :data:`GENESIS`.

>>> leaves = [leaf_hash(canonical_json({"n": n})) for n in range(5)]
>>> root = merkle_root(leaves)
>>> all(root_from_path(leaves[i], i, 5, inclusion_path(leaves, i)) == root for i in range(5))
True
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

GENESIS = "0" * 64
"""``prev_hash`` of the first batch of the chain."""

HASH_VERSION = "udi-audit-v1"

EVENT_FIELDS = (
    "id",
    "event_id",
    "event_type",
    "action",
    "biz_step",
    "disposition",
    "event_time",
    "event_time_offset",
    "recorded_at",
    "read_point_id",
    "location_id",
    "warehouse_id",
    "acting_org_id",
    "staff_id",
    "scanner_device_id",
    "owner_id",
    "possessor_id",
    "source_party_id",
    "destination_party_id",
    "destination_warehouse_id",
    "shipment_id",
    "parent_sscc",
    "documents",
    "patient_ref",
    "encounter_ref",
    "corrects_event_id",
    "declared_event_id",
    "error_reason",
    "event_hash",
    "batch_id",
)
"""The ``events`` columns a leaf covers (v1). A column added later is not covered until a new
hash version names it, so old leaves keep verifying."""

ITEM_FIELDS = (
    "id",
    "event_id",
    "di",
    "serial",
    "lot",
    "quantity",
    "expiry",
    "production_date",
    "sscc",
)
"""The ``event_items`` columns a leaf covers (v1)."""

ENTRY_SIZE = 48
"""Bytes per event in a batch's stored entries: the 16-byte event id, then its 32-byte leaf."""


# --- Canonical form ---------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A column value as a JSON value, the same whichever engine it was read from.

    >>> plain(datetime(2026, 6, 15, 1, 0))  # SQLite hands back naive UTC
    '2026-06-15T01:00:00.000000+00:00'
    """
    convert = _BY_TYPE.get(type(value))
    if convert is not None:  # the common column types, without an isinstance chain
        return convert(value)
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return _moment(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    raise TypeError(f"Expected a column value, got {type(value).__name__}.")


def _same(value: Any) -> Any:
    return value


def _moment(value: datetime) -> str:
    moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.isoformat(timespec="microseconds")


_BY_TYPE: dict[type, Any] = {
    type(None): _same,
    str: _same,
    int: _same,
    bool: _same,
    uuid.UUID: str,
    datetime: _moment,
    date: date.isoformat,
}


_DUMPS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes that are hashed."""
    return _DUMPS(value).encode("utf-8")


def stored_event(row: Mapping[str, Any], items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The canonical form of a stored event row and its item rows (items ordered by id)."""
    body = _plain_fields(row, EVENT_FIELDS)
    ordered = sorted(items, key=lambda item: str(item["id"]))
    body["items"] = [_plain_fields(item, ITEM_FIELDS) for item in ordered]
    return body


def _plain_fields(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    # The hot loop of sealing (every event of every batch): strings and NULLs, the most
    # common values, skip the call to plain().
    get = row.get
    body = {}
    for name in names:
        value = get(name)
        kind = type(value)
        if value is None or kind is str:
            body[name] = value
        elif kind is _UUID:
            body[name] = str(value)
        else:
            body[name] = plain(value)
    return body


_UUID = uuid.UUID


# --- Merkle tree (RFC 9162 §2.1) ----------------------------------------------------------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return _sha(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha(b"\x01" + left + right)


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of the leaf hashes (``SHA-256("")`` for none)."""
    if not leaves:
        return _sha(b"")
    level = list(leaves)
    # Pairing left to right and promoting an odd last node gives RFC 9162's tree.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index``: sibling hashes from the leaf up to the root."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"Expected a leaf index below {len(leaves)}, got {index}.")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_path(leaves[:k], index), merkle_root(leaves[k:])]
    return [*inclusion_path(leaves[k:], index - k), merkle_root(leaves[:k])]


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root an audit path leads to (RFC 9162 §2.1.3.2), or None if the path is malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None


# --- Batches and the chain ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leaf:
    """One event of a batch: its server id and leaf hash."""

    event_id: uuid.UUID
    hash: bytes


def leaves_of(
    events: Iterable[Mapping[str, Any]], items: Iterable[Mapping[str, Any]]
) -> list[Leaf]:
    """The leaves of a batch's events, ordered by event id (items matched by ``event_id``)."""
    by_event: dict[Any, list[Mapping[str, Any]]] = {}
    for item in items:
        by_event.setdefault(item["event_id"], []).append(item)
    leaves = [
        Leaf(row["id"], leaf_hash(canonical_json(stored_event(row, by_event.get(row["id"], ())))))
        for row in events
    ]
    return sorted(leaves, key=lambda leaf: leaf.event_id.bytes)


def pack_entries(leaves: Sequence[Leaf]) -> bytes:
    """Leaves as stored with their batch: (16-byte id, 32-byte hash) each."""
    return b"".join(leaf.event_id.bytes + leaf.hash for leaf in leaves)


def unpack_entries(blob: bytes) -> list[Leaf]:
    """The leaves :func:`pack_entries` stored.

    Raises:
        ValueError: If the blob is not a whole number of entries.
    """
    if len(blob) % ENTRY_SIZE:
        raise ValueError(f"Expected a multiple of {ENTRY_SIZE} bytes, got {len(blob)}.")
    return [
        Leaf(uuid.UUID(bytes=blob[i : i + 16]), blob[i + 16 : i + ENTRY_SIZE])
        for i in range(0, len(blob), ENTRY_SIZE)
    ]


@dataclass(frozen=True, slots=True)
class Link:
    """What a batch hash covers."""

    sequence: int
    batch_id: uuid.UUID
    event_count: int
    merkle_root: str
    prev_hash: str
    created_at: datetime

    def hash(self) -> str:
        """The batch hash, hex."""
        text = "|".join(
            (
                HASH_VERSION,
                self.prev_hash,
                self.merkle_root,
                str(self.event_count),
                str(self.sequence),
                str(self.batch_id),
                plain(self.created_at),
            )
        )
        return hashlib.sha256(text.encode("ascii")).hexdigest()


def seal(
    sequence: int, batch_id: uuid.UUID, leaves: Sequence[Leaf], prev_hash: str, at: datetime
) -> tuple[Link, str]:
    """The chain link of a new batch and its batch hash."""
    root = merkle_root([leaf.hash for leaf in leaves]).hex()
    link = Link(sequence, batch_id, len(leaves), root, prev_hash, at)
    return link, link.hash()


@dataclass(frozen=True, slots=True)
class SealedBatch:
    """A stored batch of the chain."""

    link: Link
    batch_hash: str
    entries: tuple[Leaf, ...]


@dataclass(frozen=True, slots=True)
class Break:
    """The first thing found wrong in the chain."""

    code: str
    """``audit.event_changed``, ``audit.event_missing``, ``audit.event_added``,
    ``audit.entries_changed``, ``audit.batch_changed``, ``audit.chain_broken``,
    ``audit.head_mismatch`` or ``audit.unsealed_event``."""

    detail: str
    sequence: int | None = None
    batch_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None


def check_batch(batch: SealedBatch, found: Sequence[Leaf], prev: tuple[int, str]) -> Break | None:
    """Check one stored batch against the leaves recomputed from its stored events.

    Args:
        found: Leaves recomputed from the event rows now carrying the batch's id.
        prev: ``(sequence, batch_hash)`` of the batch before it (``(0, GENESIS)`` first).
    """
    link = batch.link
    where = {"sequence": link.sequence, "batch_id": link.batch_id}
    if (link.sequence, link.prev_hash) != (prev[0] + 1, prev[1]):
        return Break(
            "audit.chain_broken",
            f"Expected batch {prev[0] + 1} to follow hash {prev[1]}, got batch {link.sequence} "
            f"following {link.prev_hash}.",
            **where,
        )
    if link.hash() != batch.batch_hash:
        return Break(
            "audit.batch_changed",
            f"Expected batch hash {link.hash()} from the stored batch fields, got "
            f"{batch.batch_hash}.",
            **where,
        )
    if merkle_root([leaf.hash for leaf in batch.entries]).hex() != link.merkle_root:
        return Break(
            "audit.entries_changed",
            f"Expected the stored leaves to give Merkle root {link.merkle_root}, got another.",
            **where,
        )
    if len(batch.entries) != link.event_count:
        return Break(
            "audit.entries_changed",
            f"Expected {link.event_count} stored leaves, got {len(batch.entries)}.",
            **where,
        )
    return _compare_leaves(batch.entries, found, where)


def _compare_leaves(
    stored: Sequence[Leaf], found: Sequence[Leaf], where: Mapping[str, Any]
) -> Break | None:
    now = {leaf.event_id: leaf.hash for leaf in found}
    for leaf in stored:
        current = now.pop(leaf.event_id, None)
        if current is None:
            return Break(
                "audit.event_missing",
                f"Expected event {leaf.event_id} in the batch, got no such row.",
                event_id=leaf.event_id,
                **where,
            )
        if current != leaf.hash:
            return Break(
                "audit.event_changed",
                f"Expected event {leaf.event_id} to hash to {leaf.hash.hex()}, got "
                f"{current.hex()} from its stored row and items.",
                event_id=leaf.event_id,
                **where,
            )
    if now:
        extra = min(now, key=lambda event_id: event_id.bytes)
        return Break(
            "audit.event_added",
            f"Expected only the sealed events in the batch, got event {extra} too.",
            event_id=extra,
            **where,
        )
    return None
