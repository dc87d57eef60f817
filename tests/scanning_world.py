"""Scanner devices and scans on top of :mod:`tests.movements_world`.

Labels are GS1 DataMatrix texts as a clean scanner sends them (``]d2`` + element strings, GS
between variable-length fields); ``scan`` builds one scan as the API takes it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.movements_world import GAUZE, STENT, T0, World, token
from warehouse import tables
from warehouse.domain.roles import Role

GS = "\x1d"

Headers = dict[str, str]


def stent_label(serial: str, lot: str = "L1", expiry: str = "291231") -> str:
    """The stent's label: DI, expiry, lot and serial."""
    return f"]d201{STENT}17{expiry}10{lot}{GS}21{serial}"


def gauze_label(lot: str = "G1", expiry: str = "291231") -> str:
    """The gauze's label: DI, expiry and lot (a lot-level item)."""
    return f"]d201{GAUZE}17{expiry}10{lot}"


def register(
    client: FlaskClient,
    world: World,
    org: str = "P",
    warehouse: str = "W-P",
    *,
    name: str = "handheld 1",
    quirks: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Headers]:
    """Register a scanner through the API; return its JSON and its token's headers."""
    manager = token(world, org, Role.ORG_MANAGER)
    body = {"name": name, "warehouse_id": str(world[warehouse]), "quirks": quirks or {}}
    response = client.post("/api/v1/scanners", json=body, headers=manager)
    assert response.status_code == 201, response.get_data(as_text=True)
    device = response.get_json()
    return device, {"Authorization": f"Bearer {device['token']}"}


def scan(
    world: World,
    raw: str,
    operation: str,
    at: str,
    *,
    minute: int | None = None,
    scan_id: uuid.UUID | str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One scan as the API takes it; ``at`` and ``from_`` take world location keys."""
    moment = world.tick() if minute is None else T0 + timedelta(minutes=minute)
    body: dict[str, Any] = {
        "scan_id": str(scan_id or uuid.uuid4()),
        "scan": raw,
        "device_time": moment.isoformat(),
        "operation": operation,
        "location_id": str(world[at]),
    }
    if "from_" in fields:
        body["from_location_id"] = str(world[fields.pop("from_")])
    for key in ("owner", "to"):
        if key in fields:
            name = "owner_id" if key == "owner" else "destination_party_id"
            body[name] = str(world[fields.pop(key)])
    body.update(fields)
    return body


def count_events(world: World, device_id: str) -> int:
    """Events recorded by a scanner device."""
    ev = tables.events
    query = select(func.count()).where(ev.c.scanner_device_id == device_id)
    found = world.session.execute(query).scalar_one()
    world.session.rollback()
    return int(found)
