"""What this process derived from master data, reused while the master-data generation stays
the same: custody facts (warehouse/services/custody.py) and master-data rows.

A movement batch reads the locations, organisations and catalogue devices it names. They are
master data: every write to them replaces the master-data generation (migration 0016), and
every organisation may read them (migration 0014's ``tenant_read`` policies), so what one
transaction read under generation G is what any other transaction reading G would read. A
batch that read G first may therefore take them from here instead of three more round trips.

One caveat, shared with the custody memory: on PostgreSQL the generation is replaced when a
master-data write commits, so a transaction that wrote master data and then recorded a batch
would remember its own uncommitted rows under the old generation. No service does both in one
transaction (each owns its one commit); keep it that way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_ABSENT: Any = object()
"""Remembered for an id that named nothing (a new row would have changed the generation)."""


class Remembered(Generic[K, V]):
    """Values derived from master data, by key, for the current generation only.

    Values are immutable (frozen records, read-only row mappings), so threads share them. A
    transaction that read generation G may reuse what another derived under G: both saw the
    same master data, or one of them raced a commit exactly as it would have without this
    memory. Holds at most ``size`` values: when full, it starts afresh.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._generation: str | None = None
        self._values: dict[K, V] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._values)

    def get_many(self, generation: str, keys: Iterable[K]) -> dict[K, V]:
        """The values remembered for ``keys`` under ``generation`` (the others are left out)."""
        with self._lock:
            if generation != self._generation:
                return {}
            return {key: self._values[key] for key in keys if key in self._values}

    def put_many(self, generation: str, values: Mapping[K, V]) -> None:
        """Remember ``values``, derived under ``generation`` (forgetting any other's)."""
        with self._lock:
            if generation != self._generation:
                self._generation, self._values = generation, {}
            if len(self._values) + len(values) > self._size:
                self._values.clear()
            self._values.update(values)


class RememberedRows(Generic[K, V]):
    """One kind of master-data row by id, for the current generation only; ids that named
    nothing are remembered too."""

    def __init__(self, load: Callable[[Session, set[K]], Mapping[K, V | None]], size: int) -> None:
        self._load = load
        self._memory: Remembered[K, Any] = Remembered(size)

    def __len__(self) -> int:
        return len(self._memory)

    def get_many(self, session: Session, generation: str, ids: Iterable[K]) -> dict[K, V]:
        """The rows among ``ids`` (ids naming nothing are left out), read under
        ``generation`` by this or an earlier transaction; only the rest is loaded."""
        wanted = set(ids)
        found = self._memory.get_many(generation, wanted)
        missing = wanted - found.keys()
        if missing:
            loaded = self._load(session, missing)
            fresh = {key: _ABSENT if loaded.get(key) is None else loaded[key] for key in missing}
            self._memory.put_many(generation, fresh)
            found.update(fresh)
        return {key: row for key, row in found.items() if row is not _ABSENT}
