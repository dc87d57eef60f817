"""Faults on a real stack: gunicorn + a private PostgreSQL cluster (issue 9).

* A gunicorn worker SIGKILLed in the middle of a 1,000-event batch: nothing of the batch is
  stored, and the client's retry of the same request stores it exactly once.
* PostgreSQL stopped under load: clients get 503 problem+json with ``Retry-After``; after the
  restart they retry the same events, and every event is stored exactly once.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.faults.cluster import (
    Cluster,
    Reply,
    Server,
    admin_token,
    call,
    flask,
    gunicorn,
    postgres_bin,
    private_cluster,
)
from warehouse.demo import BALLOON_DI, ORGS

pytestmark = pytest.mark.slow

if postgres_bin() is None:
    pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed", allow_module_level=True)


@dataclass(frozen=True)
class Stack:
    cluster: Cluster
    engine: Engine
    token: str
    maker_id: str
    quarantine_id: str


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with private_cluster() as cluster:
        flask(cluster.url, "db", "upgrade")
        token = admin_token(flask(cluster.url, "demo", "load"))
        engine = create_engine(cluster.url, pool_pre_ping=True)
        maker_code = next(org.credit_code for org in ORGS if org.key == "maker")
        with engine.connect() as connection:
            maker_id = connection.execute(
                text("SELECT id FROM organisations WHERE credit_code = :code"),
                {"code": maker_code},
            ).scalar_one()
            quarantine_id = connection.execute(
                text(
                    "SELECT l.id FROM locations l JOIN warehouses w ON w.id = l.warehouse_id "
                    "WHERE w.operator_id = :maker AND w.kind = 'registered' AND l.code = 'Q'"
                ),
                {"maker": maker_id},
            ).scalar_one()
        try:
            yield Stack(cluster, engine, token, str(maker_id), str(quarantine_id))
        finally:
            engine.dispose()


def receipt(stack: Stack, lot: str) -> dict[str, Any]:
    """A receipt of one balloon of lot ``lot`` into the maker's quarantine area."""
    return {
        "event_id": str(uuid.uuid4()),
        "biz_step": "receiving",
        "event_time": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "acting_org_id": stack.maker_id,
        "owner_id": stack.maker_id,
        "location_id": stack.quarantine_id,
        "items": [
            {
                "di": BALLOON_DI,
                "lot": lot,
                "quantity": 1,
                "expiry": "2029-09-30",
                "production_date": "2026-09-15",
            }
        ],
    }


def stored(stack: Stack, event_ids: list[str]) -> int:
    """How many events with these client ids are in the database (each at most once: unique)."""
    with stack.engine.connect() as connection:
        query = text("SELECT count(*) FROM events WHERE event_id = ANY(CAST(:ids AS uuid[]))")
        return int(connection.execute(query, {"ids": event_ids}).scalar_one())


def batch_in_flight(stack: Stack) -> bool:
    """Whether some other session holds locks on the movement tables: a batch transaction is
    open and not yet committed (committing releases them)."""
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname IN ('stock', 'events', 'units') AND l.pid <> pg_backend_pid()"
    )
    with stack.engine.connect() as connection:
        return bool(connection.execute(query).scalar_one())


def test_a_worker_killed_mid_batch_stores_nothing_and_the_retry_stores_it_once(
    stack: Stack,
) -> None:
    with gunicorn(stack.cluster.url, workers=2) as server:
        body, outcome = _kill_during_a_batch(stack, server)
        ids = [event["event_id"] for event in body["events"]]
        assert isinstance(outcome, OSError), f"Expected a broken connection, got {outcome!r}"
        assert stored(stack, ids) == 0

        retry = call(server.base, "POST", "/api/v1/events", stack.token, body)
        assert retry.status == 200, retry.body
        assert [r["status"] for r in retry.body["results"]] == ["accepted"] * len(ids)
        again = call(server.base, "POST", "/api/v1/events", stack.token, body)
        assert {r["status"] for r in again.body["results"]} == {"duplicate"}
        assert stored(stack, ids) == len(ids)


def _kill_during_a_batch(stack: Stack, server: Server) -> tuple[dict[str, Any], object]:
    """POST a 1,000-event batch and SIGKILL the workers while its transaction is open.

    The batch may rarely commit before the kill lands; then a fresh batch is tried (at most
    three times), so the test always checks a kill that really happened mid-transaction.
    """
    for attempt in range(3):
        body = {"events": [receipt(stack, f"KILL{attempt}-{n:04d}") for n in range(1000)]}
        outcome: list[object] = []

        def post(body: dict[str, Any] = body, outcome: list[object] = outcome) -> None:
            try:
                outcome.append(call(server.base, "POST", "/api/v1/events", stack.token, body))
            except OSError as error:
                outcome.append(error)

        poster = threading.Thread(target=post)
        poster.start()
        deadline = time.monotonic() + 60
        while not batch_in_flight(stack) and poster.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if poster.is_alive():
            server.kill_workers()
        poster.join(timeout=120)
        if outcome and isinstance(outcome[0], OSError):
            _wait_for_workers(server)
            return body, outcome[0]
    raise AssertionError("Expected to kill a worker mid-batch in 3 tries, the batch won each time")


def _wait_for_workers(server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if call(server.base, "GET", "/healthz", "none", timeout=5).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("Expected gunicorn to respawn its workers within 30 s.")


@dataclass
class Client:
    """Posts its events one by one; on 503 it waits Retry-After and sends the same event again."""

    stack: Stack
    base: str
    name: str
    quota: int
    replies: list[Reply] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)

    def run(self, stop_by: float) -> None:
        for n in range(self.quota):
            body = receipt(self.stack, f"{self.name}-{n:03d}")
            self.event_ids.append(body["event_id"])
            while time.monotonic() < stop_by:
                try:
                    reply = call(self.base, "POST", "/api/v1/events", self.stack.token, body, 30)
                except OSError as error:
                    self.errors.append(repr(error))
                    time.sleep(0.5)
                    continue
                self.replies.append(reply)
                if reply.status in (200, 201):
                    break
                if reply.status != 503:
                    self.errors.append(f"{reply.status}: {reply.body}")
                    break
                time.sleep(float(reply.headers.get("Retry-After", "1")))


def test_clients_get_503_while_postgres_is_down_and_nothing_is_lost_or_doubled(
    stack: Stack,
) -> None:
    with gunicorn(stack.cluster.url, workers=2) as server:
        stop_by = time.monotonic() + 120
        clients = [Client(stack, server.base, f"OUT{n}", quota=25) for n in range(6)]
        threads = [threading.Thread(target=c.run, args=(stop_by,)) for c in clients]
        for thread in threads:
            thread.start()
        while sum(len(c.replies) for c in clients) < 30:
            time.sleep(0.05)
        stack.cluster.stop()
        time.sleep(3)
        stack.cluster.start()
        for thread in threads:
            thread.join(timeout=150)

    replies = [reply for c in clients for reply in c.replies]
    unavailable = [reply for reply in replies if reply.status == 503]
    assert unavailable, "Expected some requests to meet the stopped database"
    for reply in unavailable:
        assert reply.headers["Content-Type"] == "application/problem+json"
        assert reply.body["code"] == "server.database_unavailable"
        assert int(reply.headers["Retry-After"]) > 0
    assert [c.errors for c in clients] == [[] for _ in clients]
    assert {reply.status for reply in replies} <= {200, 201, 503}
    every_id = [event_id for c in clients for event_id in c.event_ids]
    assert len(every_id) == 6 * 25
    assert stored(stack, every_id) == len(every_id)


def _demo_handheld(stack: Stack) -> tuple[str, dict[str, Any]]:
    """A new demo handheld (each ``flask demo load`` registers one): its token and the body of
    the receipt scan the demo prints for it."""
    output = flask(stack.cluster.url, "demo", "load")
    token = re.search(r"^scanner device token: (\S+)", output, re.MULTILINE)
    body = re.search(r"-d '(\{.*\})'", output)
    assert token is not None, output
    assert body is not None, output
    return token.group(1), json.loads(body.group(1))


def _scan_of(template: dict[str, Any], serial: str) -> dict[str, Any]:
    """The demo's receipt scan for another serial: AI 21 ends the demo label, after the group
    separator the demo handheld types as '|'."""
    label = template["scan"].rsplit("|21", 1)[0] + "|21" + serial
    return {**template, "scan_id": str(uuid.uuid4()), "scan": label}


def test_single_scans_sent_together_to_threaded_workers_are_each_answered_once(
    stack: Stack,
) -> None:
    """Group commit in the real server: 2 gthread workers, 24 clients sending single scans of two
    handhelds at once, a few scan ids sent twice concurrently. Every request gets its own answer,
    and the database holds one event and one scan row per scan id."""
    (first, template), (second, _) = _demo_handheld(stack), _demo_handheld(stack)
    posts = [(_scan_of(template, f"GC{n:04d}"), first if n % 2 else second) for n in range(144)]
    posts += [(dict(body), token) for body, token in posts[:6]]  # the same scans again, at once
    replies: list[Reply | None] = [None] * len(posts)

    def client(offset: int) -> None:
        for index in range(offset, len(posts), 24):
            body, token = posts[index]
            replies[index] = call(server.base, "POST", "/api/v1/scans", token, body, 60)

    with gunicorn(stack.cluster.url, workers=2, threads=8) as server:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert all(reply is not None for reply in replies)
    by_scan: dict[str, list[Reply]] = {}
    for (body, _), reply in zip(posts, replies, strict=True):
        assert reply is not None
        assert reply.status in (200, 201), reply.body
        assert reply.body["scan_id"] == body["scan_id"]
        by_scan.setdefault(body["scan_id"], []).append(reply)
    assert len(by_scan) == 144
    for answers in by_scan.values():
        assert len({a.body["event_id"] for a in answers}) == 1
        assert sorted(a.body["status"] for a in answers)[0] == "accepted"
        assert [a.body["status"] for a in answers].count("accepted") == 1
    with stack.engine.connect() as connection:
        scans = connection.execute(
            text("SELECT count(*) FROM scans WHERE scan_id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": list(by_scan)},
        ).scalar_one()
    event_ids = [answers[0].body["event_id"] for answers in by_scan.values()]
    with stack.engine.connect() as connection:
        events = connection.execute(
            text("SELECT count(*) FROM events WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": event_ids},
        ).scalar_one()
    assert (scans, events) == (144, 144)
