"""Demo handheld: a registered scanner at the 3PL's Xiamen warehouse, run by ``flask demo load``.

Each load registers a new device (a device's token is shown once, so a reload cannot print
the old one) and prints its token with a scan that receives a demo stent into quarantine.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from scanning import devices
from warehouse import tables
from warehouse.demo import DEMO_DI, ORGS, SERVE_URL, WAREHOUSES
from warehouse.services.access import SYSTEM

CST = timezone(timedelta(hours=8))
QUIRKS = {"gs_substitutes": ["|"], "sends_symbology_id": True}
"""A keyboard-wedge handheld that types GS as '|' and sends the AIM symbology identifier."""


def load(session: Session) -> Iterator[str]:
    """Register a demo handheld; yield its token and a ready-to-run scan."""
    tpl_code = next(org.credit_code for org in ORGS if org.key == "tpl")
    place = next(place for place in WAREHOUSES if place.key == "wh_tpl")
    org, wh, loc = tables.organisations, tables.warehouses, tables.locations
    distributor_code = next(o.credit_code for o in ORGS if o.key == "distributor")
    distributor_id = session.execute(
        select(org.c.id).where(org.c.credit_code == distributor_code)
    ).scalar_one_or_none()
    found = session.execute(
        select(org.c.id, wh.c.id, loc.c.id)
        .join(wh, wh.c.operator_id == org.c.id)
        .join(loc, loc.c.warehouse_id == wh.c.id)
        .where(org.c.credit_code == tpl_code, wh.c.name == place.name, loc.c.code == "Q")
    ).first()
    session.rollback()  # end the read; registering begins its own write
    if found is None or distributor_id is None:
        yield "demo handheld: skipped (the 3PL's Xiamen warehouse is missing)"
        return
    tpl_id, warehouse_id, quarantine_id = found
    name = f"demo handheld {datetime.now(UTC):%Y%m%d-%H%M%S.%f}"
    new = devices.NewScanner(warehouse_id, name, QUIRKS, organisation_id=tpl_id)
    registered = devices.register(session, SYSTEM, new)
    yield f"scanner device token: {registered.token}  for {place.name} ({name}; GS typed as '|')"
    body = json.dumps(_scan(quarantine_id, distributor_id))
    yield "  receive a stent (owned by the distributor) into quarantine with it:"
    yield f"  curl -s -H 'Authorization: Bearer {registered.token}' {SERVE_URL}/api/v1/scans " + (
        f"-H 'Content-Type: application/json' -d '{body}'"
    )


def _scan(location_id: uuid.UUID, owner_id: uuid.UUID) -> dict[str, str]:
    serial = f"DEMO{uuid.uuid4().hex[:8].upper()}"
    return {
        "scan_id": str(uuid.uuid4()),
        # (01) DI (11) made 2026-09-15 (17) expires 2029-09-30 (10) lot | (21) serial
        "scan": f"]d201{DEMO_DI}112609151729093010DL2610B|21{serial}",
        "device_time": datetime.now(CST).isoformat(timespec="seconds"),
        "operation": "receive",
        "location_id": str(location_id),
        "owner_id": str(owner_id),
    }
