"""Benchmark: movement events recorded through the service layer vs raw inserts of the same rows.

For each engine (SQLite file in WAL mode; PostgreSQL scratch database) and two workloads —
``receiving`` new serialised units (custody check, new unit rows, stock upserts) and
``picking`` them (compare-and-set on each unit, conditional stock updates) — it measures:

* ``service``: events/s through :func:`warehouse.services.movements.record`, one event per
  call ("single") or 500 per call ("batch");
* ``raw``: events/s inserting only the same ``events`` + ``event_items`` rows with Core
  ``executemany``, one transaction per event or per 500 events — the floor the service is
  compared with (ratio = service / raw; goal >= 0.3 for batches);
* ``queries/call``: SQL statements the service sent per ``record`` call (counted with a
  ``before_cursor_execute`` listener; an ``executemany`` counts once; ``BEGIN IMMEDIATE``
  counts on SQLite, while psycopg's own ``BEGIN``/``COMMIT`` do not), and how many of them
  the audit seal sent.

Run: ``.venv/bin/python -m bench.events`` (PostgreSQL from ``TEST_DATABASE_URL`` or the local
server; it creates and drops a scratch database).
"""

from __future__ import annotations

import itertools
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import flask_migrate
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from bench._common import best_rate, print_table, scratch_database, write_results
from tests.movements_world import World, build_world, stent
from warehouse import tables
from warehouse.domain.movements import BizStep
from warehouse.ids import new_id
from warehouse.services import movements
from warehouse.services.access import SYSTEM
from warehouse.services.movements import NewEvent
from wsgi import create_app

BATCH = 500
BATCHES = int(os.environ.get("BENCH_BATCHES", "6"))
SINGLES = int(os.environ.get("BENCH_SINGLES", "300"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def raw_rows(world: World, events: list[NewEvent]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The ``events`` and ``event_items`` rows the service would write for ``events``."""
    now = datetime.now(UTC)
    batch_id = new_id()
    event_rows, item_rows = [], []
    for event in events:
        event_id = new_id()
        event_rows.append(
            {
                "id": event_id,
                "event_id": uuid.uuid4(),
                "event_type": "object",
                "action": "OBSERVE",
                "biz_step": event.biz_step.value,
                "disposition": "in_progress",
                "event_time": event.event_time.astimezone(UTC),
                "event_time_offset": "+08:00",
                "recorded_at": now,
                "read_point_id": event.read_point_id,
                "location_id": event.location_id,
                "warehouse_id": world["W-P"],
                "acting_org_id": world["P"],
                "owner_id": world["X"],
                "documents": [],
                "event_hash": "0" * 64,
                "batch_id": batch_id,
            }
        )
        for item in event.items:
            item_rows.append(
                {
                    "id": new_id(),
                    "event_id": event_id,
                    "di": item.di,
                    "serial": item.serial,
                    "lot": item.lot,
                    "quantity": item.quantity,
                    "expiry": item.expiry,
                }
            )
    return event_rows, item_rows


def insert_raw(session: Session, world: World, events: list[NewEvent]) -> None:
    event_rows, item_rows = raw_rows(world, events)
    session.execute(tables.events.insert(), event_rows)
    session.execute(tables.event_items.insert(), item_rows)
    session.commit()


def run_engine(engine: str) -> list[dict[str, Any]]:
    results = []
    with scratch_database(engine) as url:
        app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
        with app.app_context():
            flask_migrate.upgrade()
        session = app.extensions["udi_db"].session_factory()
        world = build_world(session)
        statements = {"all": 0, "audit": 0}

        @sa_event.listens_for(app.extensions["udi_db"].engine, "before_cursor_execute")
        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements["all"] += 1
            if "audit_" in statement[:40]:
                statements["audit"] += 1

        serials = itertools.count()
        received: list[str] = []

        def receipts(n: int) -> list[NewEvent]:
            made = [f"B{next(serials):08d}" for _ in range(n)]
            received.extend(made)
            return [
                world.event(BizStep.RECEIVING, "P", [stent(s)], at="W-P/Q", owner="X") for s in made
            ]

        def picks(n: int) -> list[NewEvent]:
            taken = [received.pop() for _ in range(n)]
            return [world.event(BizStep.PICKING, "P", [stent(s)], rp="W-P/Q") for s in taken]

        def accept(serials_to_accept: list[str]) -> None:
            for start in range(0, len(serials_to_accept), BATCH):
                chunk = serials_to_accept[start : start + BATCH]
                events = [
                    world.event(BizStep.INSPECTING, "P", [stent(s)], at="W-P/Q") for s in chunk
                ]
                outcome = movements.record(session, SYSTEM, events)
                assert outcome.count("accepted") == len(chunk)

        counted: dict[str, tuple[float, float]] = {}

        def service(make: Callable[[int], list[NewEvent]], per_call: int, calls: int) -> int:
            workload = [make(per_call) for _ in range(calls)]
            before = dict(statements)
            for events in workload:
                outcome = movements.record(session, SYSTEM, events)
                assert outcome.count("accepted") == len(events), outcome.results[0]
            counted[workload[0][0].biz_step.value] = (
                (statements["all"] - before["all"]) / calls,
                (statements["audit"] - before["audit"]) / calls,
            )
            return per_call * calls

        def raw(per_call: int, calls: int) -> int:
            workload = [
                [world.event(BizStep.PICKING, "P", [stent(f"R{n}")]) for n in range(per_call)]
                for _ in range(calls)
            ]
            for events in workload:
                insert_raw(session, world, events)
            return per_call * calls

        for mode, per_call, calls in (("single", 1, SINGLES), ("batch", BATCH, BATCHES)):
            raw_rate, _ = best_rate(lambda p=per_call, c=calls: raw(p, c), REPEATS)
            receive_rate, _ = best_rate(
                lambda p=per_call, c=calls: service(receipts, p, c), REPEATS
            )
            accept(list(received))
            pick_rate, _ = best_rate(lambda p=per_call, c=calls: service(picks, p, c), REPEATS)
            for workload, rate in (("receiving", receive_rate), ("picking", pick_rate)):
                queries, audit = counted[workload]
                results.append(
                    {
                        "engine": engine,
                        "workload": workload,
                        "mode": mode if mode == "single" else f"batch of {BATCH}",
                        "service_events_per_s": round(rate),
                        "raw_events_per_s": round(raw_rate),
                        "ratio": round(rate / raw_rate, 2),
                        "queries_per_call": round(queries, 1),
                        "audit_queries_per_call": round(audit, 1),
                    }
                )
            print(f"{engine} {mode}: done", file=sys.stderr, flush=True)
        session.close()
        app.extensions["udi_db"].engine.dispose()
    return results


def main() -> None:
    rows = []
    for engine in ("sqlite", "postgresql"):
        rows += run_engine(engine)
    headers = [
        "engine",
        "workload",
        "mode",
        "service ev/s",
        "raw ev/s",
        "ratio",
        "queries/call (audit)",
    ]
    print_table(
        headers,
        [
            [
                r["engine"],
                r["workload"],
                r["mode"],
                r["service_events_per_s"],
                r["raw_events_per_s"],
                f"{r['ratio']:.2f}x",
                f"{r['queries_per_call']:g} ({r['audit_queries_per_call']:g})",
            ]
            for r in rows
        ],
    )
    path = write_results(
        "events",
        {"batch": BATCH, "batches": BATCHES, "singles": SINGLES, "repeats": REPEATS, "rows": rows},
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
