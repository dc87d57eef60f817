"""Scan ingestion below HTTP: a crash while storing, batch limits, CLI import."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scanning import counts, devices, ingest
from scanning import tables as scan_tables
from scanning.ingest import ScanIn
from scanning.operations import Operation, event_id_for
from tests.movements_world import STENT, T0, World, build_world, stent
from tests.scanning_world import count_events, gauze_label, stent_label
from warehouse.domain.movements import BizStep as B
from warehouse.services import audit
from warehouse.services.access import SYSTEM
from warehouse.services.errors import ValidationFailed


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


@pytest.fixture
def device(world: World) -> devices.Scanner:
    new = devices.NewScanner(world["W-P"], "dock 1", {"gs_substitutes": ["|"]}, world["P"])
    return devices.register(world.session, SYSTEM, new).scanner


def _scan(world: World, raw: str, operation: Operation, at: str, **kw: Any) -> ScanIn:
    return ScanIn(
        scan_id=kw.pop("scan_id", None) or uuid.uuid4(),
        raw=raw,
        device_time=kw.pop("device_time", None) or world.tick(),
        operation=operation,
        location_id=world[at],
        **kw,
    )


def _stored(world: World) -> int:
    found = world.session.execute(select(func.count()).select_from(scan_tables.scans))
    total = int(found.scalar_one())
    world.session.rollback()
    return total


def test_a_crash_after_the_writes_rolls_back_events_and_scans_and_the_replay_counts_once(
    world: World, device: devices.Scanner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash comes after the events and the scans were written (while sealing the batch,
    the last step before the commit)."""
    scans = [
        _scan(world, stent_label(f"S{n}"), Operation.RECEIVE, "W-P/Q", owner_id=world["X"])
        for n in range(3)
    ]
    real_seal = audit.seal_batch

    def crash(*_args: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(audit, "seal_batch", crash)
    with pytest.raises(RuntimeError):
        ingest.ingest(world.session, device, scans)
    assert count_events(world, str(device.id)) == 0  # one transaction: nothing half-written
    assert _stored(world) == 0
    monkeypatch.setattr(audit, "seal_batch", real_seal)
    replay = ingest.ingest(world.session, device, scans)
    assert [r.status for r in replay.results] == ["accepted"] * 3
    assert count_events(world, str(device.id)) == 3
    assert _stored(world) == 3
    ids = {uuid.UUID(r.event_id) for r in replay.results if r.event_id}
    assert len(ids) == 3


def test_event_ids_derive_from_device_and_scan_id(world: World, device: devices.Scanner) -> None:
    one = _scan(world, stent_label("S1"), Operation.RECEIVE, "W-P/Q", owner_id=world["X"])
    result = ingest.ingest(world.session, device, [one]).results[0]
    stored = world.session.execute(
        select(func.count()).where(
            scan_tables.scans.c.event_id == uuid.UUID(result.event_id or ""),
        )
    ).scalar_one()
    events = world.session.execute(
        select(func.count()).where(
            ingest.tables.events.c.event_id == event_id_for(device.id, one.scan_id)
        )
    ).scalar_one()
    world.session.rollback()
    assert (stored, events) == (1, 1)


def test_more_than_a_thousand_scans_are_refused_whole(
    world: World, device: devices.Scanner
) -> None:
    many = [_scan(world, gauze_label(), Operation.PICK, "W-P/A", quantity=1)] * 1001
    with pytest.raises(ValidationFailed):
        ingest.ingest(world.session, device, many)


def test_a_late_offline_scan_that_a_move_made_invalid_becomes_an_exception(
    world: World, device: devices.Scanner
) -> None:
    world.receive_stock("P", "W-P", [stent("S1")], owner="X")
    world.ok(B.PICKING, "P", [stent("S1")])
    offline = _scan(
        world,
        stent_label("S1"),
        Operation.PICK,
        "W-P/A",
        device_time=T0 - timedelta(hours=1),
    )
    result = ingest.ingest(world.session, device, [offline]).results[0]
    assert result.status == "rejected"
    assert result.problem is not None
    assert result.problem["code"] == "stock.conflict"
    assert result.exception_id is not None


# --- flask scans import -------------------------------------------------------------------------


def test_cli_imports_a_csv_with_a_progress_bar_and_summary_and_reimports_as_duplicates(
    runner: FlaskCliRunner, world: World, device: devices.Scanner, tmp_path: Path
) -> None:
    path = tmp_path / "dock.csv"
    rows = [
        "scan,operation,location_id,owner_id,quantity,device_time",
        f"{stent_label('S1', expiry='291231').replace(chr(29), '|')},receive,"
        f"{world['W-P/Q']},{world['X']},,2026-06-15T10:00:00+08:00",
        f"{gauze_label()},receive,{world['W-P/Q']},{world['X']},4,2026-06-15T10:01:00+08:00",
        f"]d201{STENT[:-1]}9,receive,{world['W-P/Q']},,,2026-06-15T10:02:00+08:00",
        f"{gauze_label()},receive,{world['W-P/Q']},{world['X']},many,2026-06-15T10:03:00+08:00",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(args=["scans", "import", str(path), "--device", str(device.id)])
    assert result.exit_code == 0, result.output
    assert "importing dock.csv" in result.output
    lines = result.output.splitlines()
    assert any(line.split()[:3] == ["4", "rejected", "gs1.check_digit"] for line in lines)
    assert any(line.split()[:3] == ["5", "rejected", "request.validation"] for line in lines)
    assert lines[-1].split() == ["4", "2", "0", "2", "0"]
    assert world.unit("S1")["status"] == "pending_acceptance"
    again = runner.invoke(args=["scans", "import", str(path), "--device", str(device.id)])
    assert again.output.splitlines()[-1].split() == ["4", "0", "4", "0", "0"]
    assert count_events(world, str(device.id)) == 2


def test_cli_imports_one_raw_scan_per_line_with_options(
    runner: FlaskCliRunner, world: World, device: devices.Scanner, tmp_path: Path
) -> None:
    path = tmp_path / "wedge.txt"
    path.write_text(
        "\n".join(stent_label(f"S{n}") for n in range(1, 4)) + "\n\n" + "garbage\n",
        encoding="utf-8",
    )
    args = [
        "scans",
        "import",
        str(path),
        "--device",
        str(device.id),
        "--operation",
        "receive",
        "--location",
        str(world["W-P/Q"]),
        "--owner",
        str(world["X"]),
        "--device-time",
        "2026-06-15T10:00:00+08:00",
    ]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].split() == ["4", "3", "0", "1", "0"]
    assert any(line.split()[:2] == ["5", "rejected"] for line in result.output.splitlines())
    assert {world.unit(f"S{n}")["status"] for n in range(1, 4)} == {"pending_acceptance"}
    again = runner.invoke(args=args)
    assert again.output.splitlines()[-1].split() == ["4", "0", "4", "0", "0"]
    unknown = runner.invoke(args=["scans", "import", str(path), "--device", str(uuid.uuid4())])
    assert unknown.exit_code != 0
    assert "Expected a scanner id" in unknown.output


def test_a_count_scan_is_refused_when_its_count_closed_after_it_was_read(
    own_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count's status is read again, locked, before the scan is stored: a confirmation
    committed by another request after the batch first read the count refuses the scan
    (SQLite reads and decides before taking the write lock: the confirmation commits in
    between; PostgreSQL reads in the writing transaction, before locking anything)."""
    factory = own_app.extensions["udi_db"].session_factory
    world = build_world(factory())
    new = devices.NewScanner(world["W-P"], "dock 1", {}, world["P"])
    device = devices.register(world.session, SYSTEM, new).scanner
    world.receive_stock("P", "W-P", [stent("S1")], owner="X")
    opened = counts.create(world.session, SYSTEM, world["W-P/A"], world["P"])
    count_id = opened["id"]
    real = ingest._check_catalogue

    def confirmed_meanwhile(session: Session, rows: Any) -> None:
        real(session, rows)
        if not confirmed:
            confirmed.append(True)
            other = factory()
            counts.confirm(other, SYSTEM, count_id)
            other.close()

    confirmed: list[bool] = []

    monkeypatch.setattr(ingest, "_check_catalogue", confirmed_meanwhile)
    late = _scan(world, stent_label("S1"), Operation.STOCK_COUNT, "W-P/A", count_id=count_id)
    result = ingest.ingest(world.session, device, [late]).results[0]
    assert result.status == "rejected"
    assert result.problem is not None
    assert result.problem["code"] == "scan.count_closed"
    assert "confirmed" in result.problem["detail"]
    report = counts.report(world.session, SYSTEM, count_id)
    assert (report["status"], report["scans"]) == ("confirmed", 0)


def test_a_count_scan_is_answered_by_the_catalogue_as_it_is_when_stored(
    own_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stent's label gains a production date after the batch first checked the count scan
    against the catalogue. The answer and the stored row agree whatever the engine decides:
    never ``accepted`` with a problem (SQLite checks again inside its write lock and refuses;
    PostgreSQL checked once, inside its transaction, before the change)."""
    factory = own_app.extensions["udi_db"].session_factory
    world = build_world(factory())
    new = devices.NewScanner(world["W-P"], "dock 1", {}, world["P"])
    device = devices.register(world.session, SYSTEM, new).scanner
    world.receive_stock("P", "W-P", [stent("S1")], owner="X")
    count_id = counts.create(world.session, SYSTEM, world["W-P/A"], world["P"])["id"]
    real = ingest._check_catalogue
    changed: list[bool] = []

    def changed_meanwhile(session: Session, rows: Any) -> None:
        real(session, rows)
        if not changed:
            changed.append(True)
            catalogue = ingest.tables.devices
            with own_app.extensions["udi_db"].engine.begin() as other:
                other.execute(
                    catalogue.update()
                    .where(catalogue.c.di == STENT)
                    .values(label_production_date=True)
                )

    monkeypatch.setattr(ingest, "_check_catalogue", changed_meanwhile)
    scan = _scan(world, stent_label("S1"), Operation.STOCK_COUNT, "W-P/A", count_id=count_id)
    result = ingest.ingest(world.session, device, [scan]).results[0]
    stored = world.session.execute(
        select(scan_tables.scans.c.status, scan_tables.scans.c.problem)
    ).one()
    engine = world.session.get_bind().dialect.name
    world.session.close()
    assert changed
    assert (result.status, stored.status) in (("accepted", "accepted"), ("rejected", "rejected"))
    assert (result.problem is None) == (result.status == "accepted")
    if engine == "sqlite":
        assert result.problem is not None
        assert result.problem["code"] == "movement.pi_mismatch"
