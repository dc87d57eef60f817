"""Recalls (医疗器械召回): what is recalled, how urgent, and how progress is counted.

A recall names one DI and the lots and/or single serials recalled. Ordering it computes the
*blast radius* — where every matched unit or lot quantity is now — and puts everything still in
stock on recall hold (status ``recalled``; see :mod:`warehouse.domain.movements`: recalled goods
may only be returned, destroyed, stored into a non-pickable location or packed). Progress per
holder is counted from what is still on hold, so it cannot drift from the stock projection.

The classes follow 医疗器械召回管理办法 (2017) art. 13 and 16: class I (一级, serious harm
possible) must be notified to the holders within 1 day, class II within 3 days, class III
within 7 days.

>>> scope = RecallScope.parse("06931234100041", ["L1", "L1"], [])
>>> scope.lots, scope.by_lot
(('L1',), True)
>>> RecallClass.I.notify_within_days, RecallClass.I.label_zh
(1, '一级召回')
>>> progress(held=10, outstanding=4, returned=5, destroyed=1).accounted_for
6
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_LOTS = 100
MAX_SERIALS = 10_000
_MAX_TEXT = 100


class RecallClass(StrEnum):
    """召回级别: how serious the risk is, which sets the notification deadline."""

    I = "I"  # noqa: E741 - the regulation's own name
    II = "II"
    III = "III"

    @property
    def label_zh(self) -> str:
        """The regulation's name for the class."""
        return {"I": "一级召回", "II": "二级召回", "III": "三级召回"}[self.value]

    @property
    def notify_within_days(self) -> int:
        """Days within which the registrant must notify every holder (art. 16)."""
        return {"I": 1, "II": 3, "III": 7}[self.value]


class Category(StrEnum):
    """Where a matched unit or quantity is when the recall is ordered."""

    IN_STOCK = "in_stock"
    """On hand at a location (put on recall hold by the recall)."""

    IN_TRANSIT = "in_transit"
    """On a shipment not yet received: held when received, by a new sweep."""

    IN_CONTAINER = "in_container"
    """In stock and packed in a container (an SSCC): a subset of ``in_stock``."""

    DISPENSED = "dispensed"
    """Used on a patient, per hospital."""

    DESTROYED = "destroyed"
    RETURNED = "returned"
    """Returned (退货) before the recall, per organisation that recorded the return."""


@dataclass(frozen=True, slots=True)
class ScopeError:
    """One invalid part of a recall request: the field, a stable code and a message."""

    field: str
    code: str
    message: str


class InvalidScope(ValueError):
    """The recall request names nothing, or names malformed lots or serials."""

    def __init__(self, errors: list[ScopeError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = tuple(errors)


@dataclass(frozen=True, slots=True)
class RecallScope:
    """What is recalled: one DI, whole lots and/or single serials (deduplicated, sorted)."""

    di: str
    lots: tuple[str, ...]
    serials: tuple[str, ...]

    @property
    def by_lot(self) -> bool:
        """Whether whole lots are recalled (else only the serials)."""
        return bool(self.lots)

    @classmethod
    def parse(cls, di: str, lots: list[str], serials: list[str]) -> RecallScope:
        """Return the scope, or raise :class:`InvalidScope` listing every problem."""
        errors = []
        if not _is_text(di):
            message = f"Expected a DI of 1 to 100 characters without NUL, got {di!r}."
            errors.append(ScopeError("di", "recall.scope", message))
        if not lots and not serials:
            errors.append(
                ScopeError("lots", "recall.scope", "Expected lots and/or serials, got neither.")
            )
        for name, values, limit in (("lots", lots, MAX_LOTS), ("serials", serials, MAX_SERIALS)):
            if len(values) > limit:
                message = f"Expected at most {limit} {name}, got {len(values)}."
                errors.append(ScopeError(name, "recall.scope", message))
            bad = [v for v in values if not _is_text(v) or v != v.strip()]
            if bad:
                message = f"Expected {name} of 1 to 100 characters without NUL, got {bad[0]!r}."
                errors.append(ScopeError(name, "recall.scope", message))
        if errors:
            raise InvalidScope(errors)
        return cls(di, tuple(sorted(set(lots))), tuple(sorted(set(serials))))


def _is_text(value: str) -> bool:
    """1 to 100 characters, none of them NUL (which PostgreSQL text cannot hold)."""
    return 0 < len(value) <= _MAX_TEXT and "\x00" not in value


@dataclass(frozen=True, slots=True)
class Progress:
    """How far one holder is with a recall."""

    held: int
    """Put on recall hold at this holder (by every sweep)."""

    returned: int
    """Returned (退货) by the holder since the recall was ordered."""

    destroyed: int
    """Destroyed by the holder since the recall was ordered."""

    accounted_for: int
    """No longer on recall hold: returned or destroyed (each unit once)."""

    outstanding: int
    """Still on recall hold at the holder."""

    @property
    def done(self) -> bool:
        """Whether nothing is left on hold at the holder."""
        return self.outstanding == 0


def progress(*, held: int, outstanding: int, returned: int, destroyed: int) -> Progress:
    """Progress of one holder from what was held and what is still on hold.

    ``accounted_for`` is counted from the hold, not by adding returns and destructions: goods
    returned and later destroyed would otherwise count twice. Only a return or a destruction
    lifts a recall hold, so ``held - outstanding`` is exactly what was dealt with.
    """
    return Progress(
        held=held,
        returned=returned,
        destroyed=destroyed,
        accounted_for=max(held - outstanding, 0),
        outstanding=outstanding,
    )
