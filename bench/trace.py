"""Benchmark: unit and lot traces on a synthetic history of about a million events (PostgreSQL).

It builds, with COPY, a history that looks like the real thing: 10,000 lots of 20 serialised
units each (200,000 serials; scaled with ``--events``), every pair of units moving together
through 1 to 4 holders — maker, distributors, hospital — five events per holder (receive,
inspect, store, pick, ship; a hospital stocks a department and uses the unit), so each unit has
5 to 20 events; shipments with their lines, the ``units`` and ``stock`` projections; plus one
lot-quantity lot spread over 1,300 shipments (maker → 10 distributors → 1,290 hospital
deliveries). It measures at about 10% of the size and again at full size:

* ``unit trace``: :func:`warehouse.services.trace.unit_trace` for random serials, p50/p95,
  against the ``raw`` floor — the one indexed query of the unit's own events (ratio);
* ``lot trace``: :func:`warehouse.services.trace.lot_trace` for the 1,300-shipment lot, as
  many samples as unit traces, against the raw query of the lot's event items;
* ``lot trace (HTTP)``: ``GET /api/v1/trace/lot`` for the same lot through the Flask test
  client (token check, JSON), as many samples again.

Cost must grow with the trace, not the database: the p95 at full size over the p95 at 10% is
printed as ``growth``.

Run: ``.venv/bin/python -m bench.trace [--events 1000000] [--samples 300]`` (PostgreSQL from
``TEST_DATABASE_URL`` or the local server; a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import flask_migrate
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bench._common import print_table, write_results
from bench.events import scratch_database
from warehouse import tables
from warehouse.demo import credit_code
from warehouse.domain.roles import Role
from warehouse.services import trace
from warehouse.services.access import SYSTEM
from warehouse.tokens import create_token
from wsgi import create_app

DI = "06931234100041"
BULK_DI = "06931234200017"
BIG_LOT = "BIG-1300"
SERIALS_PER_LOT = 20
PER_EVENT = 2
"""Units named by one event: a lot's pairs travel together."""

STAGE_WEIGHTS = (0.4, 0.3, 0.2, 0.1)
"""Probability that a pair of units passes through 1, 2, 3 or 4 holders (5 events each)."""

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
OFFSET = "+08:00"

EVENT_COLUMNS = (
    "id",
    "event_id",
    "event_type",
    "action",
    "biz_step",
    "disposition",
    "event_time",
    "event_time_offset",
    "recorded_at",
    "read_point_id",
    "location_id",
    "warehouse_id",
    "acting_org_id",
    "owner_id",
    "possessor_id",
    "destination_party_id",
    "destination_warehouse_id",
    "shipment_id",
    "documents",
    "patient_ref",
    "encounter_ref",
    "event_hash",
    "batch_id",
)
ITEM_COLUMNS = ("id", "event_id", "di", "serial", "lot", "quantity", "expiry")
SHIPMENT_COLUMNS = (
    "id",
    "shipping_event_id",
    "from_org_id",
    "from_warehouse_id",
    "destination_party_id",
    "destination_warehouse_id",
    "status",
    "shipped_at",
    "received_event_id",
)
LINE_COLUMNS = ("id", "shipment_id", "di", "lot", "serial", "quantity", "expiry")
UNIT_COLUMNS = (
    "id",
    "di",
    "serial",
    "lot",
    "expiry",
    "owner_id",
    "possessor_id",
    "warehouse_id",
    "location_id",
    "status",
    "version",
    "last_event_id",
    "updated_at",
)
STOCK_COLUMNS = (
    "id",
    "owner_id",
    "possessor_id",
    "warehouse_id",
    "location_id",
    "di",
    "lot",
    "status",
    "expiry",
    "quantity",
    "updated_at",
)
DISPOSITION = {
    "receiving": "in_progress",
    "inspecting": "conformant",
    "storing": "sellable_accessible",
    "picking": "in_progress",
    "staging_outbound": "in_progress",
    "shipping": "in_transit",
    "stocking": "sellable_accessible",
    "dispensing": "dispensed",
}
EXPIRY = datetime(2029, 12, 31).date()


def uuid7_at(moment: datetime, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 for ``moment``: ids sort like the synthetic times, as the service's do."""
    ms = int(moment.timestamp() * 1000)
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62)
    return uuid.UUID(int=value | rng.getrandbits(62))


@dataclass(frozen=True)
class Party:
    id: uuid.UUID
    warehouse: uuid.UUID
    store: uuid.UUID
    department: uuid.UUID | None


@dataclass
class Rows:
    """Rows waiting for COPY, per table."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    items: list[tuple[Any, ...]] = field(default_factory=list)
    shipments: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    units: list[tuple[Any, ...]] = field(default_factory=list)
    stock: Counter[tuple[Any, ...]] = field(default_factory=Counter)


class History:
    """Writes the synthetic history, lot by lot, through COPY."""

    def __init__(self, session: Session, seed: int = 7) -> None:
        self.session = session
        self.rng = random.Random(seed)
        self.batch = uuid.uuid4()
        self.makers = self._parties("maker", 5, department=False)
        self.distributors = self._parties("distributor", 50, department=False)
        self.hospitals = self._parties("hospital", 300, department=True)
        self.events = 0
        self.serials: list[str] = []
        self.lots = 0

    # -- master data --

    def _parties(self, kind: str, count: int, *, department: bool) -> list[Party]:
        now = datetime.now(UTC)
        parties = []
        for n in range(count):
            org, wh, store = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            body = f"91350206{kind[:1].upper()}{n:08d}"
            self.session.execute(
                tables.organisations.insert().values(
                    id=org,
                    name=f"{kind} {n}",
                    credit_code=credit_code(body),
                    roles=[],
                    jurisdiction="350206",
                    created_at=now,
                )
            )
            self.session.execute(
                tables.warehouses.insert().values(
                    id=wh,
                    operator_id=org,
                    name=f"{kind} {n} store",
                    address="厦门",
                    jurisdiction="350206",
                    kind="registered",
                    created_at=now,
                )
            )
            places = [(store, "A", "normal", None)]
            dept = uuid.uuid4() if department else None
            if dept is not None:
                places.append((dept, "D", "department", "心内科"))
            for place, code, purpose, name in places:
                self.session.execute(
                    tables.locations.insert().values(
                        id=place,
                        warehouse_id=wh,
                        zone=code,
                        code=code,
                        purpose=purpose,
                        department=name,
                        created_at=now,
                    )
                )
            parties.append(Party(org, wh, store, dept))
        self.session.commit()
        return parties

    # -- events --

    def _event(
        self,
        rows: Rows,
        step: str,
        party: Party,
        at: datetime,
        items: Sequence[tuple[str, str | None, str, int]],
        *,
        to: Party | None = None,
        shipment: uuid.UUID | None = None,
        event_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        event_id = event_id or uuid7_at(at, self.rng)
        here = party.department if step in ("stocking", "dispensing") else party.store
        located = step not in ("shipping", "dispensing", "picking", "staging_outbound")
        rows.events.append(
            (
                event_id,
                uuid.uuid4(),
                "object",
                "OBSERVE",
                step,
                DISPOSITION[step],
                at,
                OFFSET,
                at,
                None if located else here,
                here if located else None,
                party.warehouse,
                party.id,
                party.id,
                party.id,
                to.id if to else None,
                to.warehouse if to else None,
                shipment,
                "[]",
                "pt-bench" if step == "dispensing" else None,
                "enc-bench" if step == "dispensing" else None,
                "0" * 64,
                self.batch,
            )
        )
        for di, serial, lot, quantity in items:
            rows.items.append((uuid.uuid4(), event_id, di, serial, lot, quantity, EXPIRY))
        self.events += 1
        return event_id

    def add_lot(self, rows: Rows, number: int) -> None:
        """One lot of 20 units: a maker, then pairs of units along their own paths."""
        lot = f"L{number:06d}"
        maker = self.rng.choice(self.makers)
        start = T0 + timedelta(hours=number)
        for pair in range(SERIALS_PER_LOT // PER_EVENT):
            serials = [f"S{number:06d}-{pair * PER_EVENT + k:02d}" for k in range(PER_EVENT)]
            self.serials += serials
            items = [(DI, s, lot, 1) for s in serials]
            stages = self.rng.choices((1, 2, 3, 4), STAGE_WEIGHTS)[0]
            middle = self.rng.sample(self.distributors, max(0, stages - 2))
            path = [maker, *middle, *([self.rng.choice(self.hospitals)] if stages >= 2 else [])]
            moment = start + timedelta(minutes=pair)
            last = self._walk(rows, path, items, moment)
            for serial in serials:
                rows.units.append(
                    (
                        uuid.uuid4(),
                        DI,
                        serial,
                        lot,
                        EXPIRY,
                        *last["holder"],
                        last["status"],
                        5 * stages,
                        last["event"],
                        moment,
                    )
                )
            if last["stock"] is not None:
                party, status = last["stock"]
                key = (party.id, party.id, party.warehouse, party.store, DI, lot, status)
                rows.stock[key] += len(serials)
        self.lots += 1

    def _walk(
        self,
        rows: Rows,
        path: list[Party],
        items: list[tuple[str, str | None, str, int]],
        moment: datetime,
    ) -> dict[str, Any]:
        """Five events per holder; ships between holders; returns the final state."""
        hour = timedelta(hours=1)
        receipt_id = uuid7_at(moment, self.rng)
        pending: tuple[uuid.UUID, Party, Party, uuid.UUID, datetime] | None = None
        for index, party in enumerate(path):
            at = moment + timedelta(days=2 * index)
            if pending is not None:
                shipment, source, _, ship_event, shipped_at = pending
                receipt_id = uuid7_at(at, self.rng)
                rows.shipments.append(
                    (
                        shipment,
                        ship_event,
                        source.id,
                        source.warehouse,
                        party.id,
                        party.warehouse,
                        "received",
                        shipped_at,
                        receipt_id,
                    )
                )
                for di, serial, lot, quantity in items:
                    rows.lines.append((uuid.uuid4(), shipment, di, lot, serial, quantity, EXPIRY))
            self._event(rows, "receiving", party, at, items, event_id=receipt_id)
            self._event(rows, "inspecting", party, at + hour, items)
            self._event(rows, "storing", party, at + 2 * hour, items)
            final = index == len(path) - 1
            if final and party.department is not None:
                self._event(rows, "stocking", party, at + 3 * hour, items)
                used = self._event(rows, "dispensing", party, at + 4 * hour, items)
                return {
                    "holder": (party.id, party.id, None, None),
                    "status": "dispensed",
                    "event": used,
                    "stock": None,
                }
            self._event(rows, "picking", party, at + 3 * hour, items)
            if final:
                last = self._event(rows, "staging_outbound", party, at + 4 * hour, items)
                return {
                    "holder": (party.id, party.id, party.warehouse, party.store),
                    "status": "picked",
                    "event": last,
                    "stock": (party, "picked"),
                }
            shipment = uuid.uuid4()
            nxt = path[index + 1]
            ship_event = self._event(
                rows, "shipping", party, at + 4 * hour, items, to=nxt, shipment=shipment
            )
            pending = (shipment, party, nxt, ship_event, at + 4 * hour)
        raise AssertionError("unreachable")

    def add_big_lot(self, rows: Rows) -> None:
        """A lot-quantity lot: maker → 10 distributors → 1,290 hospital deliveries."""
        maker = self.makers[0]
        items = [(BULK_DI, None, BIG_LOT, 26_000)]
        at = T0 - timedelta(days=30)
        hour = timedelta(hours=1)
        for step, k in (("receiving", 0), ("inspecting", 1), ("storing", 2)):
            self._event(rows, step, maker, at + k * hour, items)
        deliveries = [129] * 10
        for d, distributor in enumerate(self.distributors[:10]):
            sent = at + timedelta(days=1, minutes=d)
            quantity = deliveries[d] * 20 + 20
            self._ship(rows, maker, distributor, quantity, sent)
            for n in range(deliveries[d]):
                hospital = self.hospitals[(d * 129 + n) % len(self.hospitals)]
                self._ship(rows, distributor, hospital, 20, sent + timedelta(days=3, minutes=n))
                rows.stock[self._stock_key(hospital, BIG_LOT)] += 20
            rows.stock[self._stock_key(distributor, BIG_LOT)] += 20

    def _stock_key(self, party: Party, lot: str) -> tuple[Any, ...]:
        return (party.id, party.id, party.warehouse, party.store, BULK_DI, lot, "available")

    def _ship(self, rows: Rows, source: Party, to: Party, quantity: int, at: datetime) -> None:
        items = [(BULK_DI, None, BIG_LOT, quantity)]
        shipment = uuid.uuid4()
        ship_event = self._event(rows, "shipping", source, at, items, to=to, shipment=shipment)
        arrive = at + timedelta(days=1)
        receipt = uuid7_at(arrive, self.rng)
        rows.shipments.append(
            (
                shipment,
                ship_event,
                source.id,
                source.warehouse,
                to.id,
                to.warehouse,
                "received",
                at,
                receipt,
            )
        )
        rows.lines.append((uuid.uuid4(), shipment, BULK_DI, BIG_LOT, None, quantity, EXPIRY))
        self._event(rows, "receiving", to, arrive, items, event_id=receipt)
        self._event(rows, "inspecting", to, arrive + timedelta(hours=1), items)
        self._event(rows, "storing", to, arrive + timedelta(hours=2), items)

    # -- COPY --

    def flush(self, rows: Rows) -> None:
        """COPY the rows (shipments before the events that name them)."""
        now = datetime.now(UTC)
        stock = [
            (uuid.uuid4(), *key[:4], key[4], key[5], key[6], EXPIRY, quantity, now)
            for key, quantity in rows.stock.items()
        ]
        # shipments.received_event_id and events.shipment_id are not both foreign keys: the
        # shipment may come first.
        raw = self.session.connection().connection.driver_connection
        with raw.cursor() as cursor:
            for table, columns, values in (
                ("shipments", SHIPMENT_COLUMNS, rows.shipments),
                ("shipment_items", LINE_COLUMNS, rows.lines),
                ("events", EVENT_COLUMNS, rows.events),
                ("event_items", ITEM_COLUMNS, rows.items),
                ("units", UNIT_COLUMNS, rows.units),
                ("stock", STOCK_COLUMNS, stock),
            ):
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)
        self.session.commit()


def progress(done: int, total: int, label: str, started: float, before: int = 0) -> None:
    width = 40
    filled = int(width * done / max(total, 1))
    rate = (done - before) / max(time.perf_counter() - started, 1e-9)
    bar = "#" * filled + "." * (width - filled)
    print(f"\r[{bar}] {done:,}/{total:,} {label} ({rate:,.0f}/s)", end="", file=sys.stderr)
    if done >= total:
        print(file=sys.stderr)


def build(history: History, lots: Iterable[int], total_lots: int, label: str) -> None:
    """Add ``lots`` in chunks of 200, COPYing each chunk."""
    started, before = time.perf_counter(), history.lots
    todo = list(lots)
    for start in range(0, len(todo), 200):
        rows = Rows()
        for number in todo[start : start + 200]:
            history.add_lot(rows, number)
        history.flush(rows)
        done = history.lots
        progress(done, total_lots, f"lots, {history.events:,} events {label}", started, before)


def timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def percentiles(values: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return round(statistics.median(ordered), 2), round(p95, 2)


def measure(
    session: Session, history: History, samples: int, size: int, client: Any, headers: Any
) -> list[dict]:
    """Unit traces of random serials and the big lot's trace (service and HTTP), with their
    raw floors; ``samples`` of each, except the raw lot query (a fifth: it is the slow one)."""
    session.execute(text("ANALYZE"))
    session.commit()
    rng = random.Random(size)
    serials = rng.sample(history.serials, min(samples, len(history.serials)))
    ev, item = tables.events, tables.event_items

    def raw_unit(serial: str) -> None:
        query = select(ev).join(item, item.c.event_id == ev.c.id)
        session.execute(query.where(item.c.di == DI, item.c.serial == serial)).all()
        session.rollback()

    def raw_lot() -> None:
        query = select(ev).join(item, item.c.event_id == ev.c.id)
        session.execute(query.where(item.c.di == BULK_DI, item.c.lot == BIG_LOT)).all()
        session.rollback()

    for serial in serials[:20]:  # warm caches and plans
        trace.unit_trace(session, SYSTEM, DI, serial)
    unit_ms = [timed(lambda s=s: trace.unit_trace(session, SYSTEM, DI, s)) for s in serials]
    unit_raw = [timed(lambda s=s: raw_unit(s)) for s in serials]
    hops = statistics.mean(
        len(trace.unit_trace(session, SYSTEM, DI, s)["timeline"]) for s in serials[:50]
    )
    lot = trace.lot_trace(session, SYSTEM, BULK_DI, BIG_LOT)
    assert lot["totals"]["shipments"] == 1300, lot["totals"]
    assert lot["balance"]["balanced"], lot["balance"]["imbalances"][:3]
    lot_ms = [
        timed(lambda: trace.lot_trace(session, SYSTEM, BULK_DI, BIG_LOT)) for _ in range(samples)
    ]
    lot_raw = [timed(raw_lot) for _ in range(max(15, samples // 5))]
    url = f"/api/v1/trace/lot?di={BULK_DI}&lot={BIG_LOT}"

    def http_lot() -> None:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    http_lot()
    http_ms = [timed(http_lot) for _ in range(samples)]
    rows = []
    for name, values, floor, detail in (
        ("unit trace", unit_ms, unit_raw, f"{len(serials)} serials, {hops:.1f} events each"),
        ("lot trace", lot_ms, lot_raw, "1,300 shipments"),
        ("lot trace (HTTP)", http_ms, lot_raw, "1,300 shipments, GET /api/v1/trace/lot"),
    ):
        p50, p95 = percentiles(values)
        raw50, raw95 = percentiles(floor)
        rows.append(
            {
                "events": size,
                "query": name,
                "detail": detail,
                "samples": len(values),
                "raw_samples": len(floor),
                "p50_ms": p50,
                "p95_ms": p95,
                "raw_p50_ms": raw50,
                "raw_p95_ms": raw95,
                "ratio_p50": round(p50 / raw50, 1) if raw50 else None,
            }
        )
    return rows


def index_plan(session: Session) -> list[str]:
    """EXPLAIN of the unit trace's first query: it must walk an index, not scan events."""
    serial = "S000001-00"
    plan = session.execute(
        text(
            "EXPLAIN SELECT events.* FROM events JOIN event_items ON event_items.event_id = "
            "events.id WHERE event_items.di = :di AND event_items.serial = :serial"
        ),
        {"di": DI, "serial": serial},
    ).scalars()
    lines = list(plan)
    session.rollback()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="about this many events")
    parser.add_argument("--samples", type=int, default=300, help="serials traced per size")
    args = parser.parse_args()
    lots = max(10, args.events // 100)  # 100 events per lot of 20 units on average
    first = max(1, lots // 10)
    results: list[dict[str, Any]] = []
    with scratch_database("postgresql") as url:
        app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": False})
        with app.app_context():
            flask_migrate.upgrade()
        session = app.extensions["udi_db"].session_factory()
        history = History(session)
        rows = Rows()
        history.add_big_lot(rows)
        history.flush(rows)
        issued = create_token(
            session, organisation_id=history.makers[0].id, roles=(Role.ADMIN,), name="bench"
        )
        client, headers = app.test_client(), {"Authorization": f"Bearer {issued.secret}"}
        build(history, range(first), lots, "(first 10%)")
        results += measure(session, history, args.samples, history.events, client, headers)
        build(history, range(first, lots), lots, "(the rest)")
        results += measure(session, history, args.samples, history.events, client, headers)
        plan = index_plan(session)
        counts = {
            name: session.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in ("events", "event_items", "units", "shipments", "shipment_items")
        }
        # Heap + indexes + TOAST per table, its partitions included (a partitioned parent
        # holds nothing itself): the storage arithmetic of docs/scaling.md.
        sizes = {
            name: int(
                session.execute(
                    text(
                        "SELECT coalesce(sum(pg_total_relation_size(relid)), "
                        f"pg_total_relation_size('{name}')) FROM pg_partition_tree('{name}')"
                    )
                ).scalar_one()
            )
            for name in ("events", "event_items", "audit_batches")
        }
        session.close()
        app.extensions["udi_db"].engine.dispose()
    per_size = len(results) // 2
    small = {r["query"]: r for r in results[:per_size]}
    for row in results[per_size:]:
        row["growth_p95"] = round(row["p95_ms"] / small[row["query"]]["p95_ms"], 2)
    print_table(
        ["events", "query", "detail", "p50 ms", "p95 ms", "raw p50 ms", "p50 / raw", "p95 growth"],
        [
            [
                f"{r['events']:,}",
                r["query"],
                r["detail"],
                r["p50_ms"],
                r["p95_ms"],
                r["raw_p50_ms"],
                f"{r['ratio_p50']}x",
                f"{r.get('growth_p95', 1.0)}x",
            ]
            for r in results
        ],
    )
    print("plan of the unit's events query:\n  " + "\n  ".join(plan))
    per_event = {name: round(size / counts["events"]) for name, size in sizes.items()}
    print(f"bytes per event (table + indexes): {per_event}")
    path = write_results(
        "trace",
        {
            "engine": "postgresql",
            "events_requested": args.events,
            "table_rows": counts,
            "table_bytes": sizes,
            "bytes_per_event": {
                name: round(size / counts["events"]) for name, size in sizes.items()
            },
            "lots": lots + 1,
            "serials": lots * SERIALS_PER_LOT,
            "samples": args.samples,
            "goals": {"unit_trace_p95_ms": 20, "lot_trace_ms": 200},
            "unit_events_plan": plan,
            "rows": results,
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
