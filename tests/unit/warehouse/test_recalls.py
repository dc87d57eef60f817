"""The pure recall rules: scope parsing, classes and progress counting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.domain.recalls import (
    MAX_SERIALS,
    InvalidScope,
    RecallClass,
    RecallScope,
    progress,
)


def test_a_scope_names_lots_or_serials_deduplicated_and_sorted() -> None:
    scope = RecallScope.parse("06931234100041", ["L2", "L1", "L2"], ["S9", "S1"])
    assert (scope.lots, scope.serials, scope.by_lot) == (("L1", "L2"), ("S1", "S9"), True)
    assert not RecallScope.parse("06931234100041", [], ["S1"]).by_lot


@pytest.mark.parametrize(
    ("di", "lots", "serials", "fields"),
    [
        ("06931234100041", [], [], ["lots"]),
        ("", ["L1"], [], ["di"]),
        ("06931234100041", [" L1"], [], ["lots"]),
        ("06931234100041", [], ["S" * 101], ["serials"]),
        ("06931234100041", [], [f"S{n}" for n in range(MAX_SERIALS + 1)], ["serials"]),
        ("x" * 101, [""], [], ["di", "lots"]),
    ],
)
def test_a_bad_scope_lists_every_fault(
    di: str, lots: list[str], serials: list[str], fields: list[str]
) -> None:
    with pytest.raises(InvalidScope) as raised:
        RecallScope.parse(di, lots, serials)
    assert [e.field for e in raised.value.errors] == fields
    assert {e.code for e in raised.value.errors} == {"recall.scope"}
    assert all(e.message.startswith("Expected ") for e in raised.value.errors)


def test_classes_carry_the_notification_deadline() -> None:
    assert [(c.label_zh, c.notify_within_days) for c in RecallClass] == [
        ("一级召回", 1),
        ("二级召回", 3),
        ("三级召回", 7),
    ]


@given(
    held=st.integers(0, 1000),
    outstanding=st.integers(0, 1000),
    returned=st.integers(0, 1000),
    destroyed=st.integers(0, 1000),
)
def test_accounted_for_comes_from_the_hold_not_from_adding_events(
    held: int, outstanding: int, returned: int, destroyed: int
) -> None:
    counted = progress(held=held, outstanding=outstanding, returned=returned, destroyed=destroyed)
    assert counted.accounted_for == max(held - outstanding, 0)
    assert counted.done == (outstanding == 0)
    assert (counted.returned, counted.destroyed) == (returned, destroyed)
