"""Benchmark: what the audit chain costs movement recording, and how fast it verifies.

PostgreSQL only (on SQLite ``BEGIN IMMEDIATE`` already serialises every writer, so one global
chain adds no waiting there). Baseline, measured in the same run: the same workload with
:func:`warehouse.services.audit.seal_batch` replaced by a no-op ("unsealed").

* ``sealed/unsealed`` events/s for single-event batches and 500-event batches, one writer;
* the same with ``THREADS`` concurrent writers, each receiving its own lot (distinct stock
  rows), so the only thing they share is the chain head locked ``FOR UPDATE``;
* verification: events/s recomputed by :func:`warehouse.services.audit.verify`.

Run: ``.venv/bin/python -m bench.audit`` (PostgreSQL from ``TEST_DATABASE_URL`` or the local
server; it creates and drops a scratch database).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import flask_migrate
from sqlalchemy.orm import Session

from bench._common import print_table, write_results
from bench.events import scratch_database
from tests.movements_world import World, build_world, stent
from warehouse.domain.movements import BizStep
from warehouse.services import audit, movements
from warehouse.services.access import SYSTEM
from wsgi import create_app

BATCH = 500
SINGLES = int(os.environ.get("BENCH_SINGLES", "300"))
BATCHES = int(os.environ.get("BENCH_BATCHES", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))

_serials = itertools.count()
_lock = threading.Lock()


def _serial() -> str:
    with _lock:
        return f"A{next(_serials):09d}"


@contextmanager
def unsealed() -> Iterator[None]:
    """Movement recording without the seal: the baseline."""
    original = audit.seal_batch
    audit.seal_batch = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        yield
    finally:
        audit.seal_batch = original  # type: ignore[assignment]


def receipts(world: World, count: int, per_call: int, lot: str) -> list[list[Any]]:
    return [
        [
            world.event(BizStep.RECEIVING, "P", [stent(_serial(), lot=lot)], at="W-P/Q", owner="X")
            for _ in range(per_call)
        ]
        for _ in range(count)
    ]


def record_all(session: Session, workload: list[list[Any]]) -> int:
    for events in workload:
        outcome = movements.record(session, SYSTEM, events)
        assert outcome.count("accepted") == len(events), outcome.results[0]
    return sum(len(events) for events in workload)


def timed(run: Callable[[], int]) -> float:
    started = time.perf_counter()
    count = run()
    return count / (time.perf_counter() - started)


def concurrent(factory: Callable[[], Session], world: World, per_call: int, calls: int) -> int:
    """``THREADS`` writers, each on its own session and lot, recording at the same time."""
    workloads = [receipts(world, calls, per_call, f"T{n}") for n in range(THREADS)]
    errors: list[BaseException] = []

    def writer(workload: list[list[Any]]) -> None:
        session = factory()
        try:
            record_all(session, workload)
        except BaseException as error:  # reported after join
            errors.append(error)
        finally:
            session.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in workloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return THREADS * per_call * calls


def main() -> None:
    rows: list[dict[str, Any]] = []
    with scratch_database("postgresql") as url:
        app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
        with app.app_context():
            flask_migrate.upgrade()
        factory = app.extensions["udi_db"].session_factory
        session = factory()
        world = build_world(session)
        shapes = (("single", 1, SINGLES), (f"batch of {BATCH}", BATCH, BATCHES))
        for mode, per_call, calls in shapes:
            for writers in (1, THREADS):
                rates = {"unsealed": 0.0, "sealed": 0.0}

                def run(p: int = per_call, c: int = calls, w: int = writers) -> float:
                    if w == 1:
                        work = receipts(world, c, p, "L1")
                        return timed(lambda: record_all(session, work))
                    return timed(lambda: concurrent(factory, world, p, max(1, c // w)))

                # Alternate baseline and sealed runs so drifting machine load hits both alike.
                for _ in range(REPEATS):
                    with unsealed():
                        rates["unsealed"] = max(rates["unsealed"], run())
                    rates["sealed"] = max(rates["sealed"], run())
                rows.append(
                    {
                        "mode": mode,
                        "writers": writers,
                        "sealed_events_per_s": round(rates["sealed"]),
                        "unsealed_events_per_s": round(rates["unsealed"]),
                        "ratio": round(rates["sealed"] / rates["unsealed"], 2),
                    }
                )
                print(f"{mode}, {writers} writer(s): done", file=sys.stderr, flush=True)
        audit.seal_backlog(session, limit=1_000_000)  # the baseline's batches, so all verify
        started = time.perf_counter()
        verified = audit.verify(session, 1, audit.MAX_VERIFY_BATCHES)
        seconds = time.perf_counter() - started
        assert verified.ok, verified.broken
        verify_rate = verified.events / seconds
        session.close()
        app.extensions["udi_db"].engine.dispose()
    print_table(
        ["mode", "writers", "sealed ev/s", "unsealed ev/s (baseline)", "ratio"],
        [
            [
                r["mode"],
                r["writers"],
                r["sealed_events_per_s"],
                r["unsealed_events_per_s"],
                f"{r['ratio']:.2f}x",
            ]
            for r in rows
        ],
    )
    print(
        f"\nverify: {verified.events:,} events in {verified.batches:,} batches, "
        f"{seconds:.2f} s = {verify_rate:,.0f} events/s"
    )
    verify = {
        "events": verified.events,
        "batches": verified.batches,
        "seconds": round(seconds, 3),
        "events_per_s": round(verify_rate),
    }
    path = write_results(
        "audit",
        {
            "engine": "postgresql",
            "batch": BATCH,
            "singles": SINGLES,
            "batches": BATCHES,
            "threads": THREADS,
            "repeats": REPEATS,
            "rows": rows,
            "verify": verify,
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
