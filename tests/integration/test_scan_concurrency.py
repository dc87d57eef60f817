"""The same offline batch synced by several connections at once records one set of events.

A handheld that times out retries while its first request is still running; both must end
with the same answers and the events written once. Real separate connections, a database of
its own (PostgreSQL: 8 threads; SQLite: 4, writers queue on BEGIN IMMEDIATE).
"""

from __future__ import annotations

import threading
import uuid

from flask import Flask
from sqlalchemy import func, select

from scanning import devices, ingest
from scanning import tables as scan_tables
from scanning.ingest import IngestResult, ScanIn
from scanning.operations import Operation
from tests.movements_world import build_world
from tests.scanning_world import stent_label
from warehouse import tables
from warehouse.services.access import SYSTEM

THREADS = {"sqlite": 4, "postgresql": 8}


def test_concurrent_replays_of_one_batch_record_each_scan_once(own_app: Flask) -> None:
    factory = own_app.extensions["udi_db"].session_factory
    setup = factory()
    world = build_world(setup)
    new = devices.NewScanner(world["W-P"], "dock", {}, world["P"])
    device = devices.register(setup, SYSTEM, new).scanner
    batch = [
        ScanIn(
            uuid.uuid4(),
            stent_label(f"S{n}"),
            world.tick(),
            Operation.RECEIVE,
            world["W-P/Q"],
            owner_id=world["X"],
        )
        for n in range(20)
    ]
    setup.close()
    threads = THREADS[own_app.extensions["udi_db"].engine.dialect.name]
    barrier = threading.Barrier(threads)
    results: list[IngestResult | BaseException] = [RuntimeError("did not run")] * threads

    def sync(index: int) -> None:
        session = factory()
        try:
            barrier.wait(timeout=30)
            results[index] = ingest.ingest(session, device, batch)
        except BaseException as error:  # reported below, with the thread's index
            results[index] = error
        finally:
            session.close()

    workers = [threading.Thread(target=sync, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    answers = [r for r in results if isinstance(r, IngestResult)]
    for answer in answers:
        assert {r.status for r in answer.results} <= {"accepted", "duplicate"}
    event_ids = {tuple(r.event_id for r in answer.results) for answer in answers}
    assert len(event_ids) == 1  # every connection answered the same events
    check = factory()
    events = check.execute(
        select(func.count()).where(tables.events.c.scanner_device_id == str(device.id))
    ).scalar_one()
    stored = check.execute(select(func.count()).select_from(scan_tables.scans)).scalar_one()
    check.close()
    assert (events, stored) == (20, 20)
