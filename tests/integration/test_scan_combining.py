"""Concurrent single scans through HTTP, group-committed (scanning/combiner.py), both engines.

Three handhelds of two organisations post single scans from 12 threads at once, one scan id
twice at the same moment and one bad label among them. Whatever was combined with what, each
request must get exactly the answer it would have had alone, and the database must hold one
event and one scan row per scan id. The same run with combining off (``UDI_COMBINE_SCANS``)
checks the path each request takes alone.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from scanning import tables as scan_tables
from tests.movements_world import STENT, World, build_world
from tests.scanning_world import register, scan, stent_label
from warehouse import tables

THREADS = 12


def _world(app: Flask) -> World:
    return build_world(app.extensions["udi_db"].session_factory())


def _post_all(app: Flask, posts: list[tuple[dict[str, Any], dict[str, str]]]) -> list[Any]:
    """Post every scan from THREADS threads at once; each thread has its own client."""
    barrier = threading.Barrier(THREADS)
    answers: list[Any] = [None] * len(posts)

    def worker(offset: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=30)
        for index in range(offset, len(posts), THREADS):
            body, headers = posts[index]
            response = client.post("/api/v1/scans", json=body, headers=headers)
            answers[index] = (response.status_code, response.get_json())

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    return answers


@pytest.mark.parametrize("combine", [True, False], ids=["combined", "one_by_one"])
def test_concurrent_single_scans_are_each_answered_as_alone_and_recorded_once(
    own_app: Flask, combine: bool
) -> None:
    own_app.config["COMBINE_SCANS"] = combine
    world = _world(own_app)
    client = own_app.test_client()
    one, one_headers = register(client, world, "P", "W-P", name="dock 1")
    two, two_headers = register(client, world, "P", "W-P", name="dock 2")
    other, other_headers = register(client, world, "X", "W-X", name="distributor")
    posts = []
    for n in range(15):
        body = scan(world, stent_label(f"C1-{n}"), "receive", "W-P/Q", owner="X")
        posts.append((body, one_headers))
        body = scan(world, stent_label(f"C2-{n}"), "receive", "W-P/Q", owner="X")
        posts.append((body, two_headers))
    for n in range(6):
        body = scan(world, stent_label(f"CX-{n}"), "receive", "W-X/Q", owner="X")
        posts.append((body, other_headers))
    twice = scan(world, stent_label("C1-TWICE"), "receive", "W-P/Q", owner="X")
    posts += [(twice, one_headers), (dict(twice), one_headers)]
    wrong_check_digit = STENT[:-1] + str((int(STENT[-1]) + 1) % 10)
    bad = scan(world, stent_label("C1-BAD").replace(STENT, wrong_check_digit), "receive", "W-P/Q")
    posts.append((bad, one_headers))

    answers = _post_all(own_app, posts)

    statuses = [status for status, _ in answers]
    assert statuses.count(201) == 15 + 15 + 6 + 1
    assert statuses.count(200) == 1  # the scan id sent twice at once: once a duplicate
    assert statuses.count(422) == 1
    first, second = answers[-3][1], answers[-2][1]
    assert first["event_id"] == second["event_id"]
    assert {first["status"], second["status"]} == {"accepted", "duplicate"}
    assert answers[-1][1]["code"].startswith("gs1.")
    assert answers[-1][1]["errors"][0]["position"] is not None
    for (body, _), (status, answer) in zip(posts[:-3], answers[:-3], strict=True):
        assert status == 201
        assert answer["scan_id"] == body["scan_id"]
        assert answer["index"] == 0

    session = world.session
    events_of = {
        device_id: session.execute(
            select(func.count()).where(tables.events.c.scanner_device_id == device_id)
        ).scalar_one()
        for device_id in (one["id"], two["id"], other["id"])
    }
    assert events_of == {one["id"]: 16, two["id"]: 15, other["id"]: 6}
    scans = session.execute(select(func.count()).select_from(scan_tables.scans)).scalar_one()
    assert scans == 15 + 15 + 6 + 1 + 1  # the bad scan is stored too, rejected
    event_ids = {a["event_id"] for _, a in answers if isinstance(a, dict) and a.get("event_id")}
    assert len(event_ids) == 15 + 15 + 6 + 1
    assert all(uuid.UUID(e) for e in event_ids)
    session.rollback()
