"""Pure domain rules: organisations, licences, ownership, warehouses, catalogue and custody.

Only the standard library, :mod:`udi` and :mod:`warehouse.errors` may be imported here (an
import-linter contract forbids web and database frameworks).

Validity periods are the same everywhere in this package: a record with ``valid_from`` and
``valid_to`` is valid on every date ``d`` with ``valid_from <= d <= valid_to``, both ends
**inclusive**; ``valid_to=None`` means open-ended. A link that "ended yesterday" therefore has
``valid_to`` equal to yesterday and is no longer valid today. The two helpers below are the one
place that encodes the convention.
"""

from __future__ import annotations

from datetime import date

from warehouse.errors import InvalidRecordError


def period_contains(valid_from: date, valid_to: date | None, on: date) -> bool:
    """Return whether ``on`` lies in the inclusive period ``[valid_from, valid_to]``."""
    return valid_from <= on and (valid_to is None or on <= valid_to)


def periods_overlap(
    first_from: date, first_to: date | None, second_from: date, second_to: date | None
) -> bool:
    """Return whether two inclusive, possibly open-ended periods share at least one date."""
    starts_before_second_ends = second_to is None or first_from <= second_to
    second_starts_before_first_ends = first_to is None or second_from <= first_to
    return starts_before_second_ends and second_starts_before_first_ends


def check_period(record: str, valid_from: date, valid_to: date | None) -> None:
    """Raise :class:`~warehouse.errors.InvalidRecordError` if the period ends before it starts."""
    if valid_to is not None and valid_to < valid_from:
        raise InvalidRecordError(
            record,
            "valid_to",
            f"Expected a date on or after valid_from {valid_from.isoformat()}, "
            f"got {valid_to.isoformat()}.",
        )
