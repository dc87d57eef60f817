"""Benchmark: a recall of one lot of 100,000 serialised units, hold included, on PostgreSQL.

Builds (with COPY) a lot of ``--units`` stent serials spread over ``--holders`` holder
locations of the test world (tests/movements_world.py), their receiving events (500 serials per
event), and ``--noise`` units of other lots with their events, so the recall's queries run
against a table that is not just the recalled lot. Then it measures, best of ``--repeats``
runs, each inside a transaction rolled back afterwards so every run sees the same data:

* ``service``: :func:`warehouse.services.recalls.create` — blast radius, the holding events,
  the stock moves, the one ``UPDATE`` of the units, the audit seal, and the answer with its
  progress per holder;
* ``blast radius``: the read-only part alone;
* ``raw``: the floor — two bare statements setting the same units and stock rows to
  ``recalled`` (``UPDATE units … WHERE di AND lot``, ``UPDATE stock …``), no events.

Run: ``.venv/bin/python -m bench.recall`` (PostgreSQL from ``TEST_DATABASE_URL`` or the local
server; it creates and drops a scratch database). ``--sqlite`` runs the same on SQLite.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import flask_migrate
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bench._common import print_table, write_results
from bench.events import scratch_database
from tests.movements_world import STENT, World, build_world
from warehouse.domain.movements import UnitStatus
from warehouse.domain.recalls import RecallClass, RecallScope
from warehouse.domain.roles import Principal, Role
from warehouse.ids import new_id
from warehouse.services import recalls
from wsgi import create_app

LOT = "RC-2026-001"
EXPIRY = date(2029, 12, 31)
PER_EVENT = 500
HOLDER_PLACES = (
    ("P", "W-P/A"),
    ("P", "W-P/B"),
    ("P", "W-P/Q"),
    ("S", "W-S/A"),
    ("S", "W-S/B"),
    ("S60", "W-S60/A"),
    ("X", "W-X/A"),
    ("X", "W-X/B"),
    ("H", "W-H/A"),
    ("H", "W-H/DEPT"),
    ("M", "W-M/A"),
    ("M", "W-M/B"),
)


def progress(label: str, done: int, total: int) -> None:
    """A one-line progress bar on stderr."""
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    print(f"\r{label:<24} [{bar}] {done:>9,}/{total:,}", end="", file=sys.stderr, flush=True)
    if done >= total:
        print(file=sys.stderr, flush=True)


def build(engine: Engine, world: World, units: int, holders: int, noise: int) -> dict[str, Any]:
    """COPY the recalled lot, the noise lots, their receiving events and the stock balances."""
    places = [HOLDER_PLACES[i % len(HOLDER_PLACES)] for i in range(holders)]
    warehouse_of = {world[f"{place}"]: world[place.split("/")[0]] for _, place in HOLDER_PLACES}
    now = datetime.now(UTC)
    unit_rows: list[tuple[Any, ...]] = []
    balances: Counter[tuple[Any, ...]] = Counter()
    lots = [(LOT, units)] + [(f"N{n:05d}", 1000) for n in range(noise // 1000)]
    serial = 0
    for lot, count in lots:
        for n in range(count):
            org, place = places[n % len(places)]
            owner = possessor = world[org]
            location = world[place]
            serial += 1
            unit_rows.append(
                (
                    new_id(),
                    STENT,
                    f"B{serial:09d}",
                    lot,
                    EXPIRY,
                    owner,
                    possessor,
                    warehouse_of[location],
                    location,
                    UnitStatus.AVAILABLE.value,
                    0,
                    uuid.UUID(int=serial),
                    now,
                )
            )
            balances[(owner, possessor, warehouse_of[location], location, lot)] += 1
    event_rows, item_rows = [], []
    batch_id = new_id()
    for start in range(0, len(unit_rows), PER_EVENT):
        chunk = unit_rows[start : start + PER_EVENT]
        event_id = new_id()
        first = chunk[0]
        event_rows.append(
            (
                event_id,
                uuid.uuid4(),
                "object",
                "OBSERVE",
                "receiving",
                "in_progress",
                now,
                "+08:00",
                now,
                first[8],
                first[7],
                first[5],
                first[5],
                first[5],
                "[]",
                "0" * 64,
                batch_id,
            )
        )
        for unit in chunk:
            item_rows.append((new_id(), event_id, STENT, unit[2], unit[3], 1, EXPIRY))
    stock_rows = [
        (new_id(), *key[:4], STENT, key[4], UnitStatus.AVAILABLE.value, EXPIRY, count, now)
        for key, count in balances.items()
    ]
    copies = (
        (
            "units",
            "id, di, serial, lot, expiry, owner_id, possessor_id, warehouse_id, location_id, "
            "status, version, last_event_id, updated_at",
            unit_rows,
        ),
        (
            "events",
            "id, event_id, event_type, action, biz_step, disposition, event_time, "
            "event_time_offset, recorded_at, location_id, warehouse_id, acting_org_id, "
            "owner_id, possessor_id, documents, event_hash, batch_id",
            event_rows,
        ),
        ("event_items", "id, event_id, di, serial, lot, quantity, expiry", item_rows),
        (
            "stock",
            "id, owner_id, possessor_id, warehouse_id, location_id, di, lot, status, expiry, "
            "quantity, updated_at",
            stock_rows,
        ),
    )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, columns, rows in copies:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for n, row in enumerate(rows, 1):
                    copy.write_row(row)
                    if n % 20_000 == 0 or n == len(rows):
                        progress(f"COPY {table}", n, len(rows))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return {"units": len(unit_rows), "events": len(event_rows), "balances": len(stock_rows)}


def build_sqlite(session: Session, world: World, units: int, holders: int, noise: int) -> None:
    """The same data with executemany inserts (SQLite has no COPY)."""
    from warehouse import tables

    places = [HOLDER_PLACES[i % len(HOLDER_PLACES)] for i in range(holders)]
    now = datetime.now(UTC)
    balances: Counter[tuple[Any, ...]] = Counter()
    rows = []
    serial = 0
    for lot, count in [(LOT, units)] + [(f"N{n:05d}", 1000) for n in range(noise // 1000)]:
        for n in range(count):
            org, place = places[n % len(places)]
            warehouse = world[place.split("/")[0]]
            serial += 1
            rows.append(
                {
                    "id": new_id(),
                    "di": STENT,
                    "serial": f"B{serial:09d}",
                    "lot": lot,
                    "expiry": EXPIRY,
                    "owner_id": world[org],
                    "possessor_id": world[org],
                    "warehouse_id": warehouse,
                    "location_id": world[place],
                    "status": "available",
                    "version": 0,
                    "last_event_id": uuid.UUID(int=serial),
                    "updated_at": now,
                }
            )
            balances[(world[org], warehouse, world[place], lot)] += 1
    session.execute(tables.units.insert(), rows)
    session.execute(
        tables.stock.insert(),
        [
            {
                "id": new_id(),
                "owner_id": org,
                "possessor_id": org,
                "warehouse_id": warehouse,
                "location_id": location,
                "di": STENT,
                "lot": lot,
                "status": "available",
                "expiry": EXPIRY,
                "quantity": count,
                "updated_at": now,
            }
            for (org, warehouse, location, lot), count in balances.items()
        ],
    )
    session.commit()


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session whose commits are savepoints inside a transaction rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    session = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")()
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def vacuum(engine: Engine) -> None:
    """Reclaim the rolled-back run's dead rows, so every run starts from the same tables."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE units, stock, events, event_items, recall_holds"))


def best_ms(engine: Engine, run: Callable[[], None], repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        vacuum(engine)
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), times


def run_engine(name: str, args: argparse.Namespace) -> dict[str, Any]:
    with scratch_database(name) as url:
        app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
        with app.app_context():
            flask_migrate.upgrade()
        engine: Engine = app.extensions["udi_db"].engine
        session = app.extensions["udi_db"].session_factory()
        world = build_world(session)
        missing = [place for _, place in HOLDER_PLACES if place not in world.ids]
        if missing:
            raise SystemExit(f"Expected the world to have locations {missing}, got none.")
        session.commit()
        started = time.perf_counter()
        if name == "postgresql":
            sizes = build(engine, world, args.units, args.holders, args.noise)
        else:
            build_sqlite(session, world, args.units, args.holders, args.noise)
            sizes = {"units": args.units + args.noise}
        build_s = time.perf_counter() - started
        principal = Principal(
            token_id=uuid.UUID(int=1),
            organisation_id=world["M"],
            roles=frozenset({Role.ORG_MANAGER}),
            jurisdiction=None,
        )
        new = recalls.NewRecall(STENT, "bench", RecallClass.I, lots=(LOT,))
        held: list[int] = []

        def service() -> None:
            with rolled_back(engine) as scratch:
                recall = recalls.create(scratch, principal, new)
                held.append(recall["held_quantity"])

        def radius() -> None:
            with rolled_back(engine) as scratch:
                recalls.blast_radius(scratch, RecallScope(STENT, (LOT,), ()), True)

        holdable = ", ".join(f"'{s}'" for s in recalls.HOLDABLE)

        def raw() -> None:
            with rolled_back(engine) as scratch:
                for table in ("units", "stock"):
                    scratch.execute(
                        text(
                            f"UPDATE {table} SET status = 'recalled' WHERE di = :di "
                            f"AND lot = :lot AND status IN ({holdable})"
                        ),
                        {"di": STENT, "lot": LOT},
                    )

        raw_ms, raw_all = best_ms(engine, raw, args.repeats)
        radius_ms, _ = best_ms(engine, radius, args.repeats)
        service_ms, service_all = best_ms(engine, service, args.repeats)
        assert set(held) == {args.units}, held
        session.close()
        engine.dispose()
    return {
        "engine": name,
        **sizes,
        "recalled_units": args.units,
        "holder_locations": args.holders,
        "build_s": round(build_s, 1),
        "service_ms": round(service_ms),
        "service_runs_ms": [round(t) for t in service_all],
        "blast_radius_ms": round(radius_ms),
        "raw_update_ms": round(raw_ms),
        "raw_runs_ms": [round(t) for t in raw_all],
        "ratio": round(service_ms / raw_ms, 2),
        "goal_ms": 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000, help="units in the recalled lot")
    parser.add_argument("--holders", type=int, default=12, help="holder locations (<= 12)")
    parser.add_argument("--noise", type=int, default=200_000, help="units of other lots")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="also run on SQLite")
    args = parser.parse_args()
    engines = ["postgresql"] + (["sqlite"] if args.sqlite else [])
    rows = [run_engine(engine, args) for engine in engines]
    print_table(
        ["engine", "units", "holders", "service ms", "blast radius ms", "raw UPDATE ms", "ratio"],
        [
            [
                r["engine"],
                f"{r['recalled_units']:,}",
                r["holder_locations"],
                r["service_ms"],
                r["blast_radius_ms"],
                r["raw_update_ms"],
                f"{r['ratio']:.2f}x",
            ]
            for r in rows
        ],
    )
    path = write_results("recall", {"args": vars(args), "rows": rows})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
