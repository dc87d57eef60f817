"""warehouse.domain.audit: canonical stored events, RFC 9162 Merkle trees, chain checks."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.domain import audit
from warehouse.domain.audit import (
    GENESIS,
    Leaf,
    SealedBatch,
    canonical_json,
    check_batch,
    inclusion_path,
    leaf_hash,
    leaves_of,
    merkle_root,
    node_hash,
    pack_entries,
    plain,
    root_from_path,
    seal,
    stored_event,
    unpack_entries,
)


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, written the way the RFC states it."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def hashes(n: int) -> list[bytes]:
    return [leaf_hash(str(i).encode()) for i in range(n)]


@pytest.mark.parametrize("size", [*range(18), 31, 32, 33, 100])
def test_the_root_is_rfc_9162s(size: int) -> None:
    assert merkle_root(hashes(size)) == reference_root(hashes(size))


@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_inclusion_path_leads_to_the_root_and_nothing_else_does(
    size: int, data: st.DataObject
) -> None:
    leaves = hashes(size)
    root = merkle_root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    path = inclusion_path(leaves, index)
    assert root_from_path(leaves[index], index, size, path) == root
    assert root_from_path(leaf_hash(b"forged"), index, size, path) != root
    if size > 1:
        other = (index + 1) % size
        assert root_from_path(leaves[index], other, size, path) != root
        bent = [bytes(32), *path[1:]]
        assert root_from_path(leaves[index], index, size, bent) != root


def test_a_malformed_path_or_index_gives_no_root() -> None:
    leaves = hashes(5)
    path = inclusion_path(leaves, 2)
    assert root_from_path(leaves[2], 5, 5, path) is None
    assert root_from_path(leaves[2], 2, 5, path[:-1]) is None
    assert root_from_path(leaves[2], 2, 5, [*path, bytes(32)]) is None
    with pytest.raises(ValueError, match="leaf index below 5"):
        inclusion_path(leaves, 5)


def test_leaves_and_nodes_are_domain_separated() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(a + b) != node_hash(a, b)


def test_values_read_from_either_engine_canonicalise_alike() -> None:
    aware = datetime(2026, 6, 15, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    naive_utc = datetime(2026, 6, 15, 1, 0)
    assert plain(aware) == plain(naive_utc) == "2026-06-15T01:00:00.000000+00:00"
    identifier = uuid.uuid4()
    assert plain(identifier) == str(identifier)
    assert plain(date(2027, 1, 31)) == "2027-01-31"
    assert plain(Decimal("2.50")) == "2.50"
    assert plain([{"type": "po", "id": "P1"}]) == [{"type": "po", "id": "P1"}]
    assert canonical_json({"b": 1, "a": "鹭"}) == '{"a":"鹭","b":1}'.encode()
    with pytest.raises(TypeError, match="Expected a column value, got bytes"):
        plain(b"x")


def _event(**changes: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(audit.EVENT_FIELDS)
    row.update(
        id=uuid.UUID(int=7),
        event_id=uuid.UUID(int=8),
        biz_step="receiving",
        event_time=datetime(2026, 6, 15, 1, 0, tzinfo=UTC),
        documents=[],
        event_hash="a" * 64,
        batch_id=uuid.UUID(int=9),
    )
    row.update(changes)
    return row


def _item(n: int, **changes: object) -> dict[str, object]:
    item: dict[str, object] = {
        "id": uuid.UUID(int=100 + n),
        "event_id": uuid.UUID(int=7),
        "di": "06931234100049",
        "serial": f"S{n}",
        "lot": "L1",
        "quantity": 1,
        "expiry": date(2029, 12, 31),
        "production_date": None,
        "sscc": None,
    }
    item.update(changes)
    return item


def _leaf(row: dict[str, object], items: list[dict[str, object]]) -> bytes:
    return leaf_hash(canonical_json(stored_event(row, items)))


def test_a_leaf_ignores_item_order_and_columns_outside_the_hashed_set() -> None:
    items = [_item(1), _item(2)]
    base = _leaf(_event(), items)
    assert _leaf(_event(), items[::-1]) == base
    assert _leaf(_event(some_new_column="x"), items) == base


@pytest.mark.parametrize(
    "change",
    [
        {"staff_id": "A"},
        {"event_hash": "b" + "a" * 63},
        {"event_time": datetime(2026, 6, 15, 1, 0, 0, 1, tzinfo=UTC)},
        {"documents": [{"type": "po", "id": "1"}]},
        {"owner_id": uuid.UUID(int=1)},
    ],
)
def test_any_change_to_the_stored_event_changes_its_leaf(change: dict[str, object]) -> None:
    assert _leaf(_event(**change), [_item(1)]) != _leaf(_event(), [_item(1)])


@given(st.sampled_from(["serial", "lot", "di"]), st.integers(min_value=0, max_value=1))
def test_one_character_of_an_item_changes_the_leaf(column: str, position: int) -> None:
    item = _item(1)
    text = str(item[column])
    flipped = text[:position] + chr(ord(text[position]) ^ 1) + text[position + 1 :]
    assert _leaf(_event(), [_item(1, **{column: flipped})]) != _leaf(_event(), [item])


def test_entries_round_trip_and_refuse_a_torn_blob() -> None:
    leaves = [Leaf(uuid.uuid4(), leaf_hash(bytes([i]))) for i in range(3)]
    assert unpack_entries(pack_entries(leaves)) == leaves
    with pytest.raises(ValueError, match="multiple of 48 bytes"):
        unpack_entries(pack_entries(leaves)[:-1])


def _batch(sequence: int = 1, prev: str = GENESIS) -> tuple[SealedBatch, list[Leaf]]:
    events = [_event(id=uuid.UUID(int=n), event_id=uuid.UUID(int=50 + n)) for n in (3, 1, 2)]
    leaves = leaves_of(events, [_item(1, event_id=uuid.UUID(int=1))])
    assert [leaf.event_id.int for leaf in leaves] == [1, 2, 3]
    at = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    link, batch_hash = seal(sequence, uuid.UUID(int=9), leaves, prev, at)
    return SealedBatch(link, batch_hash, tuple(leaves)), leaves


def test_an_intact_batch_passes() -> None:
    batch, leaves = _batch()
    assert batch.link.event_count == 3
    assert batch.link.merkle_root == merkle_root([leaf.hash for leaf in leaves]).hex()
    assert check_batch(batch, leaves, (0, GENESIS)) is None


def test_each_kind_of_break_is_named() -> None:
    batch, leaves = _batch()
    changed = [leaves[0], Leaf(leaves[1].event_id, leaf_hash(b"x")), leaves[2]]
    found = check_batch(batch, changed, (0, GENESIS))
    assert found is not None
    assert (found.code, found.event_id, found.sequence) == (
        "audit.event_changed",
        leaves[1].event_id,
        1,
    )
    found = check_batch(batch, leaves[:2], (0, GENESIS))
    assert found is not None
    assert (found.code, found.event_id) == ("audit.event_missing", leaves[2].event_id)
    extra = Leaf(uuid.UUID(int=99), leaf_hash(b"y"))
    found = check_batch(batch, [*leaves, extra], (0, GENESIS))
    assert found is not None
    assert (found.code, found.event_id) == ("audit.event_added", extra.event_id)
    found = check_batch(batch, leaves, (0, "1" * 64))
    assert found is not None
    assert found.code == "audit.chain_broken"
    found = check_batch(batch, leaves, (1, batch.batch_hash))
    assert found is not None
    assert found.code == "audit.chain_broken"
    edited = SealedBatch(batch.link, "f" * 64, batch.entries)
    found = check_batch(edited, leaves, (0, GENESIS))
    assert found is not None
    assert found.code == "audit.batch_changed"
    dropped = SealedBatch(batch.link, batch.batch_hash, batch.entries[:2])
    found = check_batch(dropped, leaves, (0, GENESIS))
    assert found is not None
    assert found.code == "audit.entries_changed"


def test_the_batch_hash_covers_every_link_field() -> None:
    batch, _ = _batch()
    link = batch.link
    variants = [
        audit.Link(
            2, link.batch_id, link.event_count, link.merkle_root, link.prev_hash, link.created_at
        ),
        audit.Link(1, uuid.UUID(int=10), 3, link.merkle_root, link.prev_hash, link.created_at),
        audit.Link(1, link.batch_id, 4, link.merkle_root, link.prev_hash, link.created_at),
        audit.Link(1, link.batch_id, 3, "0" * 64, link.prev_hash, link.created_at),
        audit.Link(1, link.batch_id, 3, link.merkle_root, "1" * 64, link.created_at),
        audit.Link(
            1,
            link.batch_id,
            3,
            link.merkle_root,
            link.prev_hash,
            link.created_at + timedelta(microseconds=1),
        ),
    ]
    assert len({v.hash() for v in variants} | {link.hash()}) == len(variants) + 1
    assert link.hash() == batch.batch_hash
