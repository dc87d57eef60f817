"""Monthly partitions of events and event_items (PostgreSQL, migration 0013) and event_keys,
the table that keeps client event ids unique on both engines (docs/scaling.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import flask_migrate
import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from tests.movements_world import World, build_world, gauze, stent
from warehouse import tables
from warehouse.domain.movements import BizStep as B
from warehouse.ids import new_id
from warehouse.services import partitions
from warehouse.services.partitions import month_start, next_month, partition_name, uuid7_floor

THIS_MONTH = month_start(datetime.now(UTC))


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


@pytest.fixture
def postgresql(engine_name: str) -> None:
    if engine_name != "postgresql":
        pytest.skip("partitions are PostgreSQL's; SQLite keeps plain tables")


def _months_after(month: date, n: int) -> date:
    for _ in range(n):
        month = next_month(month)
    return month


def _uuid7_in(month: date) -> uuid.UUID:
    """A valid UUIDv7 in the middle of ``month``."""
    ms = (uuid7_floor(month).int >> 80) + 14 * 86_400_000
    return uuid.UUID(int=ms << 80 | 0x7 << 76 | 0b10 << 62 | 12345)


def _partition_of(session: Session, table: str, column: str, value: uuid.UUID) -> str:
    found = session.execute(
        text(f"SELECT tableoid::regclass::text FROM {table} WHERE {column} = :v"), {"v": value}
    ).scalar_one()
    return str(found)


def _copy_event(session: Session, server_id: uuid.UUID, new_server_id: uuid.UUID) -> None:
    """Insert a copy of a stored event and its items under another server id (and client id),
    around the service: how a row the months do not cover gets in."""
    event = dict(
        session.execute(select(tables.events).where(tables.events.c.id == server_id))
        .mappings()
        .one()
    )
    items = session.execute(
        select(tables.event_items).where(tables.event_items.c.event_id == server_id)
    ).mappings()
    copies = [{**item, "id": new_id(), "event_id": new_server_id} for item in items]
    session.execute(
        tables.events.insert().values({**event, "id": new_server_id, "event_id": uuid.uuid4()})
    )
    session.execute(tables.event_items.insert(), copies)
    session.commit()


def _listed(result: Result) -> list[str]:
    """The partition column of the command's table."""
    rows = [line.split() for line in result.output.splitlines()]
    return [row[1] for row in rows if row and row[0] in ("events", "event_items")]


def _run(runner: FlaskCliRunner, *args: str) -> Result:
    result = runner.invoke(args=["events", "partitions", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


# --- Months as UUIDv7 ranges (no database) ------------------------------------------------------


def test_a_month_is_the_range_of_ids_minted_in_it() -> None:
    now = datetime.now(UTC)
    minted = new_id()
    month = month_start(now)
    assert uuid7_floor(month) <= minted < uuid7_floor(next_month(month))
    assert str(uuid7_floor(date(2026, 11, 1))) == "01a19467-e800-0000-0000-000000000000"
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert list(partitions.months_from(date(2026, 11, 17), 2)) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]
    assert partition_name("events", date(2027, 1, 1)) == "events_p202701"


# --- PostgreSQL: the partitioned tables ---------------------------------------------------------


@pytest.mark.usefixtures("postgresql")
def test_events_and_items_are_partitioned_by_month_of_the_server_id(db_session: Session) -> None:
    keys = dict(
        db_session.execute(
            text(
                "SELECT c.relname, pg_get_partkeydef(c.oid) FROM pg_class c"
                " WHERE c.relname IN ('events', 'event_items') AND c.relkind = 'p'"
            )
        ).all()
    )
    assert keys == {"events": "RANGE (id)", "event_items": "RANGE (event_id)"}
    bounds = dict(
        db_session.execute(
            text(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
                " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
            )
        ).all()
    )
    assert bounds["events_default"] == "DEFAULT"
    for ahead in range(partitions.DEFAULT_MONTHS_AHEAD + 1):
        month = _months_after(THIS_MONTH, ahead)
        low, high = uuid7_floor(month), uuid7_floor(next_month(month))
        # The migration's arithmetic and the maintenance command's agree on every bound.
        assert bounds[partition_name("events", month)] == (
            f"FOR VALUES FROM ('{low}') TO ('{high}')"
        )


@pytest.mark.usefixtures("postgresql")
def test_a_new_event_and_its_items_land_in_the_current_months_partition(world: World) -> None:
    outcome = world.ok(B.RECEIVING, "P", [stent("S1"), stent("S2")], at="W-P/Q", owner="X")
    server_id = uuid.UUID(outcome.id)
    expected = partition_name("events", THIS_MONTH)
    assert _partition_of(world.session, "events", "id", server_id) == expected
    items = world.session.execute(
        text("SELECT DISTINCT tableoid::regclass::text FROM event_items WHERE event_id = :v"),
        {"v": server_id},
    ).scalars()
    assert list(items) == [partition_name("event_items", THIS_MONTH)]
    world.session.rollback()


@pytest.mark.usefixtures("postgresql")
def test_an_event_of_a_month_without_a_partition_lands_in_default_and_is_reported(
    world: World, runner: FlaskCliRunner
) -> None:
    outcome = world.ok(B.RECEIVING, "P", [gauze(3)], at="W-P/Q", owner="X")
    far = _uuid7_in(date(2200, 1, 1))
    _copy_event(world.session, uuid.UUID(outcome.id), far)
    assert _partition_of(world.session, "events", "id", far) == "events_default"
    assert _partition_of(world.session, "event_items", "event_id", far) == "event_items_default"
    world.session.rollback()
    result = _run(runner)
    lines = result.output.splitlines()
    assert any(line.split()[:4] == ["events", "events_default", "DEFAULT", "1"] for line in lines)
    assert "warning: events_default holds 1 row(s)" in result.output
    assert "warning: event_items_default holds 1 row(s)" in result.output
    assert "events_p220001" not in result.output  # nothing is moved out of DEFAULT


@pytest.mark.usefixtures("postgresql")
def test_the_command_creates_the_months_ahead_once(
    db_session: Session, runner: FlaskCliRunner
) -> None:
    five = _months_after(THIS_MONTH, 5)
    first = _run(runner, "--months-ahead", "5")
    created = [line.split()[1] for line in first.output.splitlines() if line.startswith("created")]
    assert created == [
        partition_name(table, _months_after(THIS_MONTH, ahead))
        for ahead in (4, 5)
        for table in ("events", "event_items")
    ]
    again = _run(runner, "--months-ahead", "5")
    assert not [line for line in again.output.splitlines() if line.startswith("created")]
    assert "nothing created" in again.output
    listed = _listed(again)
    assert partition_name("events", five) in listed
    assert partition_name("event_items", five) in listed
    assert listed == _listed(first)
    new = partition_name("event_items", five)
    security = db_session.execute(
        text("SELECT relrowsecurity FROM pg_class WHERE relname = :n"), {"n": new}
    ).scalar_one()
    assert security is True  # the restricted role cannot read a partition around the policy
    triggers = db_session.execute(
        text(
            "SELECT tgname FROM pg_trigger"
            " WHERE tgrelid = CAST(:n AS regclass) AND NOT tgisinternal"
        ),
        {"n": new},
    ).scalars()
    assert list(triggers) == ["event_items_append_only"]  # cloned from the parent
    db_session.rollback()


@pytest.mark.usefixtures("postgresql")
def test_a_month_whose_rows_wait_in_default_is_skipped_and_named(
    world: World, runner: FlaskCliRunner
) -> None:
    outcome = world.ok(B.RECEIVING, "P", [gauze(2)], at="W-P/Q", owner="X")
    stranded = _months_after(THIS_MONTH, 5)
    _copy_event(world.session, uuid.UUID(outcome.id), _uuid7_in(stranded))
    result = _run(runner, "--months-ahead", "5")
    assert f"created {partition_name('events', _months_after(THIS_MONTH, 4))}" in result.output
    assert partition_name("events", stranded) not in result.output
    assert f"warning: no partition created for {stranded:%Y-%m}" in result.output


def _as_restricted(session: Session, org: uuid.UUID, *queries: str) -> list[int]:
    """Counts answered to the restricted role of migration 0009 acting for ``org``."""
    connection = session.connection()
    savepoint = connection.begin_nested()
    try:
        for name, value in (("role", "udi_rls"), ("udi.org_id", str(org))):
            connection.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
        connection.execute(text("SELECT set_config('udi.rls_bypass', 'off', true)"))
        return [connection.execute(text(query)).scalar_one() for query in queries]
    finally:
        savepoint.rollback()


@pytest.mark.usefixtures("postgresql")
def test_the_restricted_role_reads_events_and_keys_through_their_policies_only(
    world: World, db_session: Session
) -> None:
    world.ok(B.RECEIVING, "X", [stent("R1")], at="W-X/Q", owner="X")
    month = partition_name("events", THIS_MONTH)
    queries = (
        "SELECT count(*) FROM events",
        f"SELECT count(*) FROM {month}",  # a partition, read around the parent's policy
        "SELECT count(*) FROM event_keys",
    )
    assert _as_restricted(db_session, world["X"], *queries) == [1, 0, 1]
    assert _as_restricted(db_session, world["H"], *queries) == [0, 0, 0]


# --- Both engines: client event ids stay unique through event_keys ----------------------------


def test_a_replayed_event_is_a_duplicate_and_keeps_one_key(world: World) -> None:
    event = world.event(B.RECEIVING, "P", [stent("K1")], location_id=world["W-P/Q"])
    first = world.record(event).results[0]
    again = world.record(event).results[0]
    assert (first.status, again.status, again.id) == ("accepted", "duplicate", first.id)
    keys = world.session.execute(
        select(tables.event_keys.c.id).where(tables.event_keys.c.event_id == event.event_id)
    ).scalars()
    assert list(keys) == [uuid.UUID(first.id)]
    world.session.rollback()


def test_the_database_refuses_a_second_key_for_one_client_event_id(world: World) -> None:
    event = world.event(B.RECEIVING, "P", [stent("K2")], location_id=world["W-P/Q"])
    world.record(event)
    with pytest.raises(IntegrityError), world.session.begin_nested():
        world.session.execute(
            tables.event_keys.insert().values(event_id=event.event_id, id=new_id())
        )
    world.session.rollback()
    count = world.session.execute(select(func.count()).select_from(tables.event_keys))
    assert count.scalar_one() == 1
    world.session.rollback()


@pytest.mark.parametrize(
    "statement", ["UPDATE event_keys SET id = event_id", "DELETE FROM event_keys"]
)
def test_event_keys_are_append_only(world: World, statement: str) -> None:
    world.ok(B.RECEIVING, "P", [stent("K3")], at="W-P/Q", owner="X")
    with pytest.raises(DBAPIError, match="append-only"), world.session.begin_nested():
        world.session.execute(text(statement))
    world.session.rollback()


def test_the_command_does_nothing_on_sqlite(engine_name: str, runner: FlaskCliRunner) -> None:
    if engine_name != "sqlite":
        pytest.skip("SQLite only")
    result = _run(runner)
    assert "not partitioned" in result.output
    assert "created" not in result.output


# --- The migration, down and up again, with data ------------------------------------------------


@pytest.fixture
def migrated_world(own_app: Flask) -> Iterator[tuple[Flask, World]]:
    session = own_app.extensions["udi_db"].session_factory()
    world = build_world(session)
    try:
        yield own_app, world
    finally:
        session.close()  # return the connection before the database is dropped


def _history(session: Session) -> tuple[Any, ...]:
    events = session.execute(
        select(tables.events.c.id, tables.events.c.event_id).order_by(tables.events.c.id)
    ).all()
    items = session.execute(
        select(tables.event_items.c.id, tables.event_items.c.event_id).order_by(
            tables.event_items.c.id
        )
    ).all()
    session.rollback()
    return tuple(events), tuple(items)


def test_downgrade_and_upgrade_keep_every_event_and_its_keys(
    migrated_world: tuple[Flask, World],
) -> None:
    app, world = migrated_world
    world.receive_stock("P", "W-P", [stent("M1"), stent("M2"), gauze(4)], owner="X")
    before = _history(world.session)
    world.session.close()
    with app.app_context():
        flask_migrate.downgrade(revision="0012")
    session = world.session
    plain = session.execute(text("SELECT count(*) FROM events")).scalar_one()
    assert plain == len(before[0])
    if session.get_bind().dialect.name == "postgresql":
        kinds = session.execute(
            text("SELECT relkind FROM pg_class WHERE relname IN ('events', 'event_items')")
        ).scalars()
        assert set(kinds) == {"r"}
    session.rollback()
    session.close()
    with app.app_context():
        flask_migrate.upgrade()
    assert _history(session) == before
    keys = session.execute(select(tables.event_keys.c.event_id, tables.event_keys.c.id)).all()
    session.rollback()
    assert sorted((i, e) for e, i in keys) == sorted(before[0])
    # The restored key still answers a replay as a duplicate.
    event = world.event(B.RECEIVING, "P", [stent("M3")], location_id=world["W-P/Q"])
    first = world.record(event).results[0]
    assert world.record(event).results[0].status == "duplicate"
    assert first.status == "accepted"
