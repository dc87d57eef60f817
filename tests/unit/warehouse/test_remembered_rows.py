"""RememberedRows: rows read under one master-data generation, reused only under it.

The loader stands in for the database (a function over a dict that counts what it was
asked), so these tests show what is read again and what is not without a database; the
integration tests (tests/integration/test_custody_memory.py) show the generation moving with
real master-data writes on both engines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from warehouse.services.remembered import RememberedRows

SESSION: Any = None  # the loader below never uses it


class Table:
    """A stand-in for one master-data table: its rows, and the ids each load asked for."""

    def __init__(self, rows: dict[str, str]) -> None:
        self.rows = rows
        self.asked: list[set[str]] = []

    def load(self, _session: Any, ids: set[str]) -> Mapping[str, str | None]:
        self.asked.append(set(ids))
        return {key: self.rows[key] for key in ids if key in self.rows}


def test_rows_read_under_a_generation_are_not_read_again_under_it() -> None:
    table = Table({"a": "A", "b": "B"})
    memory = RememberedRows(table.load, size=100)
    assert memory.get_many(SESSION, "g1", ["a"]) == {"a": "A"}
    assert memory.get_many(SESSION, "g1", ["a", "b"]) == {"a": "A", "b": "B"}
    assert table.asked == [{"a"}, {"b"}]


def test_an_id_that_named_nothing_is_remembered_as_nothing() -> None:
    table = Table({"a": "A"})
    memory = RememberedRows(table.load, size=100)
    assert memory.get_many(SESSION, "g1", ["zz"]) == {}
    assert memory.get_many(SESSION, "g1", ["zz", "a"]) == {"a": "A"}
    assert table.asked == [{"zz"}, {"a"}]


def test_another_generation_reads_everything_again() -> None:
    table = Table({"a": "A"})
    memory = RememberedRows(table.load, size=100)
    memory.get_many(SESSION, "g1", ["a", "zz"])
    table.rows.update(a="A renamed", zz="new")
    assert memory.get_many(SESSION, "g2", ["a", "zz"]) == {"a": "A renamed", "zz": "new"}
    assert table.asked == [{"a", "zz"}, {"a", "zz"}]


def test_a_late_reader_of_an_older_generation_does_not_keep_the_newer_rows() -> None:
    """A transaction that read g1 before a change, finishing after one that read g2, replaces
    the memory with g1's rows; a g2 reader then reads again rather than take g1's."""
    table = Table({"a": "old"})
    memory = RememberedRows(table.load, size=100)
    table.rows["a"] = "new"
    assert memory.get_many(SESSION, "g2", ["a"]) == {"a": "new"}
    table.rows["a"] = "old"  # what the g1 transaction's snapshot still shows
    assert memory.get_many(SESSION, "g1", ["a"]) == {"a": "old"}
    table.rows["a"] = "new"
    assert memory.get_many(SESSION, "g2", ["a"]) == {"a": "new"}


def test_the_memory_never_holds_more_than_its_size() -> None:
    table = Table({str(n): f"row {n}" for n in range(10)})
    memory = RememberedRows(table.load, size=4)
    for n in range(10):
        assert memory.get_many(SESSION, "g1", [str(n)]) == {str(n): f"row {n}"}
    assert len(memory) <= 4
