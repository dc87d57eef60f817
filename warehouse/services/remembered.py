"""Master-data rows this process read, reused while the master-data generation stays the same.

A movement batch reads the locations, organisations and catalogue devices it names. They are
master data: every write to them replaces the master-data generation (migration 0016), and
every organisation may read them (migration 0014's ``tenant_read`` policies), so what one
transaction read under generation G is what any other transaction reading G would read. A
batch that read G first may therefore take them from here instead of three more round trips
(custody facts are remembered the same way: warehouse/services/custody.py).

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


class RememberedRows(Generic[K, V]):
    """One kind of master-data row by id, for the current generation only.

    Rows are immutable values (frozen records, read-only row mappings), shared by threads.
    """

    def __init__(self, load: Callable[[Session, set[K]], Mapping[K, V | None]], size: int) -> None:
        self._load = load
        self._size = size
        self._generation: str | None = None
        self._rows: dict[K, Any] = {}
        self._lock = threading.Lock()

    def get_many(self, session: Session, generation: str, ids: Iterable[K]) -> dict[K, V]:
        """The rows among ``ids`` (ids naming nothing are left out), read under
        ``generation`` by this or an earlier transaction; only the rest is loaded."""
        wanted = set(ids)
        found: dict[K, V] = {}
        with self._lock:
            if generation == self._generation:
                for key in list(wanted):
                    row = self._rows.get(key, None)
                    if row is not None:
                        wanted.discard(key)
                        if row is not _ABSENT:
                            found[key] = row
        if not wanted:
            return found
        loaded = self._load(session, wanted)
        with self._lock:
            if generation != self._generation:
                self._generation, self._rows = generation, {}
            if len(self._rows) + len(wanted) > self._size:
                self._rows.clear()
            for key in wanted:
                row = loaded.get(key)
                self._rows[key] = _ABSENT if row is None else row
                if row is not None:
                    found[key] = row
        return found
