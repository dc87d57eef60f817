"""Cursor pagination by keyset on UUIDv7 ids, which are time-ordered.

A cursor is the last id of a page, base64url-encoded so clients treat it as opaque. Rows
inserted after a page was read sort after it, so walking the cursors never repeats or skips a
row that existed when the walk started.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import Session

from warehouse.services.errors import FieldError, ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page of a list to read."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next (None on the last page)."""

    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(last_id: uuid.UUID) -> str:
    """Return the opaque cursor that continues after ``last_id``."""
    return base64.urlsafe_b64encode(last_id.bytes).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    """Return the id a cursor continues after.

    Raises:
        ValidationFailed: If the cursor was not made by :func:`encode_cursor`.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, binascii.Error):
        raise ValidationFailed(
            "list",
            [
                FieldError(
                    "cursor", "page.cursor", "Expected a cursor from next_cursor, got another."
                )
            ],
        ) from None


def paginate(
    session: Session,
    query: Select[Any],
    id_column: ColumnElement[uuid.UUID],
    page: PageRequest,
    build: Callable[[Sequence[Any]], Sequence[T]],
) -> Page[T]:
    """Run ``query`` for one page, ordered by ``id_column``, and build its items in one go.

    ``build`` receives every row of the page at once, so that it can load related records
    with one query per kind instead of one per row.
    """
    if page.cursor is not None:
        query = query.where(id_column > decode_cursor(page.cursor))
    limit = max(1, min(page.limit, MAX_LIMIT))
    rows = session.execute(query.order_by(id_column).limit(limit + 1)).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1][id_column.key]) if more else None
    return Page(build(rows), next_cursor)
