"""``flask scans import FILE``: scans from a file, for sites without an integration.

Two formats: a CSV whose header names the API's scan fields (``scan`` required; ``scan_id``,
``device_time``, ``operation``, ``location_id``, ``quantity``, ``document_type`` and
``document_id``… optional), or plain text with one raw scan per line. Options give the values
a file leaves out. Every scan goes through the same service as ``POST /api/v1/scans/batch``.

A row without ``scan_id`` gets one derived from its line number and text, and a file without
device times takes its modification time, so importing the same file again answers every
scan ``duplicate`` instead of recording it twice.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from scanning import demo, devices, ingest
from scanning.api.scans import parse_scan
from scanning.operations import Operation
from warehouse.cli import add_demo_hook
from warehouse.db import db
from warehouse.services.access import SYSTEM
from warehouse.services.errors import NotFound

scans_cli = AppGroup("scans", help="Import scans from files.")

FILE_NAMESPACE = uuid.UUID("6c1d2b0e-4f1a-5d0b-8f3e-7a2c9e5b1d44")
"""uuid5 namespace of scan ids derived for file rows (fixed; never change it)."""

CHUNK = ingest.MAX_BATCH
_DOCUMENT_COLUMNS = ("document_type", "document_id")


def register(app: Flask) -> None:
    """Add the ``scans`` command group to ``app.cli`` and a handheld to ``flask demo load``."""
    app.cli.add_command(scans_cli)
    add_demo_hook(app, demo.load)


@scans_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--device", "device_id", required=True, type=click.UUID, help="Scanner id.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "lines"]),
    default=None,
    help="csv (header row of field names) or lines (one raw scan per line); default by the"
    " extension: .csv is csv.",
)
@click.option(
    "--operation", type=click.Choice([o.value for o in Operation]), help="Default operation."
)
@click.option("--location", "location_id", type=click.UUID, help="Default location id.")
@click.option("--from-location", "from_location_id", type=click.UUID, help="Lots taken from.")
@click.option("--quantity", type=click.IntRange(min=1), help="Default quantity (lot items).")
@click.option("--owner", "owner_id", type=click.UUID, help="Default owner (receive).")
@click.option("--count", "count_id", type=click.UUID, help="Stock count session.")
@click.option(
    "--device-time",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z"]),
    help="Default device time, with its offset; default: the file's modification time.",
)
def import_scans_command(
    file: Path,
    device_id: uuid.UUID,
    file_format: str | None,
    device_time: datetime | None,
    **defaults: Any,
) -> None:
    """Import the scans in FILE as sent by the scanner --device."""
    try:
        device = devices.get(db.session, SYSTEM, device_id)
    except NotFound:
        raise click.BadParameter(f"Expected a scanner id, got {device_id}.") from None
    if device.revoked_at is not None:
        raise click.BadParameter(f"Expected an active scanner, got {device_id}, revoked.")
    moment = device_time or datetime.fromtimestamp(file.stat().st_mtime, UTC)
    chosen = file_format or ("csv" if file.suffix.lower() == ".csv" else "lines")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"Cannot read {file} as UTF-8: {error}") from None
    rows = list(_rows(text, chosen))
    fallback = {k: str(v) for k, v in defaults.items() if v is not None}
    fallback["device_time"] = moment.isoformat()
    bodies = [_body(number, row, fallback) for number, row in rows]
    results: list[tuple[int, ingest.ScanResult]] = []
    with click.progressbar(length=len(bodies), label=f"importing {file.name}") as bar:
        for start in range(0, len(bodies), CHUNK):
            chunk = bodies[start : start + CHUNK]
            outcome = ingest.ingest(db.session, device, [parse_scan(body) for body in chunk])
            numbers = [number for number, _ in rows[start : start + CHUNK]]
            results += zip(numbers, outcome.results, strict=True)
            bar.update(len(chunk))
    _print_summary(results, "row" if chosen == "csv" else "line")


def _rows(text: str, file_format: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, fields) for each scan; blank lines are skipped."""
    if file_format == "lines":
        # Not str.splitlines(): it also splits at GS (U+001D) and RS, which are scan data.
        for number, line in enumerate(text.split("\n"), start=1):
            line = line.removesuffix("\r")
            if line.strip():
                yield number, {"scan": line}
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or "scan" not in reader.fieldnames:
        raise click.ClickException("Expected a CSV header with a 'scan' column, got none.")
    for row in reader:
        fields = {k: v for k, v in row.items() if k and v not in (None, "")}
        if fields.get("scan"):
            yield reader.line_num, fields


def _body(number: int, row: dict[str, str], fallback: dict[str, str]) -> dict[str, Any]:
    """The API body of one file row: its own fields over the command's defaults."""
    body: dict[str, Any] = {**fallback, **row}
    body.setdefault("scan_id", str(uuid.uuid5(FILE_NAMESPACE, f"{number}\t{row['scan']}")))
    if "quantity" in body:
        body["quantity"] = _int(body["quantity"])
    document = [body.pop(name, None) for name in _DOCUMENT_COLUMNS]
    if any(document):
        body["document"] = {"type": document[0], "id": document[1]}
    return body


def _int(value: str) -> int | str:
    # A non-number stays text, so the schema refuses it with its own message.
    return int(value) if value.strip().isdigit() else value


def _print_summary(results: Sequence[tuple[int, ingest.ScanResult]], unit: str) -> None:
    refused = [(n, r) for n, r in results if r.problem is not None]
    if refused:
        click.echo(f"\n{unit:>6}  {'status':9}  {'code':32}  {'pos':>4}  message")
        for number, result in refused:
            assert result.problem is not None
            errors = result.problem.get("errors") or [{}]
            position = errors[0].get("position")
            status = "exception" if result.exception_id else result.status
            click.echo(
                f"{number:>6}  {status:9}  {result.problem['code']:32}  "
                f"{'' if position is None else position:>4}  {result.problem['detail']}"
            )
    counts = Counter(r.status for _, r in results)
    queued = sum(1 for _, r in results if r.exception_id and r.status == ingest.REJECTED)
    click.echo(
        f"\n{'read':>8} {'accepted':>9} {'duplicate':>10} {'rejected':>9} {'exceptions':>11}"
    )
    click.echo(
        f"{len(results):>8} {counts[ingest.ACCEPTED]:>9} {counts[ingest.DUPLICATE]:>10} "
        f"{counts[ingest.REJECTED] - queued:>9} {queued:>11}"
    )
