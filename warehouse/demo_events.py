"""Demo movements: a few stents and a lot of balloons moved through the demo world.

The story, recorded through the same service every client uses (so every rule is checked)::

    鹭康 (maker) makes 3 stents and 20 balloons in its Haicang warehouse
      stents  → shipped to 鹭通 Xiamen (a 3PL storing them for the distributor, which owns them)
              → moved by 鹭通 into its wholly-owned subsidiary's Quanzhou warehouse (R2)
              → delivered to 鹭岛第一医院, accepted, issued to 心内科, one used on a patient
      balloons → shipped to the distributor's own warehouse, 12 sold on to the hospital

Event ids are derived from a fixed name and times are fixed, so loading twice records
nothing new (the second load answers ``duplicate`` for every event).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.movements import BizStep
from warehouse.services import movements
from warehouse.services.access import SYSTEM
from warehouse.services.movements import Document, NewEvent, NewItem

B = BizStep
CST = timezone(timedelta(hours=8), "CST")
START = datetime(2026, 10, 12, 9, 0, tzinfo=CST)
"""When the story starts; fixed so that a second load is recognised as a replay."""

NAMESPACE = uuid.UUID("5b0c6a52-6f0e-4c43-9a55-2f3c9a7e0d11")
STENT_LOT, BALLOON_LOT = "DL2610A", "BL2609C"
EXPIRY, MADE = date(2029, 9, 30), date(2026, 9, 15)
STENT_SERIALS = ("DS0001", "DS0002", "DS0003")
PATIENT, ENCOUNTER = "pt-7c2e91", "op-2026-1103"


@dataclass
class _Story:
    """Turns short step descriptions into events with deterministic ids and times."""

    orgs: dict[str, uuid.UUID]
    places: dict[str, uuid.UUID]
    locations: dict[tuple[uuid.UUID, str], uuid.UUID]
    events: list[NewEvent] = field(default_factory=list)

    def at(self, place: str, code: str) -> uuid.UUID:
        return self.locations[(self.places[place], code)]

    def add(self, step: BizStep, actor: str, items: tuple[NewItem, ...], **kw: Any) -> None:
        number = len(self.events)
        self.events.append(
            NewEvent(
                event_id=uuid.uuid5(NAMESPACE, f"demo-event-{number}"),
                biz_step=step,
                event_time=START + timedelta(hours=3 * number),
                items=items,
                acting_org_id=self.orgs[actor],
                **kw,
            )
        )

    def receive_and_store(
        self, actor: str, place: str, items: tuple[NewItem, ...], owner: str
    ) -> None:
        quarantine, shelf = self.at(place, "Q"), self.at(place, "A-01")
        self.add(B.RECEIVING, actor, items, location_id=quarantine, owner_id=self.orgs[owner])
        self.add(B.INSPECTING, actor, items, location_id=quarantine)
        self.add(B.STORING, actor, items, location_id=shelf, read_point_id=quarantine)

    def pick_and_ship(
        self, actor: str, place: str, items: tuple[NewItem, ...], to: str, to_place: str, **kw: Any
    ) -> None:
        shelf = self.at(place, "A-01")
        self.add(B.PICKING, actor, items, read_point_id=shelf)
        self.add(B.STAGING_OUTBOUND, actor, items, read_point_id=shelf)
        self.add(
            B.SHIPPING,
            actor,
            items,
            read_point_id=shelf,
            destination_party_id=self.orgs[to],
            destination_warehouse_id=self.places[to_place],
            **kw,
        )


def record(
    session: Session,
    orgs: dict[str, uuid.UUID],
    places: dict[str, uuid.UUID],
    stent_di: str,
    balloon_di: str,
) -> Iterator[str]:
    """Record the demo story; yield one summary line and a line per refused event."""
    story = _Story(orgs, places, _locations(session, places.values()))
    _tell(story, stent_di, balloon_di)
    result = movements.record(session, SYSTEM, story.events)
    yield (
        f"demo events: {result.count('accepted')} recorded, "
        f"{result.count('duplicate')} already there, {result.count('rejected')} refused"
    )
    for outcome in result.results:
        if (problem := outcome.problem) is not None:
            yield f"  event {outcome.index} refused: {problem.code}: {problem.detail}"


def _tell(story: _Story, stent_di: str, balloon_di: str) -> None:
    label = {"expiry": EXPIRY, "production_date": MADE}
    stents = tuple(NewItem(di=stent_di, serial=s, lot=STENT_LOT, **label) for s in STENT_SERIALS)
    balloons = (NewItem(di=balloon_di, lot=BALLOON_LOT, quantity=20, **label),)
    sold = (NewItem(di=balloon_di, lot=BALLOON_LOT, quantity=12, **label),)
    desadv = (Document("desadv", "LK-DA-2026-1012"), Document("po", "MH-PO-2026-0931"))

    story.receive_and_store("maker", "wh_maker", stents + balloons, owner="maker")
    story.pick_and_ship("maker", "wh_maker", stents, "tpl", "wh_tpl", documents=desadv)
    story.receive_and_store("tpl", "wh_tpl", stents, owner="distributor")
    story.pick_and_ship("tpl", "wh_tpl", stents, "tpl", "wh_qz")
    story.receive_and_store("tpl", "wh_qz", stents, owner="distributor")
    invoice = (Document("inv", "MH-INV-2026-2231"),)
    story.pick_and_ship("tpl", "wh_qz", stents, "hospital", "wh_hospital", documents=invoice)
    story.receive_and_store("hospital", "wh_hospital", stents, owner="hospital")
    department = story.at("wh_hospital", "K-XNK")
    shelf = story.at("wh_hospital", "A-01")
    story.add(B.STOCKING, "hospital", stents, location_id=department, read_point_id=shelf)
    story.add(
        B.DISPENSING,
        "hospital",
        stents[:1],
        read_point_id=department,
        patient_ref=PATIENT,
        encounter_ref=ENCOUNTER,
    )

    story.pick_and_ship("maker", "wh_maker", balloons, "distributor", "wh_dist")
    story.receive_and_store("distributor", "wh_dist", balloons, owner="distributor")
    story.pick_and_ship("distributor", "wh_dist", sold, "hospital", "wh_hospital")
    story.receive_and_store("hospital", "wh_hospital", sold, owner="hospital")


def _locations(
    session: Session, warehouse_ids: Iterable[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], uuid.UUID]:
    loc = tables.locations
    query = select(loc.c.warehouse_id, loc.c.code, loc.c.id).where(
        loc.c.warehouse_id.in_(list(warehouse_ids))
    )
    found = {(row.warehouse_id, row.code): row.id for row in session.execute(query)}
    session.rollback()  # end the read so the recording service can begin its write
    return found
