"""Load benchmark: many concurrent clients against gunicorn + PostgreSQL on 127.0.0.1.

A scratch PostgreSQL database is migrated and loaded with the demo world, gunicorn serves
``wsgi:app`` (``gthread`` workers, so connections are kept alive), and an asyncio client
opens ``--clients`` keep-alive connections that each send requests back to back for
``--seconds``. Phases, each measured on its own and then mixed:

* ``healthz``: ``GET /healthz`` — no database, no auth: the ceiling of this stack on this
  machine, the baseline every other phase is compared with (ratio = phase req/s ÷ healthz);
* ``event``: single ``POST /api/v1/events`` receipts (one new lot each);
* ``scan``: single ``POST /api/v1/scans`` from the demo handheld (new stents received);
* ``stock``: ``GET /api/v1/stock?di=…`` reads;
* ``mix``: 70 % single scans, 10 % event batches of 50, 20 % reads.

Reported per phase: requests, req/s, ratio to healthz, p50/p99 ms, errors (any non-2xx or
broken connection). Run: ``.venv/bin/python -m bench.load --seconds 20 --clients 50``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from bench._common import flask, gunicorn, percentile, print_table, scratch_database, write_results

Request = tuple[str, str, bytes | None]
"""(method, path with query, JSON body or None)."""


# --- The server under test -------------------------------------------------------------------


# --- The demo world's ids and the requests -------------------------------------------------


@dataclass(frozen=True)
class World:
    token: str
    maker_id: str
    quarantine_id: str
    di: str
    device_token: str
    """The demo handheld's token (``scanning/demo.py``)."""

    scan_template: dict[str, Any]
    """The scan the demo prints for the handheld: a stent receipt into quarantine."""


def load_world(url: str) -> World:
    from warehouse.demo import BALLOON_DI, ORGS

    output = flask(url, "demo", "load")
    token = re.search(r"^admin token: (\S+)", output, re.MULTILINE)
    device = re.search(r"^scanner device token: (\S+)", output, re.MULTILINE)
    scan = re.search(r"/api/v1/scans .* -d '(.+)'$", output, re.MULTILINE)
    if token is None or device is None or scan is None:
        raise RuntimeError(f"Expected admin and handheld tokens from the demo, got {output!r}")
    maker_code = next(org.credit_code for org in ORGS if org.key == "maker")
    engine = create_engine(url)
    with engine.connect() as connection:
        maker = connection.execute(
            text("SELECT id FROM organisations WHERE credit_code = :c"), {"c": maker_code}
        ).scalar_one()
        quarantine = connection.execute(
            text(
                "SELECT l.id FROM locations l JOIN warehouses w ON w.id = l.warehouse_id "
                "WHERE w.operator_id = :m AND w.kind = 'registered' AND l.code = 'Q'"
            ),
            {"m": maker},
        ).scalar_one()
    engine.dispose()
    return World(
        token.group(1),
        str(maker),
        str(quarantine),
        BALLOON_DI,
        device.group(1),
        json.loads(scan.group(1)),
    )


_lots = itertools.count()


def receipt(world: World) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "biz_step": "receiving",
        "event_time": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "acting_org_id": world.maker_id,
        "owner_id": world.maker_id,
        "location_id": world.quarantine_id,
        "items": [
            {
                "di": world.di,
                "lot": f"LD{next(_lots):08d}",
                "quantity": 1,
                "expiry": "2029-09-30",
                "production_date": "2026-09-15",
            }
        ],
    }


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def healthz(world: World) -> Request:
    return ("GET", "/healthz", None)


_serials = itertools.count()


def single_scan(world: World) -> Request:
    """A new stent received by the demo handheld (its own token: see ``client``)."""
    body = dict(world.scan_template)
    label = body["scan"]
    body["scan"] = label[: label.rindex("|21") + 3] + f"LOAD{next(_serials):08d}"
    body["scan_id"] = str(uuid.uuid4())
    body["device_time"] = datetime.now(UTC).isoformat()
    return ("POST", "/api/v1/scans", _json(body))


def single_event(world: World) -> Request:
    return ("POST", "/api/v1/events", _json(receipt(world)))


def event_batch(world: World) -> Request:
    return ("POST", "/api/v1/events", _json({"events": [receipt(world) for _ in range(50)]}))


def stock_read(world: World) -> Request:
    return ("GET", f"/api/v1/stock?di={world.di}&limit=20", None)


def mix(world: World) -> Request:
    draw = random.random()
    if draw < 0.7:
        return single_scan(world)
    if draw < 0.8:
        return event_batch(world)
    return stock_read(world)


PHASES: dict[str, Callable[[World], Request]] = {
    "healthz": healthz,
    "scan": single_scan,
    "event": single_event,
    "stock": stock_read,
    "mix": mix,
}


# --- The client ----------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


async def client(
    port: int, world: World, make: Callable[[World], Request], stop_at: float, tally: Tally
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            method, path, body = make(world)
            # Scans must come from a registered device; everything else uses the admin token.
            token = world.device_token if path.startswith("/api/v1/scans") else world.token
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nConnection: keep-alive\r\n"
            )
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            started = time.perf_counter()
            writer.write(head.encode() + b"\r\n" + (body or b""))
            try:
                status = await _response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                tally.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if not 200 <= status < 300:
                tally.errors += 1
    finally:
        writer.close()


async def _response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length, closing = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection" and value.strip().lower() == "close":
            closing = True
    await reader.readexactly(length)
    if closing:
        raise ConnectionResetError("server closed the connection")
    return status


async def run_phase(
    port: int, world: World, make: Callable[[World], Request], clients: int, seconds: float
) -> tuple[Tally, float]:
    tally = Tally()
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(client(port, world, make, stop_at, tally) for _ in range(clients)))
    return tally, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--phases", default=",".join(PHASES))
    args = parser.parse_args()

    port = 18000 + os.getpid() % 1000
    rows, results = [], []
    with scratch_database() as url:
        flask(url, "db", "upgrade")
        world = load_world(url)
        with gunicorn(url, port, args.workers, args.threads):
            base_rate = None
            for name in args.phases.split(","):
                tally, elapsed = asyncio.run(
                    run_phase(port, world, PHASES[name], args.clients, args.seconds)
                )
                rate = len(tally.latencies) / elapsed
                base_rate = base_rate or rate
                result = {
                    "phase": name,
                    "requests": len(tally.latencies),
                    "req_per_s": round(rate, 1),
                    "ratio_to_healthz": round(rate / base_rate, 3),
                    "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 1),
                    "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 1),
                    "errors": tally.errors,
                    "statuses": tally.statuses,
                }
                results.append(result)
                rows.append([result[k] for k in list(result)[:7]])
    print_table(["phase", "requests", "req/s", "÷ healthz", "p50 ms", "p99 ms", "errors"], rows)
    config = {k: getattr(args, k) for k in ("seconds", "clients", "workers", "threads")}
    print(f"wrote {write_results('load', {'config': config, 'results': results})}")


if __name__ == "__main__":
    main()
