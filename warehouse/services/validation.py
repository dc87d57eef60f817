"""Collect every invalid field of a request before refusing it, not just the first."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from warehouse.errors import InvalidCodeError, InvalidRecordError
from warehouse.services.errors import FieldError, ValidationFailed

T = TypeVar("T")


class Checker:
    """Parse fields one by one, remembering each failure with its field name."""

    def __init__(self, record: str) -> None:
        self.record = record
        self.errors: list[FieldError] = []

    def parse(self, field: str, parser: Callable[[str], T], value: str) -> T | None:
        """Return ``parser(value)``, or None after recording its error against ``field``."""
        try:
            return parser(value)
        except InvalidCodeError as error:
            self.errors.append(FieldError(field, error.code, error.detail))
            return None

    def fail(self, field: str, code: str, message: str) -> None:
        """Record a failure found by the caller."""
        self.errors.append(FieldError(field, code, message))

    def done(self) -> None:
        """Raise :class:`ValidationFailed` with every recorded failure, if any."""
        if self.errors:
            raise ValidationFailed(self.record, self.errors)


def build(record: str, factory: Callable[[], T], prefix: str = "") -> T:
    """Return ``factory()``, turning a domain invariant failure into a field error.

    Raises:
        ValidationFailed: Naming the field the domain record refused.
    """
    try:
        return factory()
    except InvalidRecordError as error:
        raise ValidationFailed(
            record, [FieldError(prefix + error.field, error.code, error.detail)]
        ) from None
