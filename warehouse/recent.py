"""A small per-process memory of recent look-ups, for the few reads every request repeats.

Each request of a busy handheld used to spend two extra transactions before its scan was
even read: its token (``api_tokens``) and its device (``scanner_devices``). Both change
rarely, and a change must still take effect promptly, so they are remembered for a few
seconds only (``UDI_AUTH_CACHE_SECONDS``, default 2; 0 turns this off) and forgotten at once
in the process that revokes them. docs/security.md states the bound this puts on revocation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Values stored in the last ``seconds`` (monotonic clock), at most ``size`` of them."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        if seconds < 0:
            raise ValueError(f"Expected seconds >= 0, got {seconds}.")
        self.seconds = seconds
        self._size = size
        self._items: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        self._forgot_at = float("-inf")

    def get(self, key: K) -> V | None:
        """The value stored under ``key`` less than ``seconds`` ago, else None."""
        found = self._items.get(key)
        if found is None:
            return None
        stored_at, value = found
        if time.monotonic() - stored_at >= self.seconds:
            self._items.pop(key, None)
            return None
        return value

    @staticmethod
    def now() -> float:
        """The clock :meth:`put` compares ``read_at`` with: take it before reading a value."""
        return time.monotonic()

    def put(self, key: K, value: V, read_at: float | None = None) -> None:
        """Remember ``value`` (nothing, when turned off); the oldest entry goes when full.

        ``read_at`` (:meth:`now` before the value was read): a value read before the latest
        :meth:`forget` is not remembered — it may be the very value that was forgotten, read
        by a request that raced the revocation.
        """
        if self.seconds == 0:
            return
        with self._lock:
            if read_at is not None and read_at <= self._forgot_at:
                return
            if key not in self._items and len(self._items) >= self._size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = (time.monotonic(), value)

    def forget(self, matches: Callable[[V], bool]) -> None:
        """Drop every value ``matches`` selects (a revoked token, a changed device)."""
        with self._lock:
            self._forgot_at = time.monotonic()
            items = list(self._items.items())  # one C call: safe while get() pops meanwhile
            for key, (_, value) in items:
                if matches(value):
                    self._items.pop(key, None)
