"""What a scan asks for, in warehouse words, and how it becomes a movement event (pure).

A handheld sends an *operation* (what the operator was doing when they pulled the trigger);
the warehouse records a CBV business step. This module holds that mapping, which location
field each operation fills, how a scan's event id is derived, and which movement refusals
make a scan an *exception* (review queue) rather than a plain rejection.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from warehouse.domain.movements import BizStep


class Operation(StrEnum):
    """What the operator was doing (the scanner's menu)."""

    RECEIVE = "receive"
    ACCEPT = "accept"
    PUT_AWAY = "put_away"
    PICK = "pick"
    SHIP = "ship"
    ISSUE_TO_DEPARTMENT = "issue_to_department"
    USE_ON_PATIENT = "use_on_patient"
    RETURN = "return"
    STOCK_COUNT = "stock_count"


@dataclass(frozen=True, slots=True)
class Mapping:
    """How one operation becomes an event.

    ``location_id`` of the scan is either where the goods end up (``to_location``: receive,
    put away, department issue, return) or where they were scanned (the event's read point:
    accept, pick, ship, use). A move may name ``from_location_id`` too: lot quantities are taken
    from there.
    """

    step: BizStep
    to_location: bool


STEPS: dict[Operation, Mapping] = {
    Operation.RECEIVE: Mapping(BizStep.RECEIVING, to_location=True),
    Operation.ACCEPT: Mapping(BizStep.ACCEPTING, to_location=False),
    Operation.PUT_AWAY: Mapping(BizStep.STORING, to_location=True),
    Operation.PICK: Mapping(BizStep.PICKING, to_location=False),
    Operation.SHIP: Mapping(BizStep.SHIPPING, to_location=False),
    Operation.ISSUE_TO_DEPARTMENT: Mapping(BizStep.STOCKING, to_location=True),
    Operation.USE_ON_PATIENT: Mapping(BizStep.DISPENSING, to_location=False),
    Operation.RETURN: Mapping(BizStep.RETURNING, to_location=True),
}
"""Every operation but ``stock_count``, which records nothing until the count is confirmed."""

EXCEPTION_CODES = frozenset(
    {
        "movement.not_in_stock",
        "movement.expired",
        "movement.on_hold",
        "movement.recalled",
        "movement.destroyed",
        "movement.dispensed",
        "movement.serial_elsewhere",
        "custody.refused",
        "stock.insufficient",
        "stock.conflict",
    }
)
"""Refusals that depend on the state of stock when the scan arrives, not on the scan itself.

An offline handheld syncs late: the unit may have moved or been held meanwhile, or the
receipt it depends on is still in another device's queue. Such a scan is kept as an open
exception for review (and may be re-submitted once stock is fixed); a scan that is wrong in
itself (unknown DI, missing production identifier, wrong location purpose) is rejected."""

SCAN_NAMESPACE = uuid.UUID("0b5e3a52-8e0c-5c53-9a43-2f1d7c7a6a11")
"""uuid5 namespace of scan event ids (a fixed random value; never change it)."""


def event_id_for(device_id: uuid.UUID, scan_id: uuid.UUID) -> uuid.UUID:
    """The movement event id of a scan: the same device and scan id always give the same id,
    so a scan replayed (or sent twice at once) is a duplicate event down the stack."""
    return uuid.uuid5(SCAN_NAMESPACE, f"{device_id}/{scan_id}")


def is_exception(code: str) -> bool:
    """Whether a movement refusal with ``code`` queues the scan for review."""
    return code in EXCEPTION_CODES
