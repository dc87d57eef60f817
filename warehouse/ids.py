"""Opaque, time-ordered identifiers (UUIDv7, RFC 9562) for rows and API objects.

Time ordering keeps B-tree inserts local on append-only tables; 74 random bits keep ids
unguessable, so another organisation's object cannot be found by counting.

>>> a, b = new_id(), new_id()
>>> a.version, a < b
(7, True)
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> uuid.UUID:
    """Return a new UUIDv7: 48-bit Unix milliseconds, a 12-bit counter, then random bits.

    The counter (RFC 9562 §6.2, method 1) keeps ids minted in the same millisecond by this
    process strictly increasing.
    """
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            now_ms = _last_ms
        else:
            _last_ms = now_ms
            _counter = 0
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (now_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76 | counter << 64
    value |= 0b10 << 62 | rand
    return uuid.UUID(int=value)
