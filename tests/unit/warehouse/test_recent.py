"""warehouse/recent.py: a few seconds' memory of look-ups, bounded in time and size."""

from __future__ import annotations

import time

import pytest

from warehouse.recent import Recent


def test_a_value_is_returned_until_its_seconds_are_up() -> None:
    recent = Recent[str, int](0.2)
    recent.put("token", 1)
    assert recent.get("token") == 1
    time.sleep(0.25)
    assert recent.get("token") is None


def test_zero_seconds_remembers_nothing() -> None:
    recent = Recent[str, int](0)
    recent.put("token", 1)
    assert recent.get("token") is None


def test_forget_drops_the_values_it_selects() -> None:
    recent = Recent[str, int](60)
    recent.put("a", 1)
    recent.put("b", 2)
    recent.forget(lambda value: value == 1)
    assert (recent.get("a"), recent.get("b")) == (None, 2)


def test_when_full_the_oldest_entry_goes() -> None:
    recent = Recent[str, int](60, size=2)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        recent.put(key, value)
    assert [recent.get(k) for k in "abc"] == [None, 2, 3]


def test_negative_seconds_are_refused() -> None:
    with pytest.raises(ValueError, match="Expected seconds >= 0, got -1"):
        Recent[str, int](-1)


def test_a_value_read_before_a_forget_is_not_remembered() -> None:
    """A request that read a token just before it was revoked must not store it back."""
    recent = Recent[str, int](60)
    read_at = recent.now()
    recent.forget(lambda value: value == 1)  # the revocation, while the request was reading
    recent.put("token", 1, read_at)
    assert recent.get("token") is None
    recent.put("token", 1, recent.now())  # read afresh after the forget: remembered
    assert recent.get("token") == 1
