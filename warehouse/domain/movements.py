"""Movement events (GS1 EPCIS 2.0 + CBV 2.0) and the per-unit state machine they drive.

Every scan becomes an event; a unit's status, place and parties are a projection of its
events. This module holds the pure rules: which business steps exist (CBV names with the
Chinese word users say), which statuses a unit may be in before each step and what it becomes,
whether the step moves the goods, and the refusal codes. The service layer loads the current
state of each unit or lot and asks :func:`check_step` before it stores anything.

The table of steps (see docs/movements.md)::

    step              before                                 after               place
    receiving/arriving new, in_transit (to us)               pending_acceptance  to location
    inspecting/accepting pending_acceptance                  available*          stays
    storing           pending_acceptance, available, picked  unchanged           to location
    picking           available                              picked              stays
    staging_outbound  picked                                 picked              stays
    shipping          available, picked                      in_transit          leaves
    stocking          available, picked                      available           to department
    dispensing        available, picked                      dispensed           leaves
    returning         any in stock, blocked ones included    pending_acceptance  to location
    destroying        any in stock, blocked ones included    destroyed           leaves
    holding           any in stock                           by disposition      stays
    packing/unpacking any in stock, blocked ones included    unchanged           stays

    * inspecting with disposition non_conformant puts the unit on hold instead.

A unit is *blocked* when it is on hold, recalled, or past its expiry date on the event's
(Beijing) date; blocked units may only be returned, destroyed, held or packed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType


class Action(StrEnum):
    """EPCIS action: created or added, observed, or removed/decommissioned."""

    ADD = "ADD"
    OBSERVE = "OBSERVE"
    DELETE = "DELETE"


class EventType(StrEnum):
    """EPCIS event types used here."""

    OBJECT = "object"
    AGGREGATION = "aggregation"


class BizStep(StrEnum):
    """CBV 2.0 business steps this service records (``bizStep``, short names)."""

    RECEIVING = "receiving"
    ARRIVING = "arriving"
    INSPECTING = "inspecting"
    ACCEPTING = "accepting"
    STORING = "storing"
    PICKING = "picking"
    STAGING_OUTBOUND = "staging_outbound"
    SHIPPING = "shipping"
    STOCKING = "stocking"
    DISPENSING = "dispensing"
    RETURNING = "returning"
    DESTROYING = "destroying"
    HOLDING = "holding"
    PACKING = "packing"
    UNPACKING = "unpacking"

    @property
    def label_zh(self) -> str:
        """The Chinese word for the step, as GSP records and hospital staff say it."""
        return _STEP_LABELS[self]


_STEP_LABELS = {
    BizStep.RECEIVING: "收货",
    BizStep.ARRIVING: "到货",
    BizStep.INSPECTING: "验收",
    BizStep.ACCEPTING: "验收",
    BizStep.STORING: "上架",
    BizStep.PICKING: "拣货",
    BizStep.STAGING_OUTBOUND: "出库复核",
    BizStep.SHIPPING: "发货",
    BizStep.STOCKING: "科室领用",
    BizStep.DISPENSING: "使用",
    BizStep.RETURNING: "退货",
    BizStep.DESTROYING: "销毁",
    BizStep.HOLDING: "暂控",
    BizStep.PACKING: "装箱",
    BizStep.UNPACKING: "拆箱",
}


class Disposition(StrEnum):
    """CBV 2.0 dispositions used here."""

    ACTIVE = "active"
    IN_PROGRESS = "in_progress"
    IN_TRANSIT = "in_transit"
    SELLABLE_ACCESSIBLE = "sellable_accessible"
    NON_SELLABLE_OTHER = "non_sellable_other"
    CONFORMANT = "conformant"
    NON_CONFORMANT = "non_conformant"
    EXPIRED = "expired"
    DAMAGED = "damaged"
    RETURNED = "returned"
    RECALLED = "recalled"
    DISPENSED = "dispensed"
    DESTROYED = "destroyed"
    CONTAINER_CLOSED = "container_closed"
    CONTAINER_OPEN = "container_open"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _DISPOSITION_LABELS[self]


_DISPOSITION_LABELS = {
    Disposition.ACTIVE: "在用",
    Disposition.IN_PROGRESS: "处理中",
    Disposition.IN_TRANSIT: "在途",
    Disposition.SELLABLE_ACCESSIBLE: "合格可售",
    Disposition.NON_SELLABLE_OTHER: "暂停销售",
    Disposition.CONFORMANT: "验收合格",
    Disposition.NON_CONFORMANT: "验收不合格",
    Disposition.EXPIRED: "过期",
    Disposition.DAMAGED: "破损",
    Disposition.RETURNED: "退回",
    Disposition.RECALLED: "召回",
    Disposition.DISPENSED: "已使用",
    Disposition.DESTROYED: "已销毁",
    Disposition.CONTAINER_CLOSED: "已封箱",
    Disposition.CONTAINER_OPEN: "已开箱",
}


class UnitStatus(StrEnum):
    """Current status of a unit or a stock balance (``expired`` is derived, never stored)."""

    IN_TRANSIT = "in_transit"
    PENDING_ACCEPTANCE = "pending_acceptance"
    AVAILABLE = "available"
    PICKED = "picked"
    ON_HOLD = "on_hold"
    RECALLED = "recalled"
    DISPENSED = "dispensed"
    DESTROYED = "destroyed"
    EXPIRED = "expired"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _STATUS_LABELS[self]

    @property
    def in_stock(self) -> bool:
        """Whether a unit in this status is on hand at a location."""
        return self in IN_STOCK


_STATUS_LABELS = {
    UnitStatus.IN_TRANSIT: "在途",
    UnitStatus.PENDING_ACCEPTANCE: "待验收",
    UnitStatus.AVAILABLE: "合格可用",
    UnitStatus.PICKED: "已拣货",
    UnitStatus.ON_HOLD: "暂控",
    UnitStatus.RECALLED: "召回",
    UnitStatus.DISPENSED: "已使用",
    UnitStatus.DESTROYED: "已销毁",
    UnitStatus.EXPIRED: "过期",
}

S = UnitStatus
IN_STOCK = frozenset({S.PENDING_ACCEPTANCE, S.AVAILABLE, S.PICKED, S.ON_HOLD, S.RECALLED})
"""Statuses of goods on hand at a location: the ones the ``stock`` projection holds."""

STORED_STATUSES = frozenset(S) - {S.EXPIRED}


class Placement(StrEnum):
    """What a step does with the goods' place."""

    STAYS = "stays"
    """Same location."""

    TO_LOCATION = "to_location"
    """To the event's business location (``location_id``)."""

    LEAVES = "leaves"
    """Out of every location: shipped, used or destroyed."""


@dataclass(frozen=True, slots=True)
class Transition:
    """What one business step requires and does."""

    step: BizStep
    before: frozenset[UnitStatus]
    """Statuses a unit may be in before the step."""

    after: UnitStatus | None
    """Status after the step; None keeps the current one."""

    placement: Placement
    creates: bool = False
    """The step may bring a unit or lot the service has never seen into stock."""

    custody: bool = False
    """The acting organisation must pass the custody rule engine for the warehouse."""

    allows_blocked: bool = False
    """The step may act on units that are expired, on hold or recalled."""

    takes_possession: bool = False
    """Owner and possessor become the event's (receiving)."""


_ANY_STOCK = IN_STOCK
TRANSITIONS: Mapping[BizStep, Transition] = MappingProxyType(
    {
        t.step: t
        for t in (
            Transition(
                BizStep.RECEIVING,
                frozenset({S.IN_TRANSIT}),
                S.PENDING_ACCEPTANCE,
                Placement.TO_LOCATION,
                creates=True,
                custody=True,
                allows_blocked=True,
                takes_possession=True,
            ),
            Transition(
                BizStep.ARRIVING,
                frozenset({S.IN_TRANSIT}),
                S.PENDING_ACCEPTANCE,
                Placement.TO_LOCATION,
                creates=True,
                custody=True,
                allows_blocked=True,
                takes_possession=True,
            ),
            Transition(
                BizStep.INSPECTING,
                frozenset({S.PENDING_ACCEPTANCE}),
                S.AVAILABLE,
                Placement.STAYS,
                allows_blocked=True,
            ),
            Transition(
                BizStep.ACCEPTING,
                frozenset({S.PENDING_ACCEPTANCE}),
                S.AVAILABLE,
                Placement.STAYS,
                allows_blocked=True,
            ),
            Transition(
                BizStep.STORING,
                frozenset({S.PENDING_ACCEPTANCE, S.AVAILABLE, S.PICKED, S.ON_HOLD, S.RECALLED}),
                None,
                Placement.TO_LOCATION,
                custody=True,
                allows_blocked=True,
            ),
            Transition(BizStep.PICKING, frozenset({S.AVAILABLE}), S.PICKED, Placement.STAYS),
            Transition(BizStep.STAGING_OUTBOUND, frozenset({S.PICKED}), S.PICKED, Placement.STAYS),
            Transition(
                BizStep.SHIPPING,
                frozenset({S.AVAILABLE, S.PICKED}),
                S.IN_TRANSIT,
                Placement.LEAVES,
            ),
            Transition(
                BizStep.STOCKING,
                frozenset({S.AVAILABLE, S.PICKED}),
                S.AVAILABLE,
                Placement.TO_LOCATION,
            ),
            Transition(
                BizStep.DISPENSING,
                frozenset({S.AVAILABLE, S.PICKED}),
                S.DISPENSED,
                Placement.LEAVES,
            ),
            Transition(
                BizStep.RETURNING,
                _ANY_STOCK,
                S.PENDING_ACCEPTANCE,
                Placement.TO_LOCATION,
                allows_blocked=True,
            ),
            Transition(
                BizStep.DESTROYING,
                _ANY_STOCK,
                S.DESTROYED,
                Placement.LEAVES,
                allows_blocked=True,
            ),
            Transition(BizStep.HOLDING, _ANY_STOCK, None, Placement.STAYS, allows_blocked=True),
            Transition(BizStep.PACKING, _ANY_STOCK, None, Placement.STAYS, allows_blocked=True),
            Transition(BizStep.UNPACKING, _ANY_STOCK, None, Placement.STAYS, allows_blocked=True),
        )
    }
)
"""The state machine: one transition per business step."""

DEFAULT_DISPOSITION: Mapping[BizStep, Disposition] = MappingProxyType(
    {
        BizStep.RECEIVING: Disposition.IN_PROGRESS,
        BizStep.ARRIVING: Disposition.IN_PROGRESS,
        BizStep.INSPECTING: Disposition.CONFORMANT,
        BizStep.ACCEPTING: Disposition.CONFORMANT,
        BizStep.STORING: Disposition.SELLABLE_ACCESSIBLE,
        BizStep.PICKING: Disposition.IN_PROGRESS,
        BizStep.STAGING_OUTBOUND: Disposition.IN_PROGRESS,
        BizStep.SHIPPING: Disposition.IN_TRANSIT,
        BizStep.STOCKING: Disposition.SELLABLE_ACCESSIBLE,
        BizStep.DISPENSING: Disposition.DISPENSED,
        BizStep.RETURNING: Disposition.RETURNED,
        BizStep.DESTROYING: Disposition.DESTROYED,
        BizStep.HOLDING: Disposition.NON_SELLABLE_OTHER,
        BizStep.PACKING: Disposition.CONTAINER_CLOSED,
        BizStep.UNPACKING: Disposition.CONTAINER_OPEN,
    }
)
"""Disposition recorded when an event names none."""

HOLDING_OUTCOMES: Mapping[Disposition, UnitStatus] = MappingProxyType(
    {
        Disposition.NON_SELLABLE_OTHER: S.ON_HOLD,
        Disposition.DAMAGED: S.ON_HOLD,
        Disposition.EXPIRED: S.ON_HOLD,
        Disposition.NON_CONFORMANT: S.ON_HOLD,
        Disposition.RECALLED: S.RECALLED,
        Disposition.SELLABLE_ACCESSIBLE: S.AVAILABLE,
        Disposition.CONFORMANT: S.AVAILABLE,
    }
)
"""``holding``: the status each disposition sets; sellable ones release a hold."""

REFUSAL_CODES: Mapping[str, str] = MappingProxyType(
    {
        "movement.not_in_stock": "The unit or lot is not in the acting organisation's stock "
        "at that place, in a status the step accepts.",
        "movement.expired": "The unit is past its expiry date; it may only be returned, held "
        "or destroyed.",
        "movement.on_hold": "The unit is on hold; release it (holding, sellable) first.",
        "movement.recalled": "The unit's lot is recalled; it may only be returned or destroyed.",
        "movement.destroyed": "The unit was destroyed; nothing may happen to it any more.",
        "movement.dispensed": "The unit was used on a patient; only a return may bring it back.",
        "movement.serial_elsewhere": "The serial is already in another organisation's stock or "
        "in transit to someone else.",
        "movement.pi_mismatch": "The item lacks a production identifier its DI's label carries "
        "(lot, serial, expiry or production date).",
        "movement.quantity": "Quantities are positive, and a serialised unit counts as one.",
        "movement.disposition": "The disposition does not fit the business step.",
        "movement.patient_required": "Implantable devices are used on a named (pseudonymous) "
        "patient and encounter.",
        "movement.location": "The step needs a business location of the right purpose.",
        "movement.unknown_device": "The DI is not in the device catalogue.",
        "movement.container": "The SSCC is unknown, invalid, or not where the step needs it.",
        "custody.refused": "The custody rules refuse the acting organisation this warehouse "
        "for these goods and owner; errors[] lists each rule's reason.",
        "stock.insufficient": "Someone else took the stock first, or less is left than asked.",
        "stock.conflict": "The unit changed while the event was being recorded (double pick).",
        "event.id_reused": "The event_id was already used for an event with other content.",
        "event.unknown_reference": "The event referred to (corrects or declares) is unknown.",
    }
)
"""Every refusal code the movement rules and service use, with what it means."""

CONFLICT_CODES = frozenset({"stock.insufficient", "stock.conflict"})
"""Refusals that are a race with another writer (HTTP 409) rather than invalid input (422)."""


@dataclass(frozen=True, slots=True)
class NewItem:
    """One item of an event: a serialised unit, a lot quantity, or a container (SSCC).

    Defined here, not in the movement service, so pure mappings (EPCIS) build items too."""

    di: str | None = None
    serial: str | None = None
    lot: str | None = None
    quantity: int = 1
    expiry: date | None = None
    production_date: date | None = None
    sscc: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a step is refused for one item: a stable code and an "Expected X, got Y." message."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class UnitState:
    """What the rules read about a unit (or the lot balance an item draws from)."""

    status: UnitStatus
    expiry: date | None = None
    possessor_id: str | None = None
    location_id: str | None = None
    shipment_destination_id: str | None = None
    """For units in transit: the party the shipment goes to."""


def is_expired(expiry: date | None, on: date) -> bool:
    """Return whether goods with ``expiry`` (last usable day) are expired on ``on``."""
    return expiry is not None and expiry < on


def blocked_reason(state: UnitState, on: date) -> Refusal | None:
    """Return why goods in ``state`` may not be picked, shipped or used on ``on``, if so."""
    if state.status is S.RECALLED:
        return Refusal("movement.recalled", "Expected goods not recalled, got a recalled lot.")
    if state.status is S.ON_HOLD:
        return Refusal("movement.on_hold", "Expected goods not on hold, got goods on hold.")
    if is_expired(state.expiry, on):
        assert state.expiry is not None
        return Refusal(
            "movement.expired",
            f"Expected goods usable on {on.isoformat()}, got expiry {state.expiry.isoformat()}.",
        )
    return None


def check_step(
    step: BizStep,
    state: UnitState | None,
    *,
    actor_id: str,
    on: date,
    read_point_id: str | None = None,
    disposition: Disposition | None = None,
) -> Refusal | None:
    """Return why ``step`` may not act on goods in ``state`` (None: not yet known here).

    Args:
        step: The business step of the event.
        state: The unit's current state, or None for a serial never seen.
        actor_id: The acting organisation, which must possess goods it moves.
        on: The event's date in China (expiry is judged on it).
        read_point_id: Where the goods were scanned; when given, the goods must be there.
        disposition: The event's disposition (decides what ``holding`` does).
    """
    transition = TRANSITIONS[step]
    if state is None:
        if transition.creates:
            return None
        return Refusal(
            "movement.not_in_stock", "Expected goods in stock, got a unit never received."
        )
    if transition.creates:
        return _receivable(state, actor_id)
    if state.status is S.DESTROYED:
        return Refusal("movement.destroyed", "Expected a unit not destroyed, got a destroyed one.")
    if state.status is S.DISPENSED and step is not BizStep.RETURNING:
        return Refusal("movement.dispensed", "Expected a unit not used, got one used on a patient.")
    if state.status is S.DISPENSED or state.status not in IN_STOCK:
        return Refusal(
            "movement.not_in_stock",
            f"Expected goods in stock for {step}, got status {state.status}.",
        )
    if state.possessor_id != actor_id:
        return Refusal(
            "movement.not_in_stock",
            "Expected goods in the acting organisation's possession, got another's.",
        )
    if read_point_id is not None and state.location_id != read_point_id:
        return Refusal(
            "movement.not_in_stock",
            f"Expected the goods at location {read_point_id}, got location {state.location_id}.",
        )
    if not transition.allows_blocked:
        blocked = blocked_reason(state, on)
        if blocked is not None:
            return blocked
    if disposition is not None and releases(step, disposition) and state.status is S.RECALLED:
        return Refusal(
            "movement.recalled", "Expected goods on hold to release, got a recalled lot."
        )
    if state.status not in transition.before:
        if step is BizStep.PICKING and state.status is S.PICKED:
            return Refusal("stock.conflict", "Expected an available unit, got one already picked.")
        return Refusal(
            "movement.not_in_stock",
            f"Expected status {_listed(transition.before)} for {step}, got {state.status}.",
        )
    return None


def _receivable(state: UnitState, actor_id: str) -> Refusal | None:
    if state.status is S.IN_TRANSIT and state.shipment_destination_id in (None, actor_id):
        return None
    if state.status is S.DESTROYED:
        return Refusal("movement.destroyed", "Expected a unit not destroyed, got a destroyed one.")
    where = "in transit to another party" if state.status is S.IN_TRANSIT else "in stock"
    return Refusal(
        "movement.serial_elsewhere",
        f"Expected a serial not held by anyone, got one {where} ({state.status}).",
    )


def status_after(
    step: BizStep, disposition: Disposition, current: UnitStatus | None
) -> UnitStatus | None:
    """Return the status goods take after ``step`` with ``disposition``.

    Returns None for dispositions that do not fit the step (a ``movement.disposition``
    refusal).
    """
    if step is BizStep.HOLDING:
        return HOLDING_OUTCOMES.get(disposition)
    if step in (BizStep.INSPECTING, BizStep.ACCEPTING) and disposition in (
        Disposition.NON_CONFORMANT,
        Disposition.DAMAGED,
    ):
        return S.ON_HOLD
    transition = TRANSITIONS[step]
    return transition.after or current


def releases(step: BizStep, disposition: Disposition) -> bool:
    """Whether the step lifts a hold (a recall is lifted only by return or destruction)."""
    return step is BizStep.HOLDING and HOLDING_OUTCOMES.get(disposition) is S.AVAILABLE


def _listed(values: frozenset[UnitStatus]) -> str:
    return " or ".join(sorted(v.value for v in values))
