"""Benchmark: scan ingestion over HTTP (gunicorn) next to ``udi.parse`` alone on the same scans.

For each engine (SQLite file; PostgreSQL scratch database on 127.0.0.1) a world is built
(tests/movements_world.py), a scanner is registered, gunicorn serves ``wsgi:app`` and:

* ``batch``: ``POST /api/v1/scans/batch`` with 500 new receipts of serialised stents per
  request, sent one after the other: scans/s end to end (quirks, parse, catalogue, custody,
  movement rules, events, stock projections, scan rows). Baseline measured in the same run:
  ``udi.parse`` alone on the same raw texts, in this process (ratio = batch ÷ parse; the
  issue's goal is >= 0.5);
* ``single``: ``POST /api/v1/scans`` with one new receipt each, from ``--clients`` concurrent
  keep-alive connections spread over ``--devices`` handhelds of one organisation, for
  ``--seconds``: req/s, p50 and p99 (goal >= 1,000 req/s, p99 <= 50 ms), with group commit on
  (the default) and, as the baseline in the same run, off (``UDI_COMBINE_SCANS=false``).

Run: ``.venv/bin/python -m bench.scan_ingest`` (``--engines sqlite,postgresql``,
``--batches 4``, ``--clients 50``, ``--devices 10``, ``--seconds 10``, ``--threads 16``;
``--rls``: PostgreSQL with row-level security armed, as production runs it — every request
transaction switches to the restricted role ``udi_rls`` of migration 0009).
Writes bench/results/scan_ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

import udi
from bench._common import (
    best_rate,
    flask,
    gunicorn,
    percentile,
    print_table,
    scratch_database,
    write_results,
)
from scanning import devices
from tests.movements_world import build_world
from tests.scanning_world import stent_label
from warehouse.services.access import SYSTEM
from wsgi import create_app

BATCH = 500


@dataclass(frozen=True)
class Site:
    """What the load needs: the scanners' tokens, the receiving location and the owner."""

    tokens: tuple[str, ...]
    location_id: str
    owner_id: str

    @property
    def token(self) -> str:
        """The first scanner's token (the batch phase sends with it)."""
        return self.tokens[0]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


_serials = itertools.count()


def new_scan(site: Site) -> dict[str, object]:
    """A receipt of a stent never seen before."""
    return {
        "scan_id": str(uuid.uuid4()),
        "scan": stent_label(f"B{next(_serials):09d}"),
        "device_time": datetime.now(UTC).isoformat(),
        "operation": "receive",
        "location_id": site.location_id,
        "owner_id": site.owner_id,
    }


# --- The server under test -------------------------------------------------------------------


def prepare(url: str, scanners: int = 1) -> Site:
    """Migrate, build the world and register ``scanners`` handhelds at the 3PL's warehouse."""
    flask(url, "db", "upgrade")
    app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    session = app.extensions["udi_db"].session_factory()
    world = build_world(session)
    tokens = []
    for number in range(scanners):
        new = devices.NewScanner(world["W-P"], f"bench {number}", {}, world["P"])
        tokens.append(devices.register(session, SYSTEM, new).token)
    site = Site(tuple(tokens), str(world["W-P/Q"]), str(world["X"]))
    session.close()
    app.extensions["udi_db"].engine.dispose()
    return site


# --- Phases ------------------------------------------------------------------------------------


def batches(port: int, site: Site, count: int) -> tuple[float, float, int]:
    """(scans/s over all batches, best batch's scans/s, scans refused)."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {site.token}"
    total, best, refused = 0.0, 0.0, 0
    for _ in range(count):
        body = {"scans": [new_scan(site) for _ in range(BATCH)]}
        started = time.perf_counter()
        response = http.post(f"http://127.0.0.1:{port}/api/v1/scans/batch", json=body, timeout=300)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        refused += response.json()["rejected"]
        total += elapsed
        best = max(best, BATCH / elapsed)
    return count * BATCH / total, best, refused


def parse_only() -> float:
    """``udi.parse`` scans/s on the same kind of raw texts, in this process."""
    texts = [stent_label(f"B{n:09d}") for n in range(BATCH)]

    def run() -> int:
        for raw in texts:
            udi.parse(raw)
        return len(texts)

    rate, _ = best_rate(run, repeats=5)
    return rate


async def _client(port: int, site: Site, token: str, stop_at: float, tally: Tally) -> None:
    """Send scans back to back on a keep-alive connection, reconnecting when the server
    closes it (as gunicorn does to spread connections over its workers)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            body = json.dumps(new_scan(site)).encode()
            head = (
                f"POST /api/v1/scans HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nConnection: keep-alive\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            started = time.perf_counter()
            writer.write(head.encode() + body)
            status, closing = await _response(reader)
            tally.latencies.append(time.perf_counter() - started)
            if status != 201:
                tally.errors += 1
            if closing:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the server closes the connection after this response)."""
    status = int((await reader.readline()).split()[1])
    length, closing = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        if name.lower() == "connection" and value.strip().lower() == "close":
            closing = True
    await reader.readexactly(length)
    return status, closing


async def singles(port: int, site: Site, clients: int, seconds: float) -> tuple[Tally, float]:
    tally = Tally()
    started = time.perf_counter()
    stop_at = started + seconds
    tokens = [site.tokens[n % len(site.tokens)] for n in range(clients)]
    await asyncio.gather(*(_client(port, site, token, stop_at, tally) for token in tokens))
    return tally, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--rls", action="store_true", help="arm row-level security")
    args = parser.parse_args()
    armed = {"UDI_DATABASE_RLS_ROLE": "udi_rls"} if args.rls else {}
    port = 19000 + os.getpid() % 1000
    parse_rate = parse_only()
    rows, results = [], []
    for engine in args.engines.split(","):
        with scratch_database(engine) as url:
            site = prepare(url, args.devices)
            rls = armed if engine == "postgresql" else {}
            with gunicorn(url, port, args.workers, args.threads, rls):
                rate, best, refused = batches(port, site, args.batches)
                combined, elapsed = asyncio.run(singles(port, site, args.clients, args.seconds))
            off = {"UDI_COMBINE_SCANS": "false", **rls}
            with gunicorn(url, port, args.workers, args.threads, off):
                alone, alone_elapsed = asyncio.run(singles(port, site, args.clients, args.seconds))
        single_rate = len(combined.latencies) / elapsed
        alone_rate = len(alone.latencies) / alone_elapsed
        result = {
            "engine": engine,
            "batch_scans_per_s": round(rate, 1),
            "best_batch_scans_per_s": round(best, 1),
            "parse_only_scans_per_s": round(parse_rate, 1),
            "ratio_batch_to_parse": round(rate / parse_rate, 4),
            "batch_refused": refused,
            "single_req_per_s": round(single_rate, 1),
            "single_p50_ms": round(percentile(combined.latencies, 0.5) * 1000, 1),
            "single_p99_ms": round(percentile(combined.latencies, 0.99) * 1000, 1),
            "single_errors": combined.errors,
            "uncombined_req_per_s": round(alone_rate, 1),
            "uncombined_p99_ms": round(percentile(alone.latencies, 0.99) * 1000, 1),
            "ratio_combined_to_uncombined": round(single_rate / alone_rate, 2),
        }
        results.append(result)
        rows.append(list(result.values()))
    print_table(
        [
            "engine",
            "batch scans/s",
            "best batch",
            "parse-only scans/s",
            "÷ parse",
            "refused",
            "single req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "uncombined req/s",
            "uncombined p99",
            "× uncombined",
        ],
        rows,
    )
    names = ("batches", "clients", "devices", "seconds", "workers", "threads", "rls")
    config = {k: getattr(args, k) for k in names}
    print(f"wrote {write_results('scan_ingest', {'config': config, 'results': results})}")


if __name__ == "__main__":
    main()
